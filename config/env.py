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
    if config["ENGINE"] == "django.db.backends.postgresql":
        # parameters bound by the server, and a statement run DATABASE_PREPARE_THRESHOLD times on a connection
        # prepared there (planned once: the loop's hot statements cost more to plan than to run).
        # DATABASE_PREPARE_THRESHOLD=off behind a pooler in transaction mode (pgbouncer), which cannot keep
        # prepared statements per client.
        threshold = os.environ.get("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
        if threshold not in ("off", "none", ""):
            config.setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": int(threshold)})
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


# Base maps a deployment can name in MAP_TILES instead of writing tile addresses. The key of a preset that
# needs one is the deployment's own and comes from MAP_TILE_KEY: never from the code. Every map draws its
# cells on top; without a base map (the default) they are drawn on a plain background, which needs no
# connection beyond this site (an offline intranet).
_TIANDITU = ("https://t{s}.tianditu.gov.cn/%(layer)s_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER=%(layer)s&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
             "&tk=%(key)s")
MAP_PRESETS: dict[str, dict] = {
    # 天地图: the vector map and its Chinese annotation (CGCS2000, which agrees with WGS-84 at map scale)
    "tianditu": {"needs_key": True, "crs": "EPSG3857", "layers": [
        {"url": _TIANDITU.replace("%(layer)s", "vec"), "subdomains": "01234567", "max_zoom": 18,
         "attribution": "© 天地图 Tianditu"},
        {"url": _TIANDITU.replace("%(layer)s", "cva"), "subdomains": "01234567", "max_zoom": 18,
         "attribution": ""},
    ]},
    # 高德: its tiles are drawn in GCJ-02, so the maps draw the cells (WGS-84) through GCJ-02 on top of them
    "amap": {"needs_key": False, "crs": "GCJ02", "layers": [
        {"url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
         "subdomains": "1234", "max_zoom": 18, "attribution": "© 高德地图 AutoNavi"},
    ]},
}


def map_tiles() -> dict:
    """The base map of every Leaflet map: {"preset", "crs", "layers": [{url, subdomains, max_zoom,
    attribution}]}, from MAP_TILES (a preset of MAP_PRESETS, its key in MAP_TILE_KEY) or MAP_TILE_URL (any
    tile server); MAP_TILE_ATTRIBUTION, when set, replaces the first layer's attribution. Neither set: no
    layers, the cells on a plain background. A preset that needs a key and has none, or an unknown
    preset, stops the start with the reason."""
    preset = env_str("MAP_TILES", "").strip().lower()
    key = env_str("MAP_TILE_KEY", "").strip()
    url = env_str("MAP_TILE_URL", "").strip()
    attribution = env_str("MAP_TILE_ATTRIBUTION", "")
    if not preset:
        if not url:
            return {"preset": "", "crs": "EPSG3857", "layers": []}
        return {"preset": "", "crs": "EPSG3857",
                "layers": [{"url": url, "subdomains": "abc", "max_zoom": 19, "attribution": attribution}]}
    spec = MAP_PRESETS.get(preset)
    if spec is None:
        raise ValueError(f"environment variable MAP_TILES must be one of {', '.join(MAP_PRESETS)} or unset, "
                         f"got {preset!r}")
    if spec["needs_key"] and not key:
        raise ValueError(f"MAP_TILES={preset} needs MAP_TILE_KEY: the browser key of your {preset} account")
    if spec["needs_key"] and not all(c.isalnum() or c in "-_" for c in key):
        raise ValueError("MAP_TILE_KEY must hold letters, digits, '-' and '_' only")
    layers = [{**layer, "url": layer["url"].replace("%(key)s", key)} for layer in spec["layers"]]
    if attribution:
        layers[0]["attribution"] = attribution
    return {"preset": preset, "crs": spec["crs"], "layers": layers}
