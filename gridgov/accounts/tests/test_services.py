import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError

from gridgov.accounts import services
from gridgov.accounts.models import Assignment
from gridgov.accounts.selectors import node_public_people
from gridgov.accounts.tests.factories import make_role
from gridgov.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_one_person_may_hold_several_roles(tree, scheme):
    # given a grid worker who is also the grid's party branch secretary
    person = services.person_create(name="王芳", phone="13912345678")
    worker = make_role(scheme, "grid_worker")
    party = make_role(scheme, "party_secretary")
    # when
    services.assignment_create(person=person, node=tree["g1"], role=worker)
    services.assignment_create(person=person, node=tree["g1"], role=party)
    services.assignment_create(person=person, node=tree["g2"], role=worker)
    # then
    assert Assignment.objects.filter(person=person).count() == 3
    assert [a.role.key for a in node_public_people(tree["g1"])] == ["grid_worker", "party_secretary"]
    assert AuditEntry.objects.filter(action="accounts.assignment_create").count() == 3


def test_duplicate_assignment_is_refused_with_the_reason(tree, scheme):
    person = services.person_create(name="王芳", phone="13912345678")
    role = make_role(scheme)
    services.assignment_create(person=person, node=tree["g1"], role=role, start_date=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError) as err:
        services.assignment_create(person=person, node=tree["g1"], role=role, start_date=dt.date(2026, 6, 1))
    assert "already holds" in err.value.message_dict["role"][0]


def test_role_limited_to_levels(tree, scheme):
    person = services.person_create(name="李强", phone="13912345679")
    role = make_role(scheme, "grid_worker", levels=("grid",))
    with pytest.raises(ValidationError) as err:
        services.assignment_create(person=person, node=tree["community"], role=role)
    assert "allowed levels" in err.value.message_dict["role"][0]


def test_end_before_start_is_refused(tree, scheme):
    person = services.person_create(name="李强", phone="13912345679")
    with pytest.raises(ValidationError) as err:
        services.assignment_create(person=person, node=tree["g1"], role=make_role(scheme),
                                   start_date=dt.date(2026, 5, 1), end_date=dt.date(2026, 4, 1))
    assert "end_date" in err.value.message_dict


def test_bad_phone_is_refused():
    with pytest.raises(ValidationError) as err:
        services.person_create(name="张三", phone="1234567")
    assert "phone" in err.value.message_dict


def test_people_follow_a_split_grid(tree, scheme):
    from gridgov.territory import services as territory
    from gridgov.territory.tests.factories import square

    person = services.person_create(name="王芳", phone="13912345678")
    services.assignment_create(person=person, node=tree["g1"], role=make_role(scheme), start_date=dt.date(2026, 1, 1))
    on = dt.date.today() + dt.timedelta(days=1)
    big, _small = territory.node_split(tree["g1"], parts=[
        {"name": "大", "geometry": square(116.0, 40.0, 116.05, 40.08)},
        {"name": "小", "geometry": square(116.0, 40.08, 116.05, 40.1)},
    ], effective_date=on)
    current = Assignment.objects.get(person=person, end_date__isnull=True)
    assert current.node == big
    assert current.start_date == on
    assert Assignment.objects.get(person=person, node=tree["g1"]).end_date == on - dt.timedelta(days=1)


def test_repeated_failures_hold_the_name_back_from_that_address(settings, tree):
    # (the account lock itself needs failures from many addresses: see test_identity.py)
    settings.LOGIN_FAILURE_LIMIT = 3
    services.staff_user_create(username="grid1", password="Correct-horse-9")
    for _ in range(3):
        assert authenticate(username="grid1", password="wrong") is None
    # held back: even the right password is refused from there
    assert authenticate(username="grid1", password="Correct-horse-9") is None


def test_successful_login_resets_failures(tree):
    services.staff_user_create(username="grid2", password="Correct-horse-9")
    assert authenticate(username="grid2", password="wrong") is None
    assert authenticate(username="grid2", password="Correct-horse-9") is not None
