"""Item 17 (backups): `manage.py backup` / `restore` round-trip every row and private file, encrypted with the
data key; a tampered, cut-off or wrong-key archive, or a database that holds data, is refused."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from config.keys import new_data_key
from gridgov.cases.models import Attachment, Case, CaseEvent
from gridgov.core.models import AuditEntry
from gridgov.manage.backup import MAGIC
from gridgov.people.models import Resident
from gridgov.privacy.access import personal_data_reveal
from gridgov.privacy.models import AccessLog
from gridgov.seed.demo_cases import demo_cases
from gridgov.seed.profiles import profile_get, profile_load

pytestmark = pytest.mark.django_db(transaction=True)  # pg_dump and the SQLite backup API see committed rows

COMPARED = (Case, CaseEvent, Attachment, Resident, AccessLog, AuditEntry, get_user_model())


def _rows() -> dict[str, list[dict]]:
    return {m._meta.label: list(m.objects.order_by("pk").values()) for m in COMPARED}


def _files() -> dict[str, str]:
    root = Path(settings.PRIVATE_FILES_DIR)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def _empty_the_database() -> None:
    """What a new server's database is before its first restore: no tables at all."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        sqlite3.connect(":memory:").backup(connection.connection)
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
    shutil.rmtree(settings.PRIVATE_FILES_DIR, ignore_errors=True)


@pytest.fixture
def district():
    """The demo village with its residents, its access log, and cases through the loop with their photos."""
    scheme = profile_load(profile_get("pinggu"), people=True).scheme
    demo_cases(scheme=scheme, count=8)
    operator = get_user_model().objects.get(username="pinggu_admin")  # sees everything, may reveal
    personal_data_reveal(user=operator, record=Resident.objects.order_by("pk").first(), fields=["id_number"],
                         purpose="核实户籍信息")
    assert all(m.objects.exists() for m in COMPARED)
    return scheme


def _round_trip(tmp_path: Path) -> None:
    # given the district, backed up
    archive = tmp_path / "district.gridgov-backup"
    call_command("backup", "--output", str(archive), stdout=open(os.devnull, "w"))  # noqa: SIM115
    before_rows, before_files = _rows(), _files()
    assert before_files and all(before_rows.values())
    raw = archive.read_bytes()
    assert raw.startswith(MAGIC) and stat_mode(archive) == 0o600
    # nothing readable inside without the key: no resident's masked ID, no file's bytes, no table name
    resident = Resident.objects.first()
    assert resident.id_masked.encode() not in raw and b"cases_caseevent" not in raw
    # when the database and the files are lost and the archive is restored into an empty database
    _empty_the_database()
    call_command("restore", str(archive), stdout=open(os.devnull, "w"))  # noqa: SIM115
    # then every case, event, photo, resident, access-log, audit and user row is back as it was, with the files
    after = _rows()
    restore_entry = after["core.AuditEntry"].pop()
    assert restore_entry["action"] == "core.backup_restore"
    assert after == before_rows
    assert _files() == before_files


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_backup_and_restore_into_an_empty_sqlite_database(district, tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite path; the PostgreSQL one is the next test")
    _round_trip(tmp_path)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump / pg_restore: PostgreSQL only")
def test_backup_and_restore_into_an_empty_postgresql_database(district, tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have pg_dump and pg_restore (postgresql-client)")
        pytest.skip("pg_dump / pg_restore not installed here (apt-get install postgresql-client); CI has them")
    _round_trip(tmp_path)


def test_restore_refuses_a_database_that_holds_data_unless_forced(district, tmp_path):
    # given a backup, and the database still holding the district
    archive = tmp_path / "a.gridgov-backup"
    call_command("backup", "-o", str(archive), stdout=open(os.devnull, "w"))  # noqa: SIM115
    cases = Case.objects.count()
    # when / then: refused, naming what it would overwrite
    with pytest.raises(CommandError, match=r"the database is not empty \(.*--force"):
        call_command("restore", str(archive))
    assert Case.objects.count() == cases
    # and with --force it replaces everything
    Case.objects.filter(pk=Case.objects.order_by("pk").first().pk).update(description="changed after the backup")
    call_command("restore", str(archive), "--force", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not Case.objects.filter(description="changed after the backup").exists()


def test_a_tampered_cut_off_or_foreign_archive_is_refused_before_anything_is_written(district, tmp_path):
    # given a good archive of the district
    archive = tmp_path / "good.gridgov-backup"
    call_command("backup", "-o", str(archive), stdout=open(os.devnull, "w"))  # noqa: SIM115
    raw = archive.read_bytes()
    before = _rows()
    tampered = tmp_path / "tampered.gridgov-backup"
    middle = len(raw) // 2
    tampered.write_bytes(raw[:middle] + bytes([raw[middle] ^ 0x01]) + raw[middle + 1:])
    cut = tmp_path / "cut.gridgov-backup"
    cut.write_bytes(raw[: len(raw) - 40])
    not_ours = tmp_path / "notes.txt"
    not_ours.write_text("hello")
    # when / then: each is refused with what is wrong with it (--force: the emptiness rule is not what stops it)
    with pytest.raises(CommandError, match="altered or damaged"):
        call_command("restore", str(tampered), "--force")
    with pytest.raises(CommandError, match="incomplete"):
        call_command("restore", str(cut), "--force")
    with pytest.raises(CommandError, match="not a gridgov backup archive"):
        call_command("restore", str(not_ours), "--force")
    with override_settings(PERSONAL_DATA_KEY=new_data_key()), \
            pytest.raises(CommandError, match="made under another data key"):
        call_command("restore", str(archive), "--force")
    # and nothing was changed
    assert _rows() == before


@pytest.mark.django_db(transaction=False)
def test_missing_postgresql_client_tools_are_named(monkeypatch):
    from gridgov.manage.backup import BackupError, _pg_binary

    # given a machine without the PostgreSQL client tools on its PATH
    monkeypatch.setenv("PATH", "/nonexistent")
    # when / then
    with pytest.raises(BackupError, match="pg_dump is not installed: install the PostgreSQL client tools"):
        _pg_binary("pg_dump")
