"""The rules of a node's code, written once: what a code at a level under a parent must look like.

Three kinds of level (see `Level`): the 12-digit national statistical division code (`admin_rank`: its
significant digits, then zeros, starting with the parent's significant digits), the parent's code
extended by `code_digits` sequence digits (grid levels), or a free code. `services.code_validate` adds
the uniqueness check (a code is never reused in a scheme) to these rules; the bulk importer checks
uniqueness for a whole chunk at once and applies these rules row by row."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from gridgov.territory.models import ADMIN_SIGNIFICANT_DIGITS, NATIONAL_CODE_LENGTH, Level

DIGITS = re.compile(r"^[0-9]+$")
FREE_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$")


def code_format_error(*, level: Level, code: str, parent_code: str | None, parent_level: Level | None,
                      check_prefix: bool = True) -> str | None:
    """Why `code` is not a valid code at `level` under a parent with `parent_code` (at `parent_level`), or
    None when it is. `check_prefix` False leaves out the national code's parent prefix (a division moved
    under another parent keeps its statistical code)."""
    if level.admin_rank:
        sig = ADMIN_SIGNIFICANT_DIGITS[level.admin_rank]
        if not DIGITS.match(code) or len(code) != NATIONAL_CODE_LENGTH:
            return _("%(code)r: a %(level)s code is the 12-digit national statistical division code") % {
                "code": code, "level": level.name_zh}
        if code[sig:] != "0" * (NATIONAL_CODE_LENGTH - sig) or int(code[:sig]) == 0:
            return _("%(code)r: a %(level)s code has %(n)d significant digits followed by zeros") % {
                "code": code, "level": level.name_zh, "n": sig}
        if check_prefix and parent_code and parent_level is not None and parent_level.admin_rank:
            psig = ADMIN_SIGNIFICANT_DIGITS[parent_level.admin_rank]
            if code[:psig] != parent_code[:psig]:
                return _("%(code)r does not start with the parent's code %(p)s") % {"code": code,
                                                                                     "p": parent_code[:psig]}
        return None
    if level.code_digits:
        if not parent_code:
            return _("a %(level)s code extends its parent's code, but the parent has none") % {
                "level": level.name_zh}
        expected = len(parent_code) + level.code_digits
        if not DIGITS.match(code) or len(code) != expected or not code.startswith(parent_code):
            return _("%(code)r: a %(level)s code is the parent's code %(p)s followed by %(n)d digits") % {
                "code": code, "level": level.name_zh, "p": parent_code, "n": level.code_digits}
        if int(code[len(parent_code):]) == 0:
            return _("%(code)r: the sequence digits cannot all be zero") % {"code": code}
        return None
    if not FREE_CODE.match(code):
        return _("%(code)r: use letters, digits, '-' or '_' (at most 32)") % {"code": code}
    return None
