"""The secrets of one installation: never in the source, never derived from one another.

Two keys, each 256 bits or more of randomness:
- the Django secret key (sessions, signing, password-reset tokens): ``SECRET_KEY``;
- the personal-data key (seals ID numbers and phones, keys their digests, encrypts backups):
  ``GRIDGOV_DATA_KEY``, base64 of 32 random bytes.

Where a value comes from, first match wins:
1. the environment variable itself (``SECRET_KEY=...``);
2. a file named by ``<NAME>_FILE`` (container / systemd secrets);
3. only in the development settings (`config.settings.local`): a key file under ``GRIDGOV_KEYS_DIR``
   (default ``var/keys``), created on first use with random content, mode 600, atomically, so every
   ``manage.py`` command of the checkout (web server, task queue, shell) reads the same keys.

Production (`config.settings.production`) never creates keys: it refuses to start without 1. or 2.
A database copied without the data key holds only ciphertext and digests that open under no other key.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_FILE_NAME = "secret-key"  # noqa: S105 (a file name, not a secret)
DATA_KEY_FILE_NAME = "data-key"


def new_secret_key() -> str:
    """A Django secret key: 64 URL-safe characters from 48 random bytes (`check --deploy` asks for 50+)."""
    return secrets.token_urlsafe(48)


def new_data_key() -> str:
    """A personal-data key: base64 of 32 random bytes (AES-256 / SM4 keys are derived from it by HKDF)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def data_key_checked(value: str, *, name: str = "GRIDGOV_DATA_KEY") -> str:
    """`value` if it is base64 of at least 32 bytes; ImproperlyConfigured naming what is wrong otherwise, at
    start-up rather than at the first sealed value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be base64 of 32 random bytes; it is not valid base64") from None
    if len(raw) < 32:
        raise ImproperlyConfigured(f"{name} must hold at least 32 bytes; it holds {len(raw)}")
    return value


def _read_key_file(path: Path, *, name: str) -> str:
    info = path.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ImproperlyConfigured(f"{name}: the key file {path} may be read by other users "
                                   f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod 600 {path}`")
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise ImproperlyConfigured(f"{name}: the key file {path} is empty; remove it to have a new key made "
                                   f"(data sealed under the old key will no longer open)")
    return value


def key_file(path: Path, make: Callable[[], str], *, name: str) -> str:
    """The key kept in `path`, created with `make()` first if the file does not exist.

    Creation is atomic: the key is written and flushed to a private temporary file (mode 600) in the same
    directory and hard-linked to its name, which fails if another process got there first; both then read
    the winner's file, so two commands started together never end up with different keys, and no process
    ever reads a half-written key."""
    try:
        return _read_key_file(path, name=name)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: mode 600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(make() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process created it meanwhile: theirs is the key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read_key_file(path, name=name)


def secret_from_environment(name: str) -> str:
    """The value of `name` from the environment, or from the file named by `<name>_FILE`; "" when neither."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    file_name = os.environ.get(f"{name}_FILE", "").strip()
    if not file_name:
        return ""
    try:
        value = Path(file_name).read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={file_name} cannot be read: {exc.strerror}") from exc
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE={file_name} is empty")
    return value


def installation_secret(name: str, *, keys_dir: Path, file_name: str, make: Callable[[], str]) -> str:
    """The environment's value of `name` if given, else this installation's key file (created on first use)."""
    return secret_from_environment(name) or key_file(keys_dir / file_name, make, name=name)


def required_secret(name: str, *, why: str) -> str:
    """The environment's value of `name`; ImproperlyConfigured when it is missing (production)."""
    value = secret_from_environment(name)
    if not value:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set in production: {why}")
    return value
