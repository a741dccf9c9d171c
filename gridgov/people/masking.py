"""How personal data looks to someone who has not revealed it.

Masks keep enough to tell records apart on a list (the ID number's region and last four, a phone's
prefix and last four, a surname, an address up to its road or village) and hide the rest.
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


def mask_name(name: str) -> str:
    """The first character, then one star per other character: ``张*``, ``欧**``, ``J***``."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + MASK * max(len(name) - 1, 1)


def mask_address(address: str) -> str:
    """The leading place names as written (at most six characters, and never past the first digit);
    after them every digit is hidden and anything beyond six more characters is cut to ``***``."""
    address = (address or "").strip()
    if not address:
        return ""
    first_digit = _DIGITS.search(address)
    keep = min(_ADDRESS_KEEP, first_digit.start() if first_digit else _ADDRESS_KEEP)
    head, rest = address[:keep], address[keep:]
    tail = _DIGITS.sub(MASK, rest[:_ADDRESS_KEEP])
    if len(rest) > _ADDRESS_KEEP:
        tail += MASK * 3
    return head + tail
