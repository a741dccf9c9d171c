"""Cleaning one input row: cell values as text, dates, numbers, vocabularies, flags and coordinates,
every problem of a row collected at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from gridgov.people.models import (
    Occupancy,
    Relation,
)

# ---------------------------------------------------------------------------------------- vocabularies
RELATIONS: dict[str, str] = {
    **{r.value: r.value for r in Relation},
    "户主": "HEAD", "本人": "HEAD", "户主本人": "HEAD",
    "配偶": "SPOUSE", "妻": "SPOUSE", "夫": "SPOUSE", "妻子": "SPOUSE", "丈夫": "SPOUSE",
    "子": "CHILD", "女": "CHILD", "儿子": "CHILD", "女儿": "CHILD", "子女": "CHILD", "长子": "CHILD", "次子": "CHILD",
    "长女": "CHILD", "次女": "CHILD", "独生子": "CHILD", "独生女": "CHILD", "养子": "CHILD", "养女": "CHILD",
    "儿媳": "CHILD_IN_LAW", "女婿": "CHILD_IN_LAW", "媳妇": "CHILD_IN_LAW",
    "孙子": "GRANDCHILD", "孙女": "GRANDCHILD", "外孙": "GRANDCHILD", "外孙子": "GRANDCHILD", "外孙女": "GRANDCHILD",
    "孙子女": "GRANDCHILD",
    "父亲": "PARENT", "母亲": "PARENT", "父母": "PARENT", "父": "PARENT", "母": "PARENT", "公公": "PARENT",
    "婆婆": "PARENT", "岳父": "PARENT", "岳母": "PARENT",
    "祖父": "GRANDPARENT", "祖母": "GRANDPARENT", "外祖父": "GRANDPARENT", "外祖母": "GRANDPARENT",
    "祖父母": "GRANDPARENT", "爷爷": "GRANDPARENT", "奶奶": "GRANDPARENT",
    "兄弟": "SIBLING", "姐妹": "SIBLING", "兄": "SIBLING", "弟": "SIBLING", "姐": "SIBLING", "妹": "SIBLING",
    "兄弟姐妹": "SIBLING", "哥哥": "SIBLING", "弟弟": "SIBLING", "姐姐": "SIBLING", "妹妹": "SIBLING",
    "其他": "OTHER", "其它": "OTHER",
}
OCCUPANCIES: dict[str, str] = {
    **{o.value: o.value for o in Occupancy},
    "自住": "OWNER", "自有": "OWNER", "自用": "OWNER",
    "出租": "RENTED", "租赁": "RENTED", "租住": "RENTED",
    "空置": "VACANT", "闲置": "VACANT", "空闲": "VACANT",
}
RESIDENT_STATES: dict[str, str] = {
    "ACTIVE": "ACTIVE", "MOVED_OUT": "MOVED_OUT", "DECEASED": "DECEASED", "REMOVED": "REMOVED",
    "在住": "ACTIVE", "正常": "ACTIVE", "现住": "ACTIVE", "迁出": "MOVED_OUT", "外迁": "MOVED_OUT",
    "死亡": "DECEASED", "已故": "DECEASED", "注销": "REMOVED",
}
YES = {"1", "true", "yes", "y", "是", "有", "户籍", "户籍人口", "本地", "常住", "常住人口", "在住", "居住", "√"}
NO = {"0", "false", "no", "n", "否", "无", "流动", "流动人口", "外来", "外来人口", "寄住", "寄住人口", "境外人口",
      "不在住", "外出", "×"}
LIST_SPLIT = re.compile(r"[,，、;；\s]+")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S")


def as_text(value: Any) -> str:
    """A cell as text: numbers that are whole (a phone typed as a number) without '.0', dates as ISO."""
    if type(value) is str:
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time.min else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return " ".join(str(value).split())


def parse_date(value: Any) -> dt.date | None:
    """A date from a date, datetime, ISO text, 2024/1/5, 2024.1.5, 20240105, 2024年1月5日 or an Excel
    serial day number; None when empty; ValueError when none of these."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # Excel's serial days (1900 system)
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        raise ValueError("not a date")
    text = as_text(value)
    if not text:
        return None
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date")


class Row:
    """One input row being cleaned: typed values out, errors collected (field, reason) so that a row
    reports every problem it has at once."""

    __slots__ = ("data", "errors", "number", "texts")

    def __init__(self, number: int, data: dict[str, Any]):
        self.number = number
        self.data = data
        self.errors: list[tuple[str, str]] = []
        # text cells (nearly all of a CSV) inline, without a call of as_text each
        self.texts = {name: " ".join(value.split()) if type(value) is str else as_text(value)
                      for name, value in data.items()}

    def fail(self, name: str, reason: str) -> None:
        self.errors.append((name, str(reason)))

    def plain(self, name: str) -> str:
        """The value of `name` as text (see `as_text`), "" when missing."""
        return self.texts.get(name, "")

    def given(self, name: str) -> bool:
        return self.plain(name) != ""

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self.plain(name)
        if not value and required:
            self.fail(name, _("required: this column is empty"))
        return value[:limit]

    def date(self, name: str) -> dt.date | None:
        try:
            return parse_date(self.data.get(name))
        except ValueError:
            self.fail(name, _("not a date (write it as YYYY-MM-DD)"))
            return None

    def numeric(self, name: str, kind: type, *, minimum: float | None = None) -> Any:
        text = self.plain(name)
        if not text:
            return None
        try:
            value = kind(float(text)) if kind is int else kind(text)
            if kind is int and float(text) != value:
                raise ValueError
        except (TypeError, ValueError):
            self.fail(name, _("not a whole number") if kind is int else _("not a number"))
            return None
        if minimum is not None and value < minimum:
            self.fail(name, _("cannot be less than %(n)s") % {"n": minimum})
            return None
        return value

    def choice(self, name: str, vocabulary: dict[str, str]) -> str | None:
        text = self.plain(name)
        if not text:
            return None
        value = vocabulary.get(text) or vocabulary.get(text.upper())
        if value is None:
            self.fail(name, _("unknown value; one of %(c)s") % {"c": "、".join(
                k for k in vocabulary if not k.isascii())[:200]})
        return value

    def flag(self, name: str) -> bool | None:
        raw = self.data.get(name)
        if isinstance(raw, bool):
            return raw
        text = self.plain(name).lower()
        if not text:
            return None
        if text in YES:
            return True
        if text in NO:
            return False
        self.fail(name, _("say yes or no (是/否, 户籍/流动)"))
        return None

    def coords(self) -> tuple[float | None, float | None]:
        lon, lat = self.numeric("lon", float), self.numeric("lat", float)
        if (lon is None) != (lat is None):
            if not any(n in ("lon", "lat") for n, _r in self.errors):
                self.fail("lon" if lon is None else "lat", _("give both longitude and latitude, or neither"))
            return None, None
        if lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self.fail("lon", _("coordinates out of range (longitude −180…180, latitude −90…90)"))
            return None, None
        return lon, lat

    def cleaned(self, name: str, clean: Callable[..., Any]) -> Any:
        """`clean(value, field=name)` or None with its (value-free) reason recorded."""
        try:
            return clean(self.plain(name), field=name)
        except ValidationError as exc:
            self.fail(name, exc.messages[0])
            return None
