"""The one rule for names of people and units typed or imported anywhere (residents, legal
representatives, people in charge, reporters, entity names).

A name may hold letters, marks, digits, punctuation, symbols and ordinary spaces. It may not hold
characters that change how text around it is shown without being seen themselves: bidirectional
controls (U+202A–202E, U+2066–2069, U+200E/F; a right-to-left override turns "张三" + "exe.pdf" into
another visible text), zero-width characters (U+200B–200D, U+2060, U+FEFF; two names that look equal
become different rows and defeat duplicate checks) and every other format (Cf), control (Cc),
private-use (Co) or surrogate (Cs) code point, and no line or paragraph separators. Whitespace runs
are folded to one space first, so a tab or a line break from a spreadsheet cell is not refused.
The error names the field and the code point, never the name itself (it is personal data).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})


def name_problem(value: str) -> tuple[int, str] | None:
    """(position from 1, code point as U+XXXX) of the first refused character of `value`, or None."""
    for index, char in enumerate(value, start=1):
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return index, f"U+{ord(char):04X}"
    return None


def name_clean(value: str, *, field: str = "name", label: str | None = None, limit: int = 100,
               required: bool = True) -> str:
    """`value` with its whitespace folded, checked against the rule above and cut to `limit`;
    ValidationError keyed by `field`, whose message names the field (`label`, else `field`)."""
    text = " ".join(str(value or "").split())
    what = label or field.replace("_", " ")
    if not text:
        if required:
            raise ValidationError({field: _("the %(field)s is required") % {"field": what}})
        return ""
    problem = name_problem(text)
    if problem is not None:
        position, code = problem
        raise ValidationError({field: _(
            "the %(field)s contains an invisible or text-direction control character (%(code)s at position "
            "%(position)d): type it again without that character") % {"field": what, "code": code,
                                                                       "position": position}})
    return text[:limit]


@deconstructible
class NameValidator:
    """The same rule as a model / form field validator (`validators=[NameValidator()]`)."""

    def __call__(self, value: str) -> None:
        problem = name_problem(str(value or ""))
        if problem is not None:
            position, code = problem
            raise ValidationError(_("contains an invisible or text-direction control character (%(code)s at "
                                    "position %(position)d): type it again without that character")
                                  % {"code": code, "position": position}, code="name_control_character")

    def __eq__(self, other) -> bool:
        return isinstance(other, NameValidator)

    def __hash__(self) -> int:
        return hash(type(self))


validate_name = NameValidator()
