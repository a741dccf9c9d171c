"""Builders for base-data tests: valid ID numbers and credit codes, residents, households, houses."""

from __future__ import annotations

import datetime as dt
import itertools

from stdnum.cn import uscc

from gridgov.people import services
from gridgov.people.models import Relation
from gridgov.privacy.identifiers import id_number_check_digit

_seq = itertools.count(1)


def id_number(*, region: str = "110117", birth: dt.date = dt.date(1980, 1, 1), seq: int | None = None,
              male: bool = True) -> str:
    """A valid 18-character ID number (correct check digit); `seq` makes it unique."""
    n = next(_seq) if seq is None else seq
    order = (n % 500) * 2 + (1 if male else 0)
    birth = birth + dt.timedelta(days=n // 500)
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + id_number_check_digit(first17)


def credit_code(seq: int | None = None) -> str:
    n = next(_seq) if seq is None else seq
    first17 = f"91110117MA{n:07d}"
    return first17 + uscc.calc_check_digit(first17)


def make_house(scheme, node, *, code: str | None = None, **kwargs):
    n = next(_seq)
    return services.house_create(scheme=scheme, node=node, code=code or f"H{n:06d}",
                                 address=kwargs.pop("address", f"白云寺村{n}号"), **kwargs)


def make_household(scheme, node, *, number: str | None = None, head_name: str = "张三", members: int = 0,
                   **kwargs):
    """A household with a head (and `members` children); returns (household, [head, *members])."""
    household = services.household_create(scheme=scheme, node=node, number=number or f"HH{next(_seq):06d}",
                                          **kwargs)
    people = [services.resident_create(scheme=scheme, name=head_name, id_number=id_number(), household=household,
                                       relation=Relation.HEAD, phone=f"139{next(_seq):08d}")]
    for i in range(members):
        people.append(services.resident_create(scheme=scheme, name=f"张{i}", id_number=id_number(male=bool(i % 2)),
                                               household=household, relation=Relation.CHILD))
    return household, people


def make_resident(scheme, node, **kwargs):
    kwargs.setdefault("name", "李四")
    kwargs.setdefault("id_number", id_number())
    return services.resident_create(scheme=scheme, node=node, **kwargs)
