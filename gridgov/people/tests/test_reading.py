"""What people read on the base-data pages explains itself in both languages (issue 12, item 11): the import
mapping by field labels, the import summary by record names, a resident by their masked name, the rejected
rows with the row numbers their reasons name."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from gridgov.accounts.tests.factories import make_staff
from gridgov.people import import_jobs, imports
from gridgov.people.tests.factories import id_number, make_resident
from gridgov.privacy.masking import mask_name

# a raw field key as a person would read it: snake_case words, or a word with the required mark
RAW_KEY = re.compile(r"(?<![\w./@-])[a-z]+(?:_[a-z0-9]+)+(?![\w./@-])|(?<![^\n])[a-z_]+ \*")
KEYS = ("id_number", "name", "cell", "household", "resident", "residents")
LANGUAGES = {"zh-hans": "zh", "en": "en"}


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


class _Text(HTMLParser):
    """The text a person reads on a page (no markup, no script or style)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data.strip())


def text_of(response) -> str:
    parser = _Text()
    parser.feed(response.content.decode())
    return "\n".join(parser.parts)


def raw_keys(text: str) -> list[str]:
    words = set(re.findall(r"[A-Za-z_]+(?: \*)?", text))
    return sorted({m.group(0) for m in RAW_KEY.finditer(text)} | {w for w in words if w in KEYS})


def client_for(user, language: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def _workbook(rows: list[list], *, blank_rows: int = 0, headers=("姓名", "身份证号", "所属网格")) -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for _ in range(blank_rows):
        sheet.append([])
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("people.xlsx", buffer.getvalue())


@pytest.fixture
def importer(tree):
    return make_staff(tree["community"], perms=["people.add_resident"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_import_mapping_shows_field_labels_not_keys(scheme, tree, importer, language):
    # given an uploaded file of residents
    job = imports.import_job_create(scheme=scheme, owner=importer, record_type="residents",
                                    uploaded_file=_workbook([["张三", id_number(), "一网格"]]))
    # when its owner opens the mapping page
    page = client_for(importer, language).get(reverse("people:import", args=[job.pk]))
    # then every field reads by its label, the required ones marked, and the help names them by label
    assert page.status_code == 200
    text = text_of(page)
    assert raw_keys(text) == []
    if LANGUAGES[language] == "zh":
        assert "身份证号 *" in text and "姓名 *" in text and "户号" in text and "与户主关系" in text
        assert "必填：身份证号, 姓名。" in text
    else:
        assert "ID number *" in text and "Name *" in text and "Household number" in text
        assert "Required: ID number, Name." in text
    # and the form still posts the field's key
    assert b'<option value="id_number" selected>' in page.content


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refused_mapping_names_the_missing_fields_by_label(scheme, tree, importer, language):
    # given an uploaded file
    job = imports.import_job_create(scheme=scheme, owner=importer, record_type="residents",
                                    uploaded_file=_workbook([["张三", id_number(), "一网格"]]))
    # when its owner maps no column to the ID number
    page = client_for(importer, language).post(reverse("people:import", args=[job.pk]),
                                               {"field-0": "name", "field-1": "", "field-2": "cell"})
    # then the refusal names the missing field as the form does
    assert page.status_code == 400
    text = text_of(page)
    assert raw_keys(text) == []
    assert ("身份证号" if LANGUAGES[language] == "zh" else "ID number") in text.split("\n", 1)[1]


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_import_summary_names_the_new_records(scheme, tree, importer, language):
    # given a checked import of a head of household
    upload = _workbook([["张三", id_number(), "一网格", "0001", "户主"]],
                       headers=("姓名", "身份证号", "所属网格", "户号", "与户主关系"))
    job = imports.import_job_create(scheme=scheme, owner=importer, record_type="residents", uploaded_file=upload)
    imports.import_job_map(job=job, mapping=job.mapping)
    job = import_jobs.import_job_check(job=job)
    assert job.summary["created_by_type"] == {"household": 1, "resident": 1}
    # when its owner opens it, and the list of imports
    client = client_for(importer, language)
    text = text_of(client.get(reverse("people:import", args=[job.pk])))
    listed = text_of(client.get(reverse("people:imports")))
    # then the new records read by the names of their kinds
    assert raw_keys(text) == [] and raw_keys(listed) == []
    if LANGUAGES[language] == "zh":
        assert "新增记录：户" in text and "新增记录：居民" in text
        assert "居民和户" in listed or "居民" in listed
    else:
        assert "New records: Household" in text and "New records: Resident" in text
        assert "Residents and households" in listed


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_resident_is_headed_by_the_masked_name(scheme, tree, language):
    # given a resident and a staff member of the community
    resident = make_resident(scheme, tree["g1"], name="王小明", id_number=id_number())
    staff = make_staff(tree["community"])
    # when the staff member opens the resident
    page = client_for(staff, language).get(reverse("people:resident", args=[resident.pk]))
    # then the heading is the masked name, not a number, and the name is labelled as a person's
    assert page.status_code == 200
    html = page.content.decode()
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    assert mask_name("王小明") in heading and f"#{resident.pk}" not in heading
    assert "王小明" not in html
    text = text_of(page)
    label = "姓名" if LANGUAGES[language] == "zh" else "Name"
    assert re.search(rf"^{label}\n{re.escape(mask_name('王小明'))}$", text, re.M)
    assert "名称" not in text


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_rejected_rows_carry_the_row_numbers_their_reasons_name(scheme, tree, importer, fmt):
    # given a file whose header stands on row 3 and whose fourth data row repeats the ID number of the second,
    # itself rejected for its grid
    twice = id_number()
    rows = [["张三", id_number(), "一网格"], ["李四", twice, "nowhere"], ["王五", "123", "一网格"],
            ["赵六", twice, "一网格"]]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in [[], [], ["姓名", "身份证号", "所属网格"], *rows]:
            writer.writerow(row)
        upload = SimpleUploadedFile("people.csv", buffer.getvalue().encode("utf-8"))
    else:
        upload = _workbook(rows, blank_rows=2)
    job = imports.import_job_create(scheme=scheme, owner=importer, record_type="residents", uploaded_file=upload)
    imports.import_job_map(job=job, mapping=job.mapping)
    # when it is imported (by a Chinese user)
    with translation.override("zh-hans"):
        job = import_jobs.import_job_start(job=job)
    # then the rejected rows begin with their number in the file
    path = imports.import_job_rejected_file(job=job, fmt=fmt)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig") as f:
            table = list(csv.reader(f))
    else:
        table = [[c.value for c in row] for row in openpyxl.load_workbook(path).active.iter_rows()]
    assert table[0] == ["行号/Row", "姓名", "身份证号", "所属网格", "错误原因/Reason"]
    by_name = {line[1]: line for line in table[1:]}
    assert [(line[1], int(line[0])) for line in table[1:]] == [("李四", 5), ("王五", 6), ("赵六", 7)]
    # and the duplicate's reason names the row number its original carries in the same file
    reason = by_name["赵六"][-1]
    assert reason == "身份证号: 与第 5 行重复"
    assert int(re.search(r"第 (\d+) 行", reason).group(1)) == int(by_name["李四"][0])
