"""What people read, in a real browser (issue 12, item 11): the main pages in both languages show no raw field
key (`snake_case_words`, `field *`), no Python repr (`{'`, `[{`, `<QuerySet`, `None`) and, on a Chinese page, no
run of English words that is not a proper name or a code of the short allow-list below.

Staff pages (the base-data pages among them: a resident, the imports, a checked import's mapping and summary)
are walked by a district-wide superuser, the phone pages by the grid worker, the public pages
without a login. Each page's visible text (`innerText`, so hidden templates and script data do not count) is
checked; a failure names the page and the offending text."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.people import import_jobs, imports
from gridgov.people.models import DataJob, Resident
from gridgov.people.tests.factories import id_number, make_resident
from gridgov.territory.tests.factories import make_scheme, make_tree
from tests.e2e.pages import enrolled_device, log_in, second_factor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT_PASSWORD = "Root-pass-2026!"
WATER = {"kind": "DEPARTMENT", "department": "water"}

RAW_KEY = re.compile(r"(?<![\w./@-])[a-z]+(?:_[a-z0-9]+)+(?![\w./@-])|(?<![^\n])[a-z_]+ \*")
# "None" as a value (a cell, a line of its own), not the English word beginning "None right now."
REPR = re.compile(r"\{'|\[\{|<QuerySet|\bNone\b(?! [a-z])")
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]+(?:[ ,/]+[A-Za-z][A-Za-z'’-]+)+")
# proper names and codes that are the same in both languages
ALLOWED_RUNS = {"Open311", "GeoReport v2", "OpenStreetMap", "Leaflet", "GeoJSON", "Excel", "CSV", "XLSX", "API",
                "English", "Django", "Swagger", "TOTP"}


def page_problems(text: str, *, chinese: bool, allowed: set[str]) -> list[str]:
    """What a person should not read on a page: raw keys, reprs and (on a Chinese page) English phrases."""
    problems = []
    for m in RAW_KEY.finditer(text):
        if m.group(0) not in allowed:
            problems.append(f"raw key {m.group(0)!r}")
    for m in REPR.finditer(text):
        problems.append(f"repr {text[max(0, m.start() - 20):m.end() + 20]!r}")
    if chinese:
        for m in ENGLISH_RUN.finditer(text):
            run = m.group(0)
            if run not in ALLOWED_RUNS and not any(word in allowed for word in re.split(r"[ ,/]+", run)):
                problems.append(f"English {run!r}")
    return problems


@pytest.fixture
def district(transactional_db):
    scheme = make_scheme("reading")
    tree = make_tree(scheme, origin=(117.10, 40.10))
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="01002", lon=lon, lat=lat,
                       description="水管爆了").case
    case = case_transition(case=case, actor=loop.office, action="register")
    case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    closed = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="01002", lon=lon,
                         lat=lat, description="又一处水管爆了").case
    for actor, action, extra in [(loop.office, "register", {}), (loop.office, "dispatch", {"assignee": WATER}),
                                 (loop.handler, "accept", {}), (loop.handler, "report_back", {}),
                                 (loop.office, "verify_pass", {})]:
        closed = case_transition(case=closed, actor=actor, action=action, **extra)
    root = get_user_model().objects.create_superuser("root", password=ROOT_PASSWORD)
    root.scheme, root.sees_everything = scheme, True
    root.save()
    # base data: a resident, and a checked import of residents (its mapping and its summary)
    make_resident(scheme, tree["g1"], name="王小明")
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "身份证号", "所属网格", "户号", "与户主关系", "备注"])
    workbook.active.append(["张三", id_number(), tree["g1"].name, "0001", "户主", ""])
    workbook.active.append(["李四", "123", tree["g1"].name, "0001", "妻", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = imports.import_job_create(scheme=scheme, owner=root, record_type="residents",
                                    uploaded_file=SimpleUploadedFile("people.xlsx", buffer.getvalue()))
    imports.import_job_map(job=job, mapping=job.mapping)
    with translation.override("zh-hans"):  # the task queue's language: the reasons are stored as written
        import_jobs.import_job_check(job=job)
    return loop


def admin_login(page, live_server) -> None:
    device = enrolled_device(get_user_model().objects.get(username="root"))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", ROOT_PASSWORD)
    page.click("main button[type=submit]")
    second_factor(page, device)
    page.wait_for_url(f"{live_server.url}/admin/")


def read(page, url: str) -> str:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate("document.body.innerText")


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_main_pages_read_as_text_for_people(live_server, district, new_page, locale):
    loop = district
    chinese = locale.startswith("zh")
    base = live_server.url
    cases = list(Case.objects.order_by("pk"))
    g1 = loop.tree["g1"]
    allowed = {"root", loop.worker.username}
    found: dict[str, list[str]] = {}

    def check(page, path: str) -> None:
        problems = page_problems(read(page, base + path), chinese=chinese, allowed=allowed)
        if problems:
            found[path] = sorted(set(problems))

    # given staff, a grid worker and a resident, each in their own browser, in the locale's language
    staff, _log = new_page(locale=locale, width=1440, height=1000)
    admin_login(staff, live_server)
    for path in ["/admin/", "/centre/", "/dashboard/", "/cases/", *[f"/cases/{c.number}/" for c in cases],
                 "/manage/", "/manage/imports/", "/manage/territory/", f"/manage/territory/{g1.pk}/",
                 "/manage/catalogue/", "/people/", f"/people/cells/{g1.pk}/", reverse("people:imports"),
                 reverse("people:import", args=[DataJob.objects.get().pk]),
                 reverse("people:resident", args=[Resident.objects.get().pk])]:
        check(staff, path)
    worker, _worker_log = new_page(locale=locale, width=360, height=740)
    log_in(worker, live_server, loop.worker, "/m/")
    for path in ["/m/", "/m/report/"]:
        check(worker, path)
    resident, _resident_log = new_page(locale=locale, width=360, height=740)
    for path in [reverse("territory:cell-card", args=[g1.scheme.key, g1.code]),
                 reverse("cases:report", args=[g1.scheme.key, g1.code]), reverse("cases:track-form"),
                 reverse("cases:track", args=[cases[0].tracking_code])]:
        check(resident, path)
    # then no page shows a raw key, a repr or an untranslated phrase
    assert found == {}, "\n".join(f"{path}: {problems}" for path, problems in found.items())


def test_the_cell_card_offers_reporting_before_the_contacts_on_a_phone(live_server, district, new_page):
    # given a phone
    page, log = new_page(locale="zh-CN", width=360, height=740, scale=2)
    g1 = district.tree["g1"]
    # when a resident opens the cell card
    page.goto(live_server.url + reverse("territory:cell-card", args=[g1.scheme.key, g1.code]))
    # then the report button is in the first screen, above the people in charge
    button = page.get_by_role("link", name="在这里反映问题")
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 740
    people = page.get_by_role("heading", name="负责人").bounding_box()
    assert box["y"] < people["y"]
    assert log.errors == []
