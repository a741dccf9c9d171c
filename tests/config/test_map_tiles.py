"""Base-map presets: MAP_TILES names Tianditu or AMap, the key comes from MAP_TILE_KEY (never the code), the
default stays the plain offline background, and the policy lets the browser fetch the preset's tiles only."""

from __future__ import annotations

import pytest
from django.test import Client

from config.env import MAP_PRESETS, map_tiles
from config.settings.base import _tile_source

KEY = "0123456789abcdef0123456789abcdef"
NAMES = ("MAP_TILES", "MAP_TILE_KEY", "MAP_TILE_URL", "MAP_TILE_ATTRIBUTION")


@pytest.fixture
def env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_settings_the_maps_have_no_base_layer(env):
    # when nothing is set
    tiles = map_tiles()
    # then no layer: the cells on a plain background, nothing fetched from outside
    assert tiles == {"preset": "", "crs": "EPSG3857", "layers": []}


def test_the_tianditu_preset_takes_its_key_from_the_environment(env):
    # given
    env.setenv("MAP_TILES", "tianditu")
    env.setenv("MAP_TILE_KEY", KEY)
    # when
    tiles = map_tiles()
    # then the vector map and its annotation, both with the key, on Web Mercator
    assert tiles["preset"] == "tianditu" and tiles["crs"] == "EPSG3857"
    assert [layer["url"].split("/")[3] for layer in tiles["layers"]] == ["vec_w", "cva_w"]
    assert all(layer["url"].endswith(f"&tk={KEY}") for layer in tiles["layers"])
    assert {s for layer in tiles["layers"] for s in _tile_source(layer["url"])} == {"https://*.tianditu.gov.cn"}
    # and no key is written in the presets themselves
    assert all("%(key)s" in layer["url"] for layer in MAP_PRESETS["tianditu"]["layers"])


def test_the_tianditu_preset_without_a_key_stops_the_start(env):
    # given
    env.setenv("MAP_TILES", "tianditu")
    # when / then
    with pytest.raises(ValueError, match="MAP_TILE_KEY"):
        map_tiles()


@pytest.mark.parametrize("key", ["abc&tk=other", "abc def", "abc/../x"])
def test_a_key_that_would_change_the_address_is_refused(env, key):
    env.setenv("MAP_TILES", "tianditu")
    env.setenv("MAP_TILE_KEY", key)
    with pytest.raises(ValueError, match="MAP_TILE_KEY"):
        map_tiles()


def test_the_amap_preset_draws_the_cells_through_gcj02(env):
    # given
    env.setenv("MAP_TILES", "AMap")
    env.setenv("MAP_TILE_ATTRIBUTION", "© 高德地图 GS(2024)0000号")
    # when
    tiles = map_tiles()
    # then its tiles, its projection, the attribution set by the deployment
    assert tiles["preset"] == "amap" and tiles["crs"] == "GCJ02"
    assert _tile_source(tiles["layers"][0]["url"]) == ["https://*.is.autonavi.com"]
    assert tiles["layers"][0]["attribution"] == "© 高德地图 GS(2024)0000号"


def test_an_unknown_preset_stops_the_start(env):
    env.setenv("MAP_TILES", "baidu")
    with pytest.raises(ValueError, match="MAP_TILES"):
        map_tiles()


def test_a_tile_url_still_gives_one_layer(env):
    env.setenv("MAP_TILE_URL", "https://tiles.example.gov.cn/{z}/{x}/{y}.png")
    env.setenv("MAP_TILE_ATTRIBUTION", "© 区测绘院")
    assert map_tiles()["layers"] == [{"url": "https://tiles.example.gov.cn/{z}/{x}/{y}.png", "subdomains": "abc",
                                      "max_zoom": 19, "attribution": "© 区测绘院"}]


@pytest.mark.django_db
def test_the_pages_carry_the_base_map_as_data(env, settings):
    # given the Tianditu preset
    env.setenv("MAP_TILES", "tianditu")
    env.setenv("MAP_TILE_KEY", KEY)
    settings.MAP_TILES = map_tiles()
    # when a page is opened
    html = Client().get("/").content.decode()
    # then its maps find the layers in a JSON script, not in markup
    assert '<script id="map-tiles" type="application/json">' in html
    assert "cva_w" in html and KEY in html


@pytest.mark.django_db
def test_without_a_base_map_no_tile_data_is_written(settings):
    settings.MAP_TILES = {"preset": "", "crs": "EPSG3857", "layers": []}
    assert 'id="map-tiles"' not in Client().get("/").content.decode()
