"""Validating the identifiers of base data: resident ID numbers, phones, unified social credit codes.

Errors name the reason and never repeat the value (it may be personal data and end up in a log).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric, uscc

MALE = "M"
FEMALE = "F"
# mobile 1[3-9]x xxxx xxxx; landline 0 + area code (2-3 digits) + 7-8 digits, with or without a dash;
# short service numbers (95xxx, 12345, 400/800) for units
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
SERVICE = re.compile(r"^(?:[48]00\d{7}|95\d{3,6}|12\d{3})$")


class IdNumber(NamedTuple):
    number: str
    gender: str
    birth_date: dt.date


def id_number_clean(value: str, *, field: str = "id_number") -> IdNumber:
    """An 18-character resident identity card number (GB 11643-1999) with a correct check digit; the
    gender and birth date it encodes. Full-width digits and a lower-case x are accepted."""
    raw = (value or "").strip().translate(_FULL_WIDTH).upper().replace(" ", "")
    if not raw:
        raise ValidationError({field: _("an ID card number is required")})
    if len(raw) != 18:
        raise ValidationError({field: _("an ID card number has 18 characters, this one has %(n)d") % {"n": len(raw)}})
    if not (raw[:17].isdigit() and (raw[17].isdigit() or raw[17] == "X")):
        raise ValidationError({field: _("an ID card number is 17 digits followed by a digit or X")})
    if raw[17] != ric.calc_check_digit(raw):  # python-stdnum cn.ric (ISO 7064 MOD 11-2)
        raise ValidationError({field: _("the check digit (last character) of the ID card number is wrong")})
    birth = _birth_date(raw[6:14])
    if birth is None or birth > dt.date.today() or birth.year < 1880:
        raise ValidationError({field: _("the ID card number holds no valid birth date")})
    # The region must be one that exists or existed; not necessarily in the birth year (python-stdnum's own
    # check), since a number is issued where a person is first registered, often years after birth.
    if not _region_known(raw[:6]):
        raise ValidationError({field: _("the ID card number starts with no known region code")})
    number = raw
    gender = MALE if int(number[16]) % 2 else FEMALE
    return IdNumber(number, gender, birth)


def id_number_check_digit(first17: str) -> str:
    return ric.calc_check_digit(first17 + "0")  # (stdnum ignores the last character)


@functools.lru_cache(maxsize=65536)
def _birth_date(yyyymmdd: str) -> dt.date | None:
    try:
        return dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


@functools.lru_cache(maxsize=8192)
def _region_known(code: str) -> bool:
    return any(props for _part, props in numdb.get("cn/loc").info(code))


PERSON = "person"
UNIT = "unit"
PHONE_KINDS = (PERSON, UNIT)


def phone_clean(value: str, *, kind: str = PERSON, field: str = "phone", required: bool = False) -> str:
    """A phone, digits (and an area-code dash) only: a mobile or a landline for a person (`kind`
    PERSON: residents, reporters); for a legal entity (`kind` UNIT) also a service number
    (12345, 95xxx, 400 / 800 numbers), which is never a person's own phone."""
    if kind not in PHONE_KINDS:
        raise ValueError(f"unknown phone kind {kind!r}; one of {', '.join(PHONE_KINDS)}")
    cleaned = re.sub(r"[\s()+]", "", (value or "").translate(_FULL_WIDTH))
    if cleaned.startswith("86") and len(cleaned) == 13:
        cleaned = cleaned[2:]
    if not cleaned:
        if required:
            raise ValidationError({field: _("a phone number is required")})
        return ""
    if SERVICE.match(cleaned) and not (MOBILE.match(cleaned) or LANDLINE.match(cleaned)):
        if kind == UNIT:
            return cleaned
        raise ValidationError({field: _("%(field)s: a service number (such as 12345, 95xxx, 400 or 800 numbers) is "
                                        "not a person's phone; give the mobile or landline of the person "
                                        "(only legal entities may have service numbers)") % {"field": field}})
    if not (MOBILE.match(cleaned) or LANDLINE.match(cleaned)):
        raise ValidationError({field: _("not a phone number: a mobile has 11 digits starting with 1, a landline "
                                        "0 + area code + 7 or 8 digits")})
    return cleaned


def uscc_clean(value: str, *, field: str = "credit_code") -> str:
    """An 18-character unified social credit code (GB 32100-2015) with a correct check character."""
    raw = (value or "").strip().translate(_FULL_WIDTH).upper().replace(" ", "")
    if not raw:
        raise ValidationError({field: _("a unified social credit code is required")})
    if len(raw) != 18:
        raise ValidationError({field: _("a unified social credit code has 18 characters, this one has %(n)d")
                               % {"n": len(raw)}})
    try:
        return uscc.validate(raw)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError({field: _("the check character (last) of the unified social credit code is wrong")}) from None
    except stdnum_errors.ValidationError:
        raise ValidationError({field: _("not a valid unified social credit code")}) from None


_FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ－（）　", "0123456789xX-() ")
