"""Statement budgets of the base-data pages (issue 13, item 7): the cell's lists and a household's page
run an exact number of statements whatever the number of rows they show (see
cases/tests/test_page_budgets.py for the loop's pages)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.accounts.tests.factories import make_role, make_staff
from gridgov.people import services
from gridgov.people.models import SpecialGroup
from gridgov.people.tests.factories import credit_code, id_number, make_house, make_household, make_resident

pytestmark = pytest.mark.django_db

_n = iter(range(1, 10_000))


def _rows(scheme, node, n: int):
    """`n` households of two members in `n` houses, each with a resident of a special group and a legal
    entity beside them."""
    group = SpecialGroup.objects.get(key="disabled")
    household = None
    for _ in range(n):
        i = next(_n)
        house = make_house(scheme, node, address=f"幸福路{i}号")
        household, _people = make_household(scheme, node, members=2, house=house, address=f"幸福路{i}号")
        resident = make_resident(scheme, node, name=f"王{i}", id_number=id_number(birth=dt.date(1970, 1, 1)),
                                 household=household, relation="CHILD")
        services.membership_add(resident=resident, group=group, start_date=dt.date(2022, 1, 1))
        services.entity_create(scheme=scheme, name=f"商店{i}", credit_code=credit_code(), node=node,
                               representative="钱老板", phone="13700001111")
    return household


PAGES = {
    "residents": ("/people/cells/{cell}/residents/", 13),
    "households": ("/people/cells/{cell}/households/", 11),
    "houses": ("/people/cells/{cell}/houses/", 11),
    "entities": ("/people/cells/{cell}/entities/", 11),
    "cell": ("/people/cells/{cell}/", 24),
    "household": ("/people/households/{household}/", 14),
}


def _statements(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("page", list(PAGES))
def test_a_base_data_page_runs_its_budget_whatever_the_number_of_rows(client, scheme, tree, page):
    url, budget = PAGES[page]
    worker = make_staff(tree["g1"], role=make_role(scheme, key="grid_worker", levels=("grid",)))
    client.force_login(worker)
    # given a few households, residents, houses and entities in the grid
    household = _rows(scheme, tree["g1"], 2)
    url = url.format(cell=tree["g1"].pk, household=household.pk)
    client.get(url)
    before = _statements(client, url)
    # when eight more come in (and the household page's household gets more members)
    _rows(scheme, tree["g1"], 8)
    for i in range(3):
        make_resident(scheme, tree["g1"], name=f"李{i}", id_number=id_number(birth=dt.date(1990, 1, 1)),
                      household=household, relation="OTHER")
    after = _statements(client, url)
    # then the page runs exactly its budget, before and after
    assert (before, after) == (budget, budget), page
