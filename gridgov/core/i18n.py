"""Bilingual names: rows carry `name_zh` and `name_en`; show the one for the active language."""

from __future__ import annotations

from django.utils.translation import get_language


def localized(obj, field: str = "name") -> str:
    """Return obj.<field>_en when the active language is English and it is filled, else obj.<field>_zh."""
    lang = (get_language() or "zh-hans").lower()
    zh = getattr(obj, f"{field}_zh", "") or ""
    en = getattr(obj, f"{field}_en", "") or ""
    if lang.startswith("en"):
        return en or zh
    return zh or en
