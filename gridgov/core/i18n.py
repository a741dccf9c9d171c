"""Bilingual names: rows carry `name_zh` and `name_en`; show the one for the active language."""

from __future__ import annotations

from django.utils.translation import get_language, gettext_noop


def localized(obj, field: str = "name") -> str:
    """Return obj.<field>_en when the active language is English and it is filled, else obj.<field>_zh."""
    lang = (get_language() or "zh-hans").lower()
    zh = getattr(obj, f"{field}_zh", "") or ""
    en = getattr(obj, f"{field}_en", "") or ""
    if lang.startswith("en"):
        return en or zh
    return zh or en


# Text of the libraries we ship that their own Chinese catalogues lack (Django 5.2's admin index headings, the
# token app's names): named here so that makemessages keeps them in our catalogue, which Django consults first.
THIRD_PARTY_TEXT = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Auth tokens"),
    gettext_noop("Auth token"),
    gettext_noop("Knox"),
)
