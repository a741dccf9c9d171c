"""Search by personal data is no oracle (issue 11, item 3): only users who may reveal search, only among
the residents of the cells where they may, with a stated purpose, every search logged (access log and
security audit, never the value searched) and counted per user; and what a non-revealing user is shown
beside a masked ID number never narrows it below what the mask alone leaves open."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse

from gridgov.accounts import services as accounts_services
from gridgov.accounts.tests.factories import api_client_for, make_revealing_role, make_staff
from gridgov.core.models import AuditEntry
from gridgov.people.export_jobs import export_job_create
from gridgov.people.serializers.records import AGE_BANDS, age_band
from gridgov.people.tests.factories import id_number, make_household, make_resident
from gridgov.privacy.identifiers import id_number_check_digit
from gridgov.privacy.models import AccessLog

READ = ["people.view_resident", "people.view_household"]
PURPOSE = "核实来电群众身份"
SEARCH = "/api/people/residents/search/"


@pytest.fixture
def residents(scheme, tree):
    """王建国 born 1950 in g1 (with a phone), 赵小红 in g2."""
    number = id_number(birth=dt.date(1950, 3, 4))
    household, (head,) = make_household(scheme, tree["g1"], head_name="王建国")
    from gridgov.people import services

    services.resident_update(resident=head, id_number=number, phone="13912345678")
    other_number = id_number(birth=dt.date(1991, 7, 8))
    other = make_resident(scheme, tree["g2"], name="赵小红", id_number=other_number, phone="13698765432")
    return {"head": head, "number": number, "household": household, "other": other, "other_number": other_number}


# ------------------------------------------------------------------------------------ the candidates
def birth_candidates(masked: str, *, gender: str | None = None, birth_year: int | None = None,
                     band: str | None = None, today: dt.date | None = None) -> set[dt.date]:
    """Every birth date that, with the region and last four the mask shows, makes a valid ID number and
    agrees with the other fields shown (the gender, a birth year, an age band)."""
    today = today or dt.date.today()
    region, tail = masked[:6], masked[-4:]
    assert re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", masked)
    found, day = set(), dt.date(1880, 1, 1)
    while day <= today:
        first17 = f"{region}{day:%Y%m%d}{tail[:3]}"
        if (id_number_check_digit(first17) == tail[3]
                and (gender is None or ("M" if int(tail[2]) % 2 else "F") == gender)
                and (birth_year is None or day.year == birth_year)
                and (band is None or band == "" or age_band(day, today) == band)):
            found.add(day)
        day += dt.timedelta(days=1)
    return found


def test_what_a_non_revealing_user_is_shown_leaves_every_birth_date_the_mask_leaves(scheme, tree, residents):
    # given a worker of the community who may not reveal
    user = make_staff(tree["community"], perms=READ)
    client = api_client_for(user)
    head = residents["head"]
    # when they read the resident everywhere it is listed: the API detail and list, the household's members,
    # the list page and a masked export
    detail = client.get(f"/api/people/residents/{head.pk}/").json()
    listed = next(r for r in client.get("/api/people/residents/").json()["results"] if r["id"] == head.pk)
    member = client.get(f"/api/people/households/{residents['household'].pk}/").json()["members"][0]
    job = export_job_create(user=user, scheme=scheme, record_type="residents", filters={}, fmt="csv")
    from gridgov.core.files import private_open

    table = list(csv.reader(io.StringIO(private_open(job.result_path).read_text(encoding="utf-8-sig"))))
    year_column = next(i for i, h in enumerate(table[0]) if "birth year" in h.lower())
    exported = next(r for r in table[1:] if int(r[0]) == head.pk)
    # then everything shown together leaves exactly the birth dates the mask alone leaves
    masked = detail["id_number"]
    assert masked == listed["id_number"] == member["id_number"] == residents["number"][:6] + "*" * 8 + \
        residents["number"][-4:]
    mask_alone = birth_candidates(masked)
    shown = birth_candidates(masked, gender=detail["gender"], birth_year=detail["birth_year"], band=detail["age_band"])
    shown &= birth_candidates(masked, gender=listed["gender"], birth_year=listed["birth_year"],
                              band=listed["age_band"])
    shown &= birth_candidates(masked, birth_year=member["birth_year"])
    shown &= birth_candidates(masked, birth_year=int(exported[year_column]) if exported[year_column] else None)
    assert dt.date(1950, 3, 4) in shown
    assert len(shown) == len(mask_alone) > 1000
    assert {band for band in (detail["age_band"], listed["age_band"])} == {""} and AGE_BANDS


def test_a_user_who_may_not_reveal_cannot_search_by_personal_data(tree, residents):
    # given a worker of the community who may not reveal, knowing the mask and trying the candidates
    client = api_client_for(make_staff(tree["community"], perms=READ))
    url = reverse("people:residents", args=[tree["community"].pk])
    # when they search by ID number, phone or name through the API, and by number on the list page
    answers = [client.post(SEARCH, {"id_number": residents["number"], "purpose": PURPOSE}, format="json"),
               client.post(SEARCH, {"phone": "13912345678", "purpose": PURPOSE}, format="json"),
               client.post(SEARCH, {"name": "王建国", "purpose": PURPOSE}, format="json")]
    page_client = __import__("django.test", fromlist=["Client"]).Client()
    page_client.force_login(make_staff(tree["community"], perms=READ))
    page = page_client.post(url, {"by": "id_number", "value": residents["number"], "purpose": PURPOSE})
    listing = page_client.get(url).content.decode()
    # then each is refused, nothing is answered about the number, and the page offers no search
    assert [a.status_code for a in answers] == [403, 403, 403] and page.status_code == 403
    assert all(b'"results"' not in a.content for a in answers)
    assert 'name="value"' not in listing and "needs a role that may reveal" in listing


def test_a_search_is_logged_with_its_purpose_and_never_the_value(scheme, tree, residents):
    # given a worker who may reveal in the community
    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ)
    # when they search by ID number
    response = api_client_for(user).post(SEARCH, {"id_number": residents["number"], "purpose": PURPOSE}, format="json")
    # then they find the resident, masked
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [residents["head"].pk]
    assert residents["number"] not in response.content.decode()
    # and the access log and the security audit hold one row each: by what, why, what was found, from where
    log = AccessLog.objects.get(user=user)
    assert (log.kind, log.fields, log.purpose, log.rows, log.record_id, log.remote_addr) == (
        "SEARCH", "id_number", PURPOSE, 1, residents["head"].pk, "127.0.0.1")
    assert log.detail["found"] == [residents["head"].pk]
    audit = AuditEntry.objects.get(action="people.search")
    assert audit.actor == user and audit.address == "127.0.0.1" and audit.changes["purpose"] == PURPOSE
    stored = json.dumps([log.detail, log.purpose, log.fields, audit.changes, audit.summary], ensure_ascii=False)
    assert residents["number"] not in stored and residents["number"][6:14] not in stored
    assert residents["head"].id_digest not in stored and residents["head"].id_digest[:16] not in stored


def test_a_search_without_a_purpose_is_refused_and_not_counted_as_done(scheme, tree, residents):
    user = make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ)
    response = api_client_for(user).post(SEARCH, {"phone": "13912345678"}, format="json")
    assert response.status_code == 400 and "purpose" in response.json()
    assert not AccessLog.objects.exists() and not AuditEntry.objects.filter(action="people.search").exists()


def test_a_search_finds_only_residents_of_the_cells_where_the_user_may_reveal(scheme, tree, residents):
    # given a worker who sees the whole community but may reveal only in g2
    user = make_staff(tree["community"], perms=READ)
    accounts_services.assignment_create(person=user.person, node=tree["g2"], role=make_revealing_role(scheme))
    client = api_client_for(user)
    # when they search for the g1 resident and for the g2 one
    in_g1 = client.post(SEARCH, {"id_number": residents["number"], "purpose": PURPOSE}, format="json").json()
    in_g2 = client.post(SEARCH, {"id_number": residents["other_number"], "purpose": PURPOSE}, format="json").json()
    # then the g1 resident is never matched, the g2 one is
    assert in_g1["count"] == 0 and in_g1["results"] == []
    assert [r["id"] for r in in_g2["results"]] == [residents["other"].pk]


def test_searches_are_throttled_per_user(scheme, tree, residents, settings):
    # given a rate of three searches an hour
    settings.PEOPLE_SEARCH_RATE = "3/h"
    role = make_revealing_role(scheme)
    user, other = (make_staff(tree["community"], role=role, perms=READ) for _ in range(2))
    client = api_client_for(user)
    body = {"id_number": residents["number"], "purpose": PURPOSE}
    # when the user searches four times, and another user once
    codes = [client.post(SEARCH, body, format="json").status_code for _ in range(4)]
    others = api_client_for(other).post(SEARCH, body, format="json")
    # then the fourth is refused with 429 and a wait, audited; the other user is not held up
    assert codes == [200, 200, 200, 429]
    assert others.status_code == 200
    assert AccessLog.objects.filter(user=user, kind="SEARCH").count() == 3
    assert AuditEntry.objects.filter(action="people.search_throttled", actor=user).count() == 1
    refused = client.post(SEARCH, body, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_the_list_page_search_needs_a_purpose_and_is_throttled(scheme, tree, residents, settings):
    from django.test import Client

    settings.PEOPLE_SEARCH_RATE = "1/m"
    client = Client()
    client.force_login(make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ))
    url = reverse("people:residents", args=[tree["community"].pk])
    without = client.post(url, {"by": "phone", "value": "13912345678"})
    assert without.status_code == 400 and "state why you need" in without.content.decode()
    found = client.post(url, {"by": "phone", "value": "13912345678", "purpose": PURPOSE})
    assert found.status_code == 200
    assert reverse("people:resident", args=[residents["head"].pk]) in found.content.decode().split("All residents")[0]
    again = client.post(url, {"by": "phone", "value": "13912345678", "purpose": PURPOSE})
    assert again.status_code == 429 and "too many searches" in again.content.decode()
    assert "13912345678" not in again.content.decode()


def test_the_past_state_of_a_resident_shows_the_birth_date_only_to_who_may_reveal(scheme, tree, residents):
    from django.test import Client

    # given a resident with history, viewed as of today by a worker who may not reveal and by one who may
    head = residents["head"]
    url = reverse("people:resident", args=[head.pk]) + "?as_of=" + dt.date.today().isoformat()
    pages = []
    for user in (make_staff(tree["community"], perms=READ),
                 make_staff(tree["community"], role=make_revealing_role(scheme), perms=READ)):
        client = Client()
        client.force_login(user)
        pages.append(client.get(url).content.decode().split('class="as-of"')[1].split("</div>")[0])
    # then the birth date (the eight digits the ID mask hides) is in the second page only
    assert "1950" not in pages[0] and "birth date" not in pages[0]
    assert "1950-03-04" in pages[1] or "March 4, 1950" in pages[1]
