"""The per-process caches of rarely-changing settings (`core.versioned`): every write path of each kind bumps
its counter (triggers), the next read sees the edit, a rolled-back edit never reaches the cache, and a
request reads the counters once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from gridgov.cases.grants import _grants
from gridgov.cases.models import ActionGrant, AssigneeKind, Case, CasePolicy, RoutingRule
from gridgov.cases.policy import policy_for
from gridgov.cases.services import case_policy_save
from gridgov.cases.services.resolve import matter_resolve, scheme_resolve
from gridgov.catalogue.models import Matter, SchemeCatalogue
from gridgov.catalogue.selectors import scheme_catalogue
from gridgov.catalogue.tests.factories import make_catalogue
from gridgov.core import versioned
from gridgov.core.models import ConfigVersion
from gridgov.territory.models import LevelScheme
from gridgov.territory.tests.factories import make_scheme
from gridgov.workdays import calendar
from gridgov.workdays.models import CalendarDay, WorkSchedule

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def statements(fn):
    with CaptureQueriesContext(connection) as ctx:
        value = fn()
    return value, len(ctx.captured_queries)


def counter(kind: str) -> int:
    return ConfigVersion.objects.filter(name=kind).values_list("value", flat=True).first() or 0


# ------------------------------------------------------------------------------------------- mechanism
def test_every_write_path_bumps_its_own_kind_only():
    # given a scheme and the counters now
    scheme = make_scheme()
    before = {k: counter(k) for k in versioned.KINDS}
    # when a policy is created, updated in bulk and deleted
    policy = CasePolicy.objects.create(scheme=scheme)
    after_create = counter(versioned.POLICY)
    CasePolicy.objects.filter(pk=policy.pk).update(duplicate_radius_m=5)
    after_update = counter(versioned.POLICY)
    CasePolicy.objects.filter(pk=policy.pk).delete()
    # then each write moved the policy counter on, and no other kind's
    assert before[versioned.POLICY] < after_create < after_update < counter(versioned.POLICY)
    assert {k: counter(k) for k in versioned.KINDS if k != versioned.POLICY} == {
        k: v for k, v in before.items() if k != versioned.POLICY}


def test_a_rolled_back_write_rolls_its_bump_back():
    scheme = make_scheme()
    before = counter(versioned.POLICY)
    with pytest.raises(Rollback), transaction.atomic():
        CasePolicy.objects.create(scheme=scheme)
        assert counter(versioned.POLICY) > before  # the transaction sees its own bump
        raise Rollback
    assert counter(versioned.POLICY) == before


def test_a_cached_read_costs_one_version_read_and_none_in_a_pinned_scope():
    # given a policy read once (cached)
    scheme = make_scheme()
    CasePolicy.objects.create(scheme=scheme, duplicate_radius_m=42)
    policy_for(scheme)
    # when it is read again, alone and then three kinds within a pinned scope
    _, alone = statements(lambda: policy_for(scheme))
    with versions_pinned_and_counted() as pinned:
        policy_for(scheme)
        scheme_resolve(scheme.key, None)
        calendar.schedule_periods(scheme)
    # then a lone read checks the counters (one statement); the pinned scope reads them once, and the
    # cached values after the first build cost nothing
    assert alone == 1
    assert pinned.count <= 3  # counters once + scheme and periods built once
    with versions_pinned_and_counted() as again:
        policy_for(scheme)
        scheme_resolve(scheme.key, None)
        calendar.schedule_periods(scheme)
    assert again.count == 1


class versions_pinned_and_counted:
    def __enter__(self):
        self._pin = versioned.versions_pinned()
        self._pin.__enter__()
        self._capture = CaptureQueriesContext(connection)
        self._capture.__enter__()
        return self

    def __exit__(self, *exc):
        self._capture.__exit__(*exc)
        self._pin.__exit__(*exc)
        self.count = len(self._capture.captured_queries)


def test_a_write_in_a_pinned_scope_makes_the_next_read_look_again():
    scheme = make_scheme()
    policy = CasePolicy.objects.create(scheme=scheme, duplicate_radius_m=10)
    with versioned.versions_pinned():
        assert policy_for(scheme).duplicate_radius_m == 10
        policy.duplicate_radius_m = 20
        policy.save()  # an UPDATE: the pinned counters are forgotten
        assert policy_for(scheme).duplicate_radius_m == 20


def test_a_request_reads_the_counters_only_when_it_needs_them(client):
    # when an anonymous page that reads none of the settings is served
    with CaptureQueriesContext(connection) as ctx:
        client.get("/login/")
    # then the counters are not read at all
    assert not [q for q in ctx.captured_queries if versioned.TABLE in q["sql"]]


# ------------------------------------------------------------------------------------------- each kind
def test_policy_edit_is_seen_and_a_rolled_back_one_never_is():
    scheme = make_scheme()
    policy = CasePolicy.objects.create(scheme=scheme, duplicate_radius_m=10)
    assert policy_for(scheme).duplicate_radius_m == 10
    # an edit through the service is seen by the next read
    policy.duplicate_radius_m = 30
    case_policy_save(policy, actor=None)
    assert policy_for(scheme).duplicate_radius_m == 30
    # a rolled-back edit is seen inside its transaction only and never cached
    with pytest.raises(Rollback), transaction.atomic():
        CasePolicy.objects.filter(pk=policy.pk).update(duplicate_radius_m=99)
        assert policy_for(scheme).duplicate_radius_m == 99
        raise Rollback
    assert policy_for(scheme).duplicate_radius_m == 30
    # deleting the row falls back to the defaults
    CasePolicy.objects.filter(pk=policy.pk).delete()
    assert policy_for(scheme).pk is None


def test_grant_edit_is_seen_and_a_rolled_back_one_never_is():
    scheme = make_scheme()
    case = Case(scheme=scheme)
    assert not [g for g in _grants(case, "register") if g.scheme_id == scheme.pk]
    grant = ActionGrant.objects.create(scheme=scheme, action="register", holder="OWNER")
    assert [g.pk for g in _grants(case, "register") if g.scheme_id == scheme.pk] == [grant.pk]
    with pytest.raises(Rollback), transaction.atomic():
        ActionGrant.objects.filter(pk=grant.pk).delete()
        assert not [g for g in _grants(case, "register") if g.scheme_id == scheme.pk]
        raise Rollback
    assert [g.pk for g in _grants(case, "register") if g.scheme_id == scheme.pk] == [grant.pk]
    ActionGrant.objects.bulk_create([ActionGrant(scheme=scheme, action="register", holder="CENTRE")])
    assert len([g for g in _grants(case, "register") if g.scheme_id == scheme.pk]) == 2


def test_calendar_edit_is_seen_and_a_rolled_back_one_never_is():
    day = dt.date(2031, 3, 3)  # a Monday, beyond the bundled statutory data
    assert calendar.is_workday(day)
    row = CalendarDay.objects.create(date=day, is_workday=False, name="local")
    assert not calendar.is_workday(day)
    with pytest.raises(Rollback), transaction.atomic():
        CalendarDay.objects.filter(pk=row.pk).update(is_workday=True)
        assert calendar.is_workday(day)
        raise Rollback
    assert not calendar.is_workday(day)
    # working hours too
    periods = calendar.schedule_periods(None)
    WorkSchedule.objects.update_or_create(scheme=None, defaults={"periods": [["09:00", "17:00"]]})
    assert calendar.schedule_periods(None) != periods
    assert calendar.schedule_periods(None) == ((dt.time(9), dt.time(17)),)


def test_catalogue_edit_is_seen_and_a_rolled_back_one_never_is():
    scheme = make_scheme()
    catalogue = make_catalogue()
    assert scheme_catalogue(scheme) == catalogue
    assert matter_resolve(scheme=scheme, matter="07002").name_zh == "暴露垃圾"
    Matter.objects.filter(catalogue=catalogue, code="07002").update(name_zh="暴露垃圾（改）")
    assert matter_resolve(scheme=scheme, matter="07002").name_zh == "暴露垃圾（改）"
    with pytest.raises(Rollback), transaction.atomic():
        Matter.objects.filter(catalogue=catalogue, code="07002").update(active=False)
        with pytest.raises(Exception, match="no longer in use"):
            matter_resolve(scheme=scheme, matter="07002")
        raise Rollback
    assert matter_resolve(scheme=scheme, matter="07002").active
    # which catalogue a scheme uses
    other = make_catalogue("other")
    SchemeCatalogue.objects.create(scheme=scheme, catalogue=other)
    assert scheme_catalogue(scheme) == other


def test_scheme_edit_is_seen_and_a_rolled_back_one_never_is():
    scheme = make_scheme("alpha")
    assert scheme_resolve(None, None) == scheme  # the only scheme
    assert scheme_resolve("alpha", None) == scheme
    with pytest.raises(Rollback), transaction.atomic():
        LevelScheme.objects.filter(pk=scheme.pk).update(key="beta")
        assert scheme_resolve("beta", None) == scheme
        raise Rollback
    with pytest.raises(Exception, match="unknown level scheme"):
        scheme_resolve("beta", None)
    make_scheme("gamma")
    with pytest.raises(Exception, match="name the level scheme"):
        scheme_resolve(None, None)  # two schemes now


def test_routing_rule_writes_bump_the_routing_counter():
    scheme = make_scheme()
    before = counter(versioned.ROUTING)
    rule = RoutingRule.objects.create(scheme=scheme, order=1, name="r", target=AssigneeKind.values[0])
    assert counter(versioned.ROUTING) > before
    middle = counter(versioned.ROUTING)
    RoutingRule.objects.filter(pk=rule.pk).delete()
    assert counter(versioned.ROUTING) > middle


def test_team_edits_are_seen_and_a_rolled_back_one_never_is():
    from gridgov.accounts.models import Team
    from gridgov.cases.notify import team_member_ids
    from gridgov.cases.routing import department_team_for
    from gridgov.cases.tests.factories import make_loop
    from gridgov.territory.tests.factories import make_tree

    scheme = make_scheme()
    tree = make_tree(scheme)
    loop = make_loop(scheme, tree)
    team = department_team_for(scheme_id=scheme.pk, key="water", node=tree["g1"])
    assert team == loop.water_team
    assert team_member_ids(team.pk) == {loop.handler.pk}
    # a new team for the grid's community answers for it from the next read
    near = Team.objects.create(department=loop.water, name="一社区水务")
    near.areas.add(tree["g1"].parent)
    assert department_team_for(scheme_id=scheme.pk, key="water", node=tree["g1"]) == near
    # a member added, and a login switched off, are seen at the next read
    near.members.add(loop.worker)
    assert team_member_ids(near.pk) == {loop.worker.pk}
    type(loop.worker).objects.filter(pk=loop.worker.pk).update(is_active=False)
    assert team_member_ids(near.pk) == frozenset()
    # a rolled-back edit is seen inside its transaction only
    with pytest.raises(Rollback), transaction.atomic():
        Team.objects.filter(pk=near.pk).delete()
        assert department_team_for(scheme_id=scheme.pk, key="water", node=tree["g1"]) == loop.water_team
        raise Rollback
    assert department_team_for(scheme_id=scheme.pk, key="water", node=tree["g1"]) == near


def test_assignment_edits_are_seen_by_the_roles_and_the_offices():
    from gridgov.accounts import services as account_services
    from gridgov.cases.grants import user_assignments
    from gridgov.cases.notify import office_ids_over
    from gridgov.cases.tests.factories import make_loop
    from gridgov.territory.tests.factories import make_tree

    scheme = make_scheme()
    tree = make_tree(scheme)
    loop = make_loop(scheme, tree)
    assert office_ids_over(tree["g1"]) == {loop.office.pk}
    held = user_assignments(loop.worker.pk)
    _, cached = statements(lambda: (user_assignments(loop.worker.pk), office_ids_over(tree["g1"])))
    assert cached == 2  # the counters, once each
    # the grid worker also takes an office role on the street: both reads see it next
    office_role = loop.office.person.assignments.first().role
    account_services.assignment_create(person=loop.worker.person, node=tree["street"], role=office_role)
    assert len(user_assignments(loop.worker.pk)) == len(held) + 1
    assert office_ids_over(tree["g1"]) == {loop.office.pk, loop.worker.pk}


def test_closed_cases_behind_a_prediction_are_kept_for_a_bounded_time(monkeypatch):
    from gridgov.cases import routing

    reads = []
    monkeypatch.setattr(routing.Case.objects, "filter", lambda **kw: reads.append(kw) or routing.Case.objects.none())
    clock = [1000.0]
    monkeypatch.setattr(versioned.time, "monotonic", lambda: clock[0])
    routing.closures(1, 2)
    routing.closures(1, 2)
    assert len(reads) == 1
    clock[0] += routing.PREDICTION_SECONDS - 1
    routing.closures(1, 2)
    assert len(reads) == 1
    clock[0] += 2
    routing.closures(1, 2)
    assert len(reads) == 2


def test_every_watched_table_has_its_trigger_and_no_other_table_has_one():
    # when the triggers the migrations installed are listed
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_config_bump_%'")
        else:
            cursor.execute("SELECT DISTINCT event_object_table FROM information_schema.triggers "
                           "WHERE trigger_name LIKE '%_config_bump'")
        tables = {row[0] for row in cursor.fetchall()}
    # then they are exactly the tables whose writes forget a pinned snapshot
    assert tables == set(versioned.TABLE_KINDS)


def test_a_write_to_another_table_keeps_the_pinned_counters():
    scheme = make_scheme()
    with versioned.versions_pinned():
        policy_for(scheme)
        CasePolicy.objects.create(scheme=make_scheme())  # a watched table: read again
        policy_for(scheme)
        Case.objects.filter(pk=-1).update(place="x")  # not watched: no counter moved
        _, again = statements(lambda: policy_for(scheme))
    assert again == 0


def test_a_located_cell_row_is_cached_until_a_node_is_written():
    from gridgov.territory.locate import locate
    from gridgov.territory.tests.factories import make_tree

    scheme = make_scheme()
    tree = make_tree(scheme)
    assert locate(116.01, 40.01, scheme=scheme).name == "一网格"
    _, cached = statements(lambda: locate(116.01, 40.01, scheme=scheme))
    assert cached == 1  # the counters only
    # a rename (no change of the territory's shape) is seen by the next locate
    type(tree["g1"]).objects.filter(pk=tree["g1"].pk).update(name="第一网格")
    assert locate(116.01, 40.01, scheme=scheme).name == "第一网格"
