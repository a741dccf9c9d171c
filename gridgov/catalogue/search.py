"""Finding a matter by what a grid worker types on a phone: part of its Chinese name (井盖), its code
(01001), its English name (manhole), its pinyin (jinggai) or the initials of its pinyin (jg).

Polyphonic characters (重, 行, 长 ...) match under any of their readings, so a worker who types the
reading they know finds the matter. The pinyin keys of a catalogue are worked out once per process and
catalogue state (id, version, last change, number and highest id of its matters: `catalogue_load` bumps
the version on every change) and kept in memory.

Only the active matters of the catalogue are offered: intake accepts any of them (admission to a duty
list decides who may be dispatched a case, not what may be reported)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import Count, Max, Q
from pypinyin import Style, lazy_pinyin, pinyin

from gridgov.catalogue.models import Catalogue, Matter
from gridgov.catalogue.selectors import scheme_catalogue

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")

# rank of a match, best first
EXACT_CODE, CODE_PREFIX, EXACT_NAME, NAME_PREFIX, INITIALS_PREFIX, PINYIN_PREFIX, NAME_SUBSTRING, \
    INITIALS_SUBSTRING, PINYIN_SUBSTRING, ENGLISH_PREFIX, ENGLISH_SUBSTRING = range(11)


@dataclass(frozen=True)
class _Keys:
    """What a matter is matched on, worked out once."""

    pk: int
    code: str
    name_zh: str
    name_en: str  # lower case
    readings: tuple[tuple[str, ...], ...]  # per character of the name: its possible pinyin (or the letter/digit)
    default_pinyin: str  # the phrase-aware reading, no spaces
    default_initials: str


def _readings(name: str) -> tuple[tuple[str, ...], ...]:
    out = []
    for char in name:
        if _HAN.match(char):
            options = [p for p in pinyin(char, style=Style.NORMAL, heteronym=True)[0] if p.isascii() and p.isalpha()]
            if options:
                out.append(tuple(dict.fromkeys(options)))
        elif char.isascii() and char.isalnum():
            out.append((char.lower(),))
        # punctuation and spaces are not typed when searching
    return tuple(out)


def _default(name: str) -> tuple[str, str]:
    syllables = [s for s in lazy_pinyin(name, style=Style.NORMAL, errors="ignore") if s]
    initials = [s for s in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore") if s]
    spelled = "".join(_WORD.findall("".join(syllables).lower()))
    return spelled, "".join(_WORD.findall("".join(initials).lower()))


def _keys(matter_rows) -> tuple[_Keys, ...]:
    out = []
    for pk, code, name_zh, name_en in matter_rows:
        spelled, initials = _default(name_zh)
        out.append(_Keys(pk=pk, code=code, name_zh=name_zh, name_en=(name_en or "").lower(),
                         readings=_readings(name_zh), default_pinyin=spelled, default_initials=initials))
    return tuple(out)


@lru_cache(maxsize=32)
def _catalogue_keys(catalogue_id: int, state: tuple) -> tuple[_Keys, ...]:
    rows = (Matter.objects.filter(catalogue_id=catalogue_id, active=True)
            .order_by("code").values_list("pk", "code", "name_zh", "name_en"))
    return _keys(rows)


def _state(catalogue: Catalogue) -> tuple:
    """What changes whenever the catalogue's matters change (the cache key beside the catalogue's id)."""
    figures = Matter.objects.filter(catalogue=catalogue).aggregate(n=Count("pk"), top=Max("pk"),
                                                                   active=Count("pk", filter=Q(active=True)))
    fresh = Catalogue.objects.filter(pk=catalogue.pk).values_list("version", "updated_at").first() or (0, None)
    return (*fresh, figures["n"], figures["top"], figures["active"])


def _initials_at(readings, query: str, start: int) -> bool:
    """Do the characters from `start` on begin with initials spelling `query` (any reading of each)?"""
    if start + len(query) > len(readings):
        return False
    return all(any(r.startswith(letter) for r in readings[start + i]) for i, letter in enumerate(query))


def _spelled_at(readings, query: str, start: int) -> bool:
    """Do the readings from `start` on spell `query` (whole syllables, the last one may be cut short)?"""
    if not query:
        return True
    if start >= len(readings):
        return False
    for syllable in readings[start]:
        if query.startswith(syllable) and _spelled_at(readings, query[len(syllable):], start + 1):
            return True
        if syllable.startswith(query):
            return True
    return False


def _rank(keys: _Keys, query: str, latin: str) -> int | None:
    """The best rank at which `keys` match the query, or None. `latin` is the query lower-cased without
    spaces when it is all letters and digits (else empty: pinyin and codes need not be tried)."""
    if keys.code == query:
        return EXACT_CODE
    if query.isdigit():
        return CODE_PREFIX if keys.code.startswith(query) else None
    if keys.name_zh == query:
        return EXACT_NAME
    if keys.name_zh.startswith(query):
        return NAME_PREFIX
    best = None
    if latin:
        if keys.default_initials.startswith(latin) or _initials_at(keys.readings, latin, 0):
            best = INITIALS_PREFIX
        elif len(latin) > 1 and (keys.default_pinyin.startswith(latin) or _spelled_at(keys.readings, latin, 0)):
            best = PINYIN_PREFIX
    if query in keys.name_zh:
        return NAME_SUBSTRING if best is None else min(best, NAME_SUBSTRING)
    if best is not None:
        return best
    if latin:
        starts = range(1, len(keys.readings))
        if latin in keys.default_initials or any(_initials_at(keys.readings, latin, i) for i in starts):
            return INITIALS_SUBSTRING
        if len(latin) > 1 and (latin in keys.default_pinyin or any(_spelled_at(keys.readings, latin, i)
                                                                    for i in starts)):
            return PINYIN_SUBSTRING
    lowered = query.lower()
    if keys.name_en and len(lowered) > 1:
        if any(word.startswith(lowered) for word in keys.name_en.split()) or keys.name_en.startswith(lowered):
            return ENGLISH_PREFIX
        if lowered in keys.name_en:
            return ENGLISH_SUBSTRING
    return None


def _catalogue_of(*, catalogue: Catalogue | None, scheme) -> Catalogue | None:
    if catalogue is not None:
        return catalogue
    if scheme is None:
        raise TypeError("matter_search needs a catalogue or a scheme")
    return scheme_catalogue(scheme)


def matter_search(*, query: str, catalogue: Catalogue | None = None, scheme=None, limit: int = 10) -> list[Matter]:
    """The active matters of `catalogue` (or of the catalogue `scheme` uses) matching `query`,
    best first: exact code, code prefix, exact name, name prefix, pinyin initials prefix, pinyin prefix,
    name substring, initials or pinyin inside the name, English name; ties go to the shorter name (codes
    keep their order)."""
    query = (query or "").strip()
    found_in = _catalogue_of(catalogue=catalogue, scheme=scheme)
    if not query or found_in is None or limit <= 0:
        return []
    query = query[:50]
    compact = re.sub(r"[\s'’]+", "", query.lower())
    latin = compact if compact.isascii() and compact.isalnum() else ""
    ranked = []
    for keys in _catalogue_keys(found_in.pk, _state(found_in)):
        rank = _rank(keys, query, latin)
        if rank is not None:
            by_length = 0 if rank in (EXACT_CODE, CODE_PREFIX) else len(keys.name_zh)  # codes list in their order
            ranked.append((rank, by_length, keys.code, keys.pk))
    ranked.sort()
    ids = [pk for *_, pk in ranked[:limit]]
    matters = Matter.objects.filter(pk__in=ids).select_related("category").in_bulk()
    return [matters[pk] for pk in ids if pk in matters]
