"""Import jobs from real XLSX and CSV files: reading, column mapping, dry run, run, rejected-rows file."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction

from gridgov.accounts.tests.factories import make_staff
from gridgov.people import import_jobs, imports
from gridgov.people.models import DataJob, Household, JobStatus, RecordHistory, Resident
from gridgov.people.tests.factories import id_number
from gridgov.privacy.models import AccessLog

HEADERS = ["姓名", "公民身份号码", "联系电话", "户号", "与户主关系", "所属网格", "备注"]


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.PRIVATE_FILES_DIR = str(tmp_path / "private")


def _rows() -> list[list]:
    bad = id_number()
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    return [
        ["张三", id_number(), 13800138000, "0001", "户主", "一网格", "x"],
        ["李四", id_number(male=False), "", "0001", "妻", "", ""],
        ["王五", bad, "", "", "", "一网格", ""],
        ["赵六", id_number(), "12", "", "", "nowhere", ""],
    ]


def _xlsx(path: Path, rows: list[list], *, blank_rows: int = 2) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for _ in range(blank_rows):
        sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def _upload(path: Path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes())


def test_reading_xlsx_keeps_spreadsheet_row_numbers(tmp_path):
    path = _xlsx(tmp_path / "people.xlsx", _rows())
    with imports.table_read(path) as table:
        rows = list(table.rows)
    assert table.headers == HEADERS and table.header_row == 3
    assert [number for number, _values in rows] == [4, 5, 6, 7]
    assert rows[0][1][2] == 13800138000


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_reading_csv_in_utf8_or_gbk(tmp_path, encoding):
    path = tmp_path / "people.csv"
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerow(["张三", "x", "", "", "", "一网格", "备注"])
    with imports.table_read(path) as table:
        assert table.headers == HEADERS
        assert list(table.rows) == [(2, ["张三", "x", "", "", "", "一网格", "备注"])]


def test_mapping_is_suggested_from_chinese_and_english_headers(db):
    headers = ["序号", "姓名", "身份证号码", "手机号", "所属网格", "与户主关系", "户号", "现住址", "Longitude", "纬度",
               "人口类型", "迁入日期（必填）"]
    mapping = imports.mapping_suggest(headers, "residents")
    assert mapping == {"姓名": "name", "身份证号码": "id_number", "手机号": "phone", "所属网格": "cell",
                       "与户主关系": "relation", "户号": "household_number", "现住址": "actual_address",
                       "Longitude": "lon", "纬度": "lat", "人口类型": "registered_here", "迁入日期（必填）": "moved_in_date"}
    assert imports.mapping_suggest(["单位名称", "统一社会信用代码", "法定代表人", "行业", "地址"], "entities") == {
        "单位名称": "name", "统一社会信用代码": "credit_code", "法定代表人": "representative", "行业": "industry",
        "地址": "address"}
    assert imports.mapping_suggest(["人群类别", "身份证号", "残疾等级"], "memberships") == {
        "人群类别": "group", "身份证号": "id_number", "残疾等级": "grade"}


def test_a_mapping_needs_the_required_fields_and_one_column_per_field():
    with pytest.raises(ValidationError) as err:
        imports.mapping_clean(kind="residents", headers=HEADERS, mapping={"姓名": "name", "户号": "name"})
    assert err.value.message_dict == {"户号": ["Name is already taken by the column 姓名"],
                                      "__all__": ["map a column to every required field: ID number"]}


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_import_job_dry_run_then_run(scheme, tree, tmp_path, caplog):
    # given an uploaded workbook with two good and two bad rows
    owner = make_staff(tree["community"], perms=["people.add_resident"])
    rows = _rows()
    job = imports.import_job_create(scheme=scheme, owner=owner, record_type="residents",
                                    uploaded_file=_upload(_xlsx(tmp_path / "people.xlsx", rows)))
    assert (job.status, job.headers, job.total) == (JobStatus.NEW, HEADERS, 4)
    assert job.mapping == {"姓名": "name", "公民身份号码": "id_number", "联系电话": "phone", "户号": "household_number",
                           "与户主关系": "relation", "所属网格": "cell"}
    assert job.options["unmapped"] == ["备注"]
    imports.import_job_map(job=job, mapping=job.mapping)
    # when checked
    with caplog.at_level(logging.DEBUG):
        job = import_jobs.import_job_check(job=job)
    # then nothing is stored and the summary says what a run would do
    assert job.status == JobStatus.CHECKED
    assert (Resident.objects.count(), Household.objects.count(), RecordHistory.objects.count()) == (0, 0, 0)
    dry = {k: job.summary[k] for k in ("created", "updated", "unchanged", "rejected_rows", "created_by_type")}
    assert dry == {"created": 2, "updated": 0, "unchanged": 0, "rejected_rows": 2,
                   "created_by_type": {"household": 1, "resident": 2}}
    assert [(e["row"], e["column"]) for e in job.summary["errors"]] == [(6, "公民身份号码"), (7, "联系电话"),
                                                                        (7, "所属网格")]
    # when run
    with caplog.at_level(logging.DEBUG):
        job = import_jobs.import_job_start(job=job)
    # then the counts equal the dry run's, progress is complete and the import is logged
    assert job.status == JobStatus.DONE and job.started_at and job.finished_at
    assert {k: job.summary[k] for k in dry} == dry
    assert (job.done, job.total, job.progress) == (4, 4, 100)
    assert Resident.objects.count() == 2
    assert RecordHistory.objects.filter(source=f"import job #{job.pk}").count() == 3
    entry = AccessLog.objects.get(kind="IMPORT")
    assert (entry.user, entry.rows, entry.detail["job"], entry.detail["rejected_rows"]) == (owner, 4, job.pk, 2)
    # and the rejected rows come back with their reasons, offending cells in red
    sheet = openpyxl.load_workbook(imports.import_job_rejected_file(job=job)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["行号/Row", *HEADERS, "错误原因/Reason"]
    assert [v[:2] for v in values[1:]] == [[6, "王五"], [7, "赵六"]]
    assert values[2][-1] == ("联系电话: not a phone number: a mobile has 11 digits starting with 1, a landline 0 + area "
                             "code + 7 or 8 digits; 所属网格: unknown grid 'nowhere'")
    phone_cell = sheet.cell(row=3, column=4)
    assert phone_cell.fill.fgColor.rgb == "FFFFC7CE" and "not a phone number" in phone_cell.comment.text
    assert sheet.cell(row=3, column=2).comment is None
    # nothing personal in the logs, the summary or the access log
    for row in rows:
        for value in (row[0], str(row[1])):
            assert value not in caplog.text and value not in str(job.summary) and value not in str(entry.detail)


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_re_running_the_same_file_changes_nothing(scheme, tree, tmp_path):
    owner = make_staff(tree["community"])
    path = _xlsx(tmp_path / "people.xlsx", _rows()[:2])
    for expected in ({"created": 2, "unchanged": 0}, {"created": 0, "unchanged": 2}):
        job = imports.import_job_create(scheme=scheme, owner=owner, record_type="residents", uploaded_file=_upload(path))
        imports.import_job_map(job=job, mapping=job.mapping)
        job = import_jobs.import_job_start(job=job)
        assert {k: job.summary[k] for k in expected} == expected
        assert job.result_path == ""
    assert set(Resident.objects.values_list("version", flat=True)) == {1}


# the runs are queued on commit: this test commits, as a request does
@pytest.mark.django_db(transaction=True)
def test_a_csv_upload_gets_a_csv_of_its_rejected_rows_too(scheme, tree, tmp_path):
    owner = make_staff(tree["community"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for row in _rows():
        writer.writerow(row)
    upload = SimpleUploadedFile("people.csv", buffer.getvalue().encode("gb18030"))
    job = imports.import_job_create(scheme=scheme, owner=owner, record_type="residents", uploaded_file=upload)
    imports.import_job_map(job=job, mapping=job.mapping)
    job = import_jobs.import_job_start(job=job)
    assert job.summary["created"] == 2
    with imports.import_job_rejected_file(job=job, fmt="csv").open(encoding="utf-8-sig") as f:
        lines = list(csv.reader(f))
    assert lines[0][0] == "行号/Row" and lines[0][-1] == "错误原因/Reason"
    assert [line[:2] for line in lines[1:]] == [["4", "王五"], ["5", "赵六"]]
    assert lines[1][-1].startswith("公民身份号码: the check digit")


def test_an_unreadable_upload_is_refused(scheme, tree):
    owner = make_staff(tree["community"])
    with pytest.raises(ValidationError, match=r"only \.xlsx and \.csv"):
        imports.import_job_create(scheme=scheme, owner=owner, record_type="residents",
                                  uploaded_file=SimpleUploadedFile("a.pdf", b"%PDF"))
    with pytest.raises(ValidationError, match="not a readable XLSX"):
        imports.import_job_create(scheme=scheme, owner=owner, record_type="residents",
                                  uploaded_file=SimpleUploadedFile("a.xlsx", b"not a zip"))
    assert not DataJob.objects.exists()


def test_the_management_command(scheme, tree, tmp_path):
    path = _xlsx(tmp_path / "people.xlsx", _rows(), blank_rows=0)
    out = io.StringIO()
    call_command("import_people", scheme.key, "residents", str(path), "--dry-run", "--map", "备注=",
                 "--rejected", str(tmp_path / "rejected.xlsx"), stdout=out, stderr=io.StringIO())
    assert '"created": 2' in out.getvalue() and '"rejected_rows": 2' in out.getvalue()
    assert not Resident.objects.exists()
    assert openpyxl.load_workbook(tmp_path / "rejected.xlsx").active.max_row == 3
    call_command("import_people", scheme.key, "residents", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert Resident.objects.count() == 2


def test_a_run_is_queued_once_the_transaction_commits(scheme, tree, tmp_path, django_capture_on_commit_callbacks):
    # given a mapped job
    owner = make_staff(tree["community"], perms=["people.add_resident"])
    job = import_jobs_mapped(scheme, owner, tmp_path)
    # when it is started inside a transaction that is still open
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        started = import_jobs.import_job_start(job=job)
        # then nothing has run yet
        assert started.status == JobStatus.QUEUED and Resident.objects.count() == 0
    # and the run happens after the commit
    job.refresh_from_db()
    assert len(callbacks) == 1 and job.status == JobStatus.DONE and Resident.objects.count() == 2


def test_a_rolled_back_check_queues_nothing(scheme, tree, tmp_path, django_capture_on_commit_callbacks):
    # given a mapped job
    owner = make_staff(tree["community"], perms=["people.add_resident"])
    job = import_jobs_mapped(scheme, owner, tmp_path)
    # when its check is asked for in a transaction that is rolled back
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        import_jobs.import_job_check(job=job)
        transaction.set_rollback(True)
    # then no dry run was queued and the job is as it was
    job.refresh_from_db()
    assert callbacks == [] and job.status == JobStatus.MAPPED


def import_jobs_mapped(scheme, owner, tmp_path) -> DataJob:
    job = imports.import_job_create(scheme=scheme, owner=owner, record_type="residents",
                                    uploaded_file=_upload(_xlsx(tmp_path / "people.xlsx", _rows())))
    return imports.import_job_map(job=job, mapping=job.mapping)
