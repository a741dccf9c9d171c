"""Item 2 (no secret comes from the source): the installation's keys are random, private, shared by every
command of a checkout, independent of each other, and required in production."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR
from config.keys import installation_secret, key_file, new_data_key, new_secret_key

SETTINGS_PRINT = ("import django; from django.conf import settings; django.setup(); "
                  "print(settings.SECRET_KEY); print(settings.PERSONAL_DATA_KEY); print(settings.DEBUG)")
SECRET_NAMES = ("SECRET_KEY", "SECRET_KEY_FILE", "GRIDGOV_DATA_KEY", "GRIDGOV_DATA_KEY_FILE", "DEBUG",
                "DATABASE_URL", "GRIDGOV_KEYS_DIR",
                # set by the browser tests' conftest for Playwright in the same test process; no deployment has it
                "DJANGO_ALLOW_ASYNC_UNSAFE")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES}
    return {**env, **extra}


def _settings_of(module: str, var_dir: Path, **extra: str) -> subprocess.CompletedProcess:
    """Load `module` in a fresh interpreter, as a `manage.py` command of a checkout would."""
    env = _clean_env(DJANGO_SETTINGS_MODULE=module, GRIDGOV_VAR_DIR=str(var_dir), **extra)
    return subprocess.run([sys.executable, "-c", SETTINGS_PRINT], cwd=BASE_DIR, env=env,  # noqa: S603 (our own)
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_key_file_is_made_once_random_and_private(tmp_path):
    # given no key file yet
    path = tmp_path / "keys" / "secret-key"
    # when it is asked for twice, and in another installation
    first = key_file(path, new_secret_key, name="SECRET_KEY")
    again = key_file(path, new_secret_key, name="SECRET_KEY")
    other = key_file(tmp_path / "other" / "secret-key", new_secret_key, name="SECRET_KEY")
    # then the same key comes back, only the owner may read it, and another installation has its own
    assert first == again and len(first) >= 50
    assert other != first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["secret-key"]  # no temporary file left behind


def test_processes_creating_the_key_together_agree_on_one(tmp_path):
    # given sixteen commands starting at the same time on a fresh checkout
    path = tmp_path / "keys" / "data-key"
    start = threading.Barrier(16)
    seen: list[str] = []

    def create():
        start.wait()
        seen.append(key_file(path, new_data_key, name="GRIDGOV_DATA_KEY"))

    threads = [threading.Thread(target=create) for _ in range(16)]
    # when each creates the key if missing
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then all of them use the one key that was written
    assert len(set(seen)) == 1 and seen[0] == path.read_text().strip()
    assert [p.name for p in path.parent.iterdir()] == ["data-key"]


def test_a_key_file_others_may_read_is_refused(tmp_path):
    # given a key file someone made world-readable
    path = tmp_path / "secret-key"
    key_file(path, new_secret_key, name="SECRET_KEY")
    path.chmod(0o644)
    # when / then
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        key_file(path, new_secret_key, name="SECRET_KEY")


def test_the_environment_wins_over_the_key_file(tmp_path, monkeypatch):
    # given a key file and a key given in the environment, then in a secrets file
    key_file(tmp_path / "secret-key", lambda: "from-the-file-" + "x" * 50, name="SECRET_KEY")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    # when / then
    assert installation_secret("SECRET_KEY", keys_dir=tmp_path, file_name="secret-key",
                               make=new_secret_key) == "from-the-environment"
    monkeypatch.delenv("SECRET_KEY")
    secret_file = tmp_path / "mounted-secret"
    secret_file.write_text("from-a-mounted-secret\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert installation_secret("SECRET_KEY", keys_dir=tmp_path, file_name="secret-key",
                               make=new_secret_key) == "from-a-mounted-secret"


def test_every_command_of_a_checkout_reads_the_same_random_keys_and_debug_is_off(tmp_path):
    # given a fresh checkout (no key files, nothing in the environment)
    var = tmp_path / "var"
    # when two commands load the development settings
    first = _settings_of("config.settings.local", var)
    second = _settings_of("config.settings.local", var)
    # then both use the keys made by the first, kept outside git, and DEBUG is off unless asked for
    assert first.returncode == 0, first.stderr
    secret, data, debug = first.stdout.split()
    assert second.stdout.split() == [secret, data, debug]
    assert debug == "False"
    assert (var / "keys" / "secret-key").read_text().strip() == secret
    assert (var / "keys" / "data-key").read_text().strip() == data
    assert "insecure" not in secret and len(secret) >= 50
    assert _settings_of("config.settings.local", var, DEBUG="1").stdout.split()[2] == "True"


def test_the_data_key_is_not_derived_from_the_secret_key(tmp_path):
    # given two installations that share the same SECRET_KEY (a copied settings file)
    shared = "a-secret-key-two-installations-happen-to-share-" + "z" * 20
    # when each loads its settings
    one = _settings_of("config.settings.local", tmp_path / "one", SECRET_KEY=shared)
    two = _settings_of("config.settings.local", tmp_path / "two", SECRET_KEY=shared)
    # then each has its own data key (before, both derived the same one from SECRET_KEY)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert one.stdout.split()[0] == two.stdout.split()[0] == shared
    assert one.stdout.split()[1] != two.stdout.split()[1]


def test_production_refuses_to_start_without_its_keys_and_never_makes_them(tmp_path):
    # given the production settings and no keys in the environment
    # when / then: each missing key is named, and no key file was created
    none = _settings_of("config.settings.production", tmp_path)
    assert none.returncode != 0 and "SECRET_KEY (or SECRET_KEY_FILE) must be set in production" in none.stderr
    only_secret = _settings_of("config.settings.production", tmp_path, SECRET_KEY=new_secret_key())
    assert only_secret.returncode != 0 and "GRIDGOV_DATA_KEY (or GRIDGOV_DATA_KEY_FILE)" in only_secret.stderr
    assert not (tmp_path / "keys").exists()
    weak = _settings_of("config.settings.production", tmp_path, SECRET_KEY=new_secret_key(),
                        GRIDGOV_DATA_KEY="c2hvcnQ=")
    assert weak.returncode != 0 and "GRIDGOV_DATA_KEY must hold at least 32 bytes; it holds 5" in weak.stderr
    both = _settings_of("config.settings.production", tmp_path, SECRET_KEY=new_secret_key(),
                        GRIDGOV_DATA_KEY=new_data_key())
    assert both.returncode == 0, both.stderr


def test_tests_never_write_keys_into_the_checkout():
    # given the test settings (this process)
    from django.conf import settings

    # then their keys are throwaway ones, not the checkout's key files
    keys = BASE_DIR / "var" / "keys"
    for name, value in (("secret-key", settings.SECRET_KEY), ("data-key", settings.PERSONAL_DATA_KEY)):
        path = keys / name
        assert not path.exists() or path.read_text().strip() != value
