"""Settings from the environment, with embedded defaults when a variable is unset.

Every deployment knob is an environment variable (twelve-factor); nothing secret lives in the code.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(default_sqlite: Path) -> dict:
    """DATABASE_URL (postgres://..., sqlite:///path) or an embedded SQLite file in WAL mode."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        url = f"sqlite:///{default_sqlite}"
    config = dj_database_url.parse(url, conn_max_age=0 if url.startswith("sqlite") else 60)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {})
        # WAL lets the web process read while the task queue writes; IMMEDIATE avoids
        # "database is locked" upgrades from read to write inside a transaction.
        config["OPTIONS"].update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
                ),
            }
        )
    return config
