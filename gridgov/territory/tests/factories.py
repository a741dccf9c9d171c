"""Small builders for territory tests: a scheme, squares, a little tree."""

from __future__ import annotations

import datetime as dt
import itertools

from gridgov.territory import services
from gridgov.territory.models import AdminRank, Level, LevelScheme, Node

_counter = itertools.count(1)

STANDARD_LEVELS = [
    {"key": "district", "name_zh": "区", "name_en": "District", "admin_rank": AdminRank.COUNTY},
    {"key": "street", "name_zh": "街道", "name_en": "Street", "admin_rank": AdminRank.TOWNSHIP},
    {"key": "community", "name_zh": "社区", "name_en": "Community", "admin_rank": AdminRank.VILLAGE},
    {"key": "grid", "name_zh": "网格", "name_en": "Grid", "is_grid": True, "code_digits": 3},
    {"key": "microgrid", "name_zh": "微网格", "name_en": "Micro-grid", "is_grid": True, "code_digits": 3},
]


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A GeoJSON rectangle (lon/lat)."""
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def make_scheme(key: str | None = None) -> LevelScheme:
    return services.scheme_create(
        key=key or f"test{next(_counter)}", name_zh="测试区", name_en="Test district", levels=STANDARD_LEVELS,
        terms={
            "NODE_TYPE": [{"key": "comprehensive", "name_zh": "综合网格", "name_en": "Comprehensive"},
                          {"key": "dedicated", "name_zh": "专属网格", "name_en": "Dedicated"}],
            "MANAGEMENT_CLASS": [{"key": "1", "name_zh": "一类", "name_en": "Class 1"},
                                 {"key": "2", "name_zh": "二类", "name_en": "Class 2"}],
        },
    )


def level(scheme: LevelScheme, key: str) -> Level:
    return scheme.levels.get(key=key)


SINCE = dt.date(2020, 1, 1)


def make_tree(scheme: LevelScheme, *, origin=(116.0, 40.0)) -> dict[str, Node]:
    """district 110117 (0.1° square) → street → community → grids g1 (west half) and g2 (east half),
    all in force since 2020-01-01."""
    x, y = origin
    d = services.node_create(level=level(scheme, "district"), name="平谷区", code="110117000000",
                             valid_from=SINCE, geometry=square(x, y, x + 0.1, y + 0.1))
    s = services.node_create(level=level(scheme, "street"), parent=d, name="金海湖镇", code="110117213000",
                             valid_from=SINCE, geometry=square(x, y, x + 0.1, y + 0.1))
    c = services.node_create(level=level(scheme, "community"), parent=s, name="白云寺村", code="110117213202",
                             valid_from=SINCE, geometry=square(x, y, x + 0.1, y + 0.1))
    g1 = services.node_create(level=level(scheme, "grid"), parent=c, name="一网格", auto_code=True,
                              valid_from=SINCE, geometry=square(x, y, x + 0.05, y + 0.1))
    g2 = services.node_create(level=level(scheme, "grid"), parent=c, name="二网格", auto_code=True,
                              valid_from=SINCE, geometry=square(x + 0.05, y, x + 0.1, y + 0.1))
    return {"district": d, "street": s, "community": c, "g1": g1, "g2": g2}
