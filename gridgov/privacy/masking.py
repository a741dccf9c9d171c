"""How personal data looks to someone who has not revealed it.

Masks keep enough to tell records apart on a list (the ID number's region and last four, a phone's
prefix and last four, a surname, an address up to its road or village) and hide the rest. Name and
address masks are fixed-width: what is hidden always shows as the same stars, so a mask never tells
how long the hidden part is (``张**`` for 张三 and for 张三丰 alike).
"""

from __future__ import annotations

import re

MASK = "*"
_DIGITS = re.compile(r"\d")
# an address keeps its place names and hides every number (building, unit, floor, room, house number)
_ADDRESS_KEEP = 6


def mask_id_number(number: str) -> str:
    """``110105********002X``: the region code and the last four (sequence and check digit)."""
    if not number:
        return ""
    if len(number) <= 10:
        return MASK * len(number)
    return number[:6] + MASK * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """``138****5678`` for a mobile; a landline keeps its area code and last four."""
    if not phone:
        return ""
    digits = phone.replace("-", "")
    if len(digits) == 11 and digits.startswith("1"):
        return digits[:3] + MASK * 4 + digits[-4:]
    if "-" in phone:
        area, _sep, local = phone.partition("-")
        return f"{area}-{MASK * max(len(local) - 4, 1)}{local[-4:]}" if len(local) > 4 else f"{area}-{MASK * len(local)}"
    return MASK * max(len(phone) - 4, 1) + phone[-4:] if len(phone) > 4 else MASK * len(phone)


NAME_STARS = MASK * 2
ADDRESS_STARS = MASK * 4


def mask_name(name: str) -> str:
    """The first character and always two stars, whatever the length: ``张**``, ``欧**``, ``J**``. A
    one-character name shows no character at all (``***``): its first character is the whole name."""
    name = (name or "").strip()
    if not name:
        return ""
    if len(name) == 1:
        return MASK + NAME_STARS
    return name[0] + NAME_STARS


def mask_address(address: str) -> str:
    """The leading place names as written (at most six characters, and never past the first digit),
    then four stars for whatever follows, however long: ``白云寺村****``."""
    address = (address or "").strip()
    if not address:
        return ""
    first_digit = _DIGITS.search(address)
    keep = min(_ADDRESS_KEEP, first_digit.start() if first_digit else _ADDRESS_KEEP)
    head, rest = address[:keep], address[keep:]
    return head + (ADDRESS_STARS if rest else "")
