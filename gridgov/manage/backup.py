"""Backups: the database and the private files in one archive encrypted with the data key.

`backup_create(output=...)` writes the archive; `backup_restore(archive=..., force=...)` puts it back.

- **Database.** SQLite through the online backup API (`sqlite3.Connection.backup`: a consistent copy while
  the site keeps running); PostgreSQL through `pg_dump -Fc` and `pg_restore --single-transaction`, which
  must be installed (a clear error names the missing binary).
- **Files.** Everything under `PRIVATE_FILES_DIR`: case photos (evidence, never purged), import uploads,
  rejected rows, exports.
- **Archive.** A tar stream (manifest, database, files) cut into 1 MiB chunks, each sealed with AES-256-GCM
  under a key derived from the data key and the archive's own random salt; the header (format, key id,
  salt) and the chunk's number and a last-chunk flag are bound into each chunk's associated data, so an
  altered, reordered, truncated or extended archive, or one made under another data key, is refused with
  a message saying which, before anything is written. Without the data key an archive reveals nothing.
- **Restore.** Only into an empty database (no users, cells, residents, cases or audit rows; or no tables at
  all), unless `force`. The archive is first opened completely into a private staging directory; only
  then is the database replaced (in one step: the SQLite backup API, or one PostgreSQL transaction) and
  the files put back, and the row counts are checked against the manifest.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.core.audit import audit_record
from gridgov.privacy import crypto

MAGIC = b"GRIDGOV-BACKUP\n"
FORMAT = 1
CHUNK_BYTES = 1 << 20
_U32 = struct.Struct(">I")
DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
MANIFEST_MEMBER = "manifest.json"
FILES_PREFIX = "files/"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


# ----------------------------------------------------------------------------------------- the archive
class _SealingWriter:
    """A write-only file object sealing what it is given into numbered AES-GCM chunks."""

    def __init__(self, out, *, key: bytes, header: bytes, nonce_prefix: bytes):
        self._out, self._aead, self._header, self._prefix = out, AESGCM(key), header, nonce_prefix
        self._buffer = bytearray()
        self._index = 0

    def _emit(self, data: bytes, *, last: bool) -> None:
        sealed = self._aead.encrypt(self._prefix + _U32.pack(self._index), data, _aad(self._header, self._index, last))
        self._out.write(_U32.pack(len(sealed)) + sealed)
        self._index += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK_BYTES:
            self._emit(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def close(self) -> None:
        self._emit(bytes(self._buffer), last=True)  # always one last chunk: a cut-off archive is detected
        self._buffer.clear()


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + _U32.pack(index) + (b"\x01" if last else b"\x00")


def _archive_open(path: Path) -> tuple[dict, bytes, object]:
    """(header, header bytes, file positioned at the first chunk); BackupError if it is no archive."""
    handle = path.open("rb")
    try:
        if handle.read(len(MAGIC)) != MAGIC:
            raise BackupError(_("%(path)s is not a gridgov backup archive") % {"path": path})
        (length,) = _U32.unpack(handle.read(_U32.size))
        raw = handle.read(length)
        header = json.loads(raw)
        if header.get("format") != FORMAT:
            raise BackupError(_("%(path)s has archive format %(format)s; this version reads format %(ours)s")
                              % {"path": path, "format": header.get("format"), "ours": FORMAT})
    except (struct.error, ValueError, UnicodeDecodeError):
        handle.close()
        raise BackupError(_("%(path)s is not a gridgov backup archive (damaged header)") % {"path": path}) from None
    except BaseException:
        handle.close()
        raise
    return header, raw, handle


class _OpeningReader:
    """A read-only file object giving back the plaintext, chunk by chunk, each checked before use."""

    def __init__(self, handle, *, key: bytes, header: bytes, nonce_prefix: bytes):
        self._in, self._aead, self._header, self._prefix = handle, AESGCM(key), header, nonce_prefix
        self._index = 0
        self._pending = b""
        self._done = False

    def _next_chunk(self) -> None:
        size_raw = self._in.read(_U32.size)
        if len(size_raw) < _U32.size:
            raise BackupError(_("the archive is incomplete (cut off after %(n)s chunks)") % {"n": self._index})
        (size,) = _U32.unpack(size_raw)
        sealed = self._in.read(size)
        if len(sealed) < size:
            raise BackupError(_("the archive is incomplete (cut off inside chunk %(n)s)") % {"n": self._index})
        nonce = self._prefix + _U32.pack(self._index)
        for last in (False, True):
            try:
                data = self._aead.decrypt(nonce, sealed, _aad(self._header, self._index, last))
            except InvalidTag:
                continue
            self._index += 1
            if last:
                self._done = True
                if self._in.read(1):
                    raise BackupError(_("the archive has data after its last chunk: it was altered"))
            self._pending += data
            return
        raise BackupError(_("the archive was altered or damaged (chunk %(n)s does not authenticate)")
                          % {"n": self._index})

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._pending) < size):
            self._next_chunk()
        if size < 0:
            size = len(self._pending)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data


# --------------------------------------------------------------------------------------- the database
def _vendor() -> str:
    if connection.vendor not in DATABASE_MEMBER:
        raise BackupError(_("backups support SQLite and PostgreSQL, not %(vendor)s") % {"vendor": connection.vendor})
    return connection.vendor


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(_("%(name)s is not installed: install the PostgreSQL client tools of the server's "
                            "version (Debian: apt-get install postgresql-client)") % {"name": name})
    return found


def _pg_connection_args() -> tuple[list[str], dict[str, str]]:
    db = connection.settings_dict
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return [*args, "--dbname", str(db["NAME"])], env


def _run(args: list[str], env: dict[str, str], *, what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (fixed binary)
    if result.returncode != 0:
        raise BackupError(_("%(what)s failed: %(error)s") % {"what": what, "error": result.stderr.strip()[-2000:]})


def _model_tables() -> list[str]:
    return sorted({m._meta.db_table for m in apps.get_models(include_auto_created=True)
                   if m._meta.managed and not m._meta.proxy})


def _counts(cursor, present: set[str], quote) -> dict[str, int]:
    counts = {}
    for table in _model_tables():
        if table in present:
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 (our own table names, quoted)
            counts[table] = cursor.fetchone()[0]
    return counts


def _row_counts() -> dict[str, int]:
    """Rows per table of the database as it is now."""
    with connection.cursor() as cursor:
        return _counts(cursor, set(connection.introspection.table_names(cursor)), connection.ops.quote_name)


def _database_dump(target: Path) -> dict[str, int]:
    """Dump the database to `target`; the rows per table of exactly what was dumped."""
    if _vendor() == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)  # online: a consistent snapshot while others keep writing
            cursor = copy.cursor()
            present = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return _counts(cursor, present, connection.ops.quote_name)
        finally:
            copy.close()
    pg_dump = _pg_binary("pg_dump")
    args, env = _pg_connection_args()
    if connection.in_atomic_block:
        raise BackupError(_("a backup cannot run inside a database transaction"))
    # count and dump in one snapshot, so the manifest describes exactly what pg_dump wrote
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts = _counts(cursor, set(connection.introspection.table_names(cursor)), connection.ops.quote_name)
        _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
              "--file", str(target), *args], env, what="pg_dump")
    return counts


def _database_load(source: Path) -> None:
    if _vendor() == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(source)
        try:
            copy.backup(connection.connection)  # replaces the whole database in one step
        finally:
            copy.close()
        return
    pg_restore = _pg_binary("pg_restore")
    args, env = _pg_connection_args()
    connection.close()  # nothing of ours holds a lock on the tables pg_restore replaces
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", *args, str(source)], env, what="pg_restore")


def database_holdings() -> dict[str, int]:
    """Rows of what makes a database not empty (users, cells, residents, cases, audit); {} without tables."""
    if get_user_model()._meta.db_table not in set(connection.introspection.table_names()):
        return {}
    labels = ["accounts.User", "territory.Node", "people.Resident", "cases.Case", "core.AuditEntry"]
    counts = {}
    for label in labels:
        model = apps.get_model(label)
        try:
            counts[model._meta.verbose_name_plural] = model._default_manager.count()
        except DatabaseError:  # a partly migrated database: that table is not there yet
            continue
    return {k: v for k, v in counts.items() if v}


# ---------------------------------------------------------------------------------------------- files
def _private_dir() -> Path:
    return Path(settings.PRIVATE_FILES_DIR)


def _private_files() -> list[Path]:
    root = _private_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".part"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_put(source: Path, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as inp:
            shutil.copyfileobj(inp, out)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------- services
@dataclass
class BackupReport:
    path: Path
    vendor: str
    rows: int
    files: int
    size: int
    counts: dict[str, int] = field(default_factory=dict)


def backup_default_path() -> Path:
    return Path(settings.BACKUP_DIR) / f"gridgov-{timezone.now():%Y%m%d-%H%M%S}.gridgov-backup"


def backup_create(*, output: Path | None = None, actor=None) -> BackupReport:
    """Write an encrypted archive of the database and the private files to `output` (mode 600).

    The audit entry for the backup is written first, so the archive holds it too."""
    vendor = _vendor()
    output = Path(output) if output is not None else backup_default_path()
    if output.exists():
        raise BackupError(_("%(path)s exists already; choose another name") % {"path": output})
    files = _private_files()
    audit_record(actor=actor, action="core.backup_create", summary=f"{vendor} database and {len(files)} private files")
    salt, nonce_prefix = os.urandom(16), os.urandom(8)
    kid, key = crypto.archive_key(salt=salt)
    header = json.dumps({"format": FORMAT, "cipher": "AES-256-GCM", "kid": kid,
                         "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce_prefix).decode(),
                         "chunk": CHUNK_BYTES}, sort_keys=True).encode()
    output.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gridgov-backup-") as staging:
        dump = Path(staging) / DATABASE_MEMBER[vendor]
        counts = _database_dump(dump)
        manifest = {"format": FORMAT, "vendor": vendor, "created_at": timezone.now().isoformat(),
                    "counts": counts, "files": {}}
        root = _private_dir()
        for path in files:
            manifest["files"][path.relative_to(root).as_posix()] = _sha256(path)
        fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")  # mode 600
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + _U32.pack(len(header)) + header)
                writer = _SealingWriter(out, key=key, header=header, nonce_prefix=nonce_prefix)
                with tarfile.open(fileobj=writer, mode="w|") as tar:
                    raw = json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode()
                    info = tarfile.TarInfo(MANIFEST_MEMBER)
                    info.size, info.mtime = len(raw), int(dt.datetime.now().timestamp())
                    tar.addfile(info, fileobj=_Bytes(raw))
                    tar.add(dump, arcname=DATABASE_MEMBER[vendor], recursive=False)
                    for path in files:
                        tar.add(path, arcname=FILES_PREFIX + path.relative_to(root).as_posix(), recursive=False)
                writer.close()
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return BackupReport(path=output, vendor=vendor, rows=sum(counts.values()), files=len(files),
                        size=output.stat().st_size, counts=counts)


class _Bytes:
    def __init__(self, data: bytes):
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk, self._at = self._data[self._at:end], min(end, len(self._data))
        return chunk


def _archive_unpack(archive: Path, staging: Path) -> dict:
    """Open the whole archive into `staging`; its manifest. Nothing outside `staging` is touched."""
    header, raw, handle = _archive_open(archive)
    try:
        try:
            _, key = crypto.archive_key(salt=base64.b64decode(header["salt"]), kid=header["kid"])
        except crypto.SealError as exc:
            raise BackupError(str(exc)) from None
        reader = _OpeningReader(handle, key=key, header=raw, nonce_prefix=base64.b64decode(header["nonce"]))
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                tar.extractall(staging, filter="data")  # no absolute paths, links out or devices
        except tarfile.TarError as exc:
            raise BackupError(_("the archive's content is damaged: %(error)s") % {"error": exc}) from None
        reader.read()  # authenticate everything up to the last chunk, past the tar's own end
    finally:
        handle.close()
    try:
        manifest = json.loads((staging / MANIFEST_MEMBER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(_("the archive holds no manifest")) from None
    return manifest


@dataclass
class RestoreReport:
    vendor: str
    rows: int
    files: int
    created_at: str


def backup_restore(*, archive: Path, force: bool = False, actor=None) -> RestoreReport:
    """Put an archive back: refused into a database that holds data unless `force` (which replaces it)."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(_("%(path)s does not exist") % {"path": archive})
    vendor = _vendor()
    if connection.in_atomic_block:
        raise BackupError(_("a restore cannot run inside a database transaction"))
    held = database_holdings()
    if held and not force:
        listed = ", ".join(f"{n} {name}" for name, n in held.items())
        raise BackupError(_("the database is not empty (%(held)s): restore only into an empty database, or give "
                            "--force to replace everything in it") % {"held": listed})
    with tempfile.TemporaryDirectory(prefix="gridgov-restore-") as staging_name:
        staging = Path(staging_name)
        manifest = _archive_unpack(archive, staging)
        if manifest.get("vendor") != vendor:
            raise BackupError(_("the archive holds a %(theirs)s database; this installation uses %(ours)s")
                              % {"theirs": manifest.get("vendor"), "ours": vendor})
        dump = staging / DATABASE_MEMBER[vendor]
        if not dump.is_file():
            raise BackupError(_("the archive holds no database"))
        for relative, sha in manifest["files"].items():
            staged = staging / FILES_PREFIX / relative
            if not staged.is_file() or _sha256(staged) != sha:
                raise BackupError(_("the archive's file %(name)s is missing or differs from its manifest")
                                  % {"name": relative})
        _database_load(dump)
        counts = _row_counts()
        differ = {t: (n, counts.get(t)) for t, n in manifest["counts"].items() if counts.get(t) != n}
        if differ:
            raise BackupError(_("the restored database differs from the archive's manifest: %(tables)s")
                              % {"tables": ", ".join(f"{t} {a}≠{b}" for t, (a, b) in sorted(differ.items()))})
        root = _private_dir()
        for relative in manifest["files"]:
            _file_put(staging / FILES_PREFIX / relative, root / relative)
    audit_record(actor=actor, action="core.backup_restore",
                 summary=f"from {archive.name} made {manifest.get('created_at', '')[:19]}")
    return RestoreReport(vendor=vendor, rows=sum(manifest["counts"].values()), files=len(manifest["files"]),
                         created_at=manifest.get("created_at", ""))
