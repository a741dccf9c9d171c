"""`core.statements.Compiled` gives what its queryset gives: the same instances (every field), the same
`select_related` objects and the same annotations, for each call's values, with one compilation per key.
`row_update` / `row_insert` / `rows_write` store what `save()` stores, in one statement on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from gridgov.cases.models import Case, CaseEvent, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.services.transition import _case_lock_queryset
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.statements import Compiled, row_insert, row_update, rows_deferred, rows_write

pytestmark = pytest.mark.django_db

WATER = {"kind": "DEPARTMENT", "department": "water"}


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def _same(a, b, related: tuple[str, ...], annotations: tuple[str, ...]) -> None:
    assert _fields(a) == _fields(b)
    for name in related:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert _fields(x) == _fields(y), name
    for name in annotations:
        assert getattr(a, name) == getattr(b, name), name


def test_a_compiled_lock_gives_what_the_queryset_gives(scheme, tree):
    # given cases reported, dispatched to a team, and accepted
    loop = make_loop(scheme, tree)
    ids = []
    for i, step in enumerate(("report", "dispatch", "accept")):
        lon, lat = point_in(tree["g1"])
        case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon,
                           lat=lat, description=f"占道经营 {i}").case
        if step != "report":
            case = case_transition(case=case, actor=loop.office, action="register")
            case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
        if step == "accept":
            case = case_transition(case=case, actor=loop.handler, action="accept")
        ids.append(case.pk)
    compiled = Compiled(_case_lock_queryset)
    related = ("scheme", "node", "matter", "assignee_team", "owner")
    annotations = ("last_seq", "_has_stages", "_a_user_active", "_a_team", "_a_community", "_handled_round",
                   "_handled_any")
    with transaction.atomic():
        for pk in ids:
            # when each is read both ways
            expected, = list(_case_lock_queryset(pk))
            got, = compiled.rows(pk, key="today")
            # then they are the same, field for field
            _same(got, expected, related, annotations)
        # and an unknown id gives nothing, in one statement and no compilation more
        with CaptureQueriesContext(connection) as ctx:
            assert compiled.rows(-1, key="today") == []
        assert len(ctx.captured_queries) == 1
    assert len(compiled._statements) == 1


def test_a_compiled_statement_takes_several_values_and_refuses_one_it_cannot_place(scheme, tree):
    loop = make_loop(scheme, tree)
    compiled = Compiled(lambda a, b: (Case.objects.filter(pk__gte=a, pk__lte=b).select_related("node")
                                      .annotate(n=Count("events"), cell=F("node__name"))), arity=2)
    lon, lat = point_in(tree["g1"])
    made = [case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon + i * 1e-4,
                        lat=lat, description=f"x{i}").case.pk for i in range(3)]
    rows = compiled.rows(made[0], made[1])
    assert sorted(c.pk for c in rows) == made[:2]
    assert {c.n for c in rows} == {1} and {c.cell for c in rows} == {tree["g1"].name}
    assert {c.node.pk for c in rows} == {tree["g1"].pk}
    with pytest.raises(ValueError, match="not a parameter"):
        Compiled(lambda a: Case.objects.all()).rows(1)


def test_a_compiled_token_check_gives_what_its_queryset_gives(scheme, tree):
    # given two tokens of two users (a text column: the key)
    from knox.models import AuthToken

    from gridgov.accounts.authentication import _tokens_queryset

    loop = make_loop(scheme, tree)
    first, _ = AuthToken.objects.create(user=loop.office)
    second, _ = AuthToken.objects.create(user=loop.worker)
    compiled = Compiled(_tokens_queryset)
    # then each key gives its own token, user and person, as the queryset does; an unknown key none
    for token in (first, second):
        (got,) = compiled.rows(token.token_key)
        (want,) = _tokens_queryset(token.token_key)
        _same(got, want, related=("user",), annotations=())
        _same(got.user, want.user, related=("person",), annotations=())
    assert compiled.rows("no-such-key") == []


def _stored(model, pk) -> dict:
    return _fields(model.objects.get(pk=pk))


def test_row_writes_store_what_save_stores(scheme, tree):
    # given three identical cases, each read back from the database
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    a, b, c = (Case.objects.get(pk=case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme,
                                               matter="02001", lon=lon, lat=lat, description="占道经营").case.pk)
               for _i in range(3))
    read = _fields(c)
    # when all get the same changes (texts, a related object, a time, a decimal place, a null, a JSON value
    # changed in place), one saved by save(), one by a full row write with a new event, one by a write of
    # the columns changed since it was read
    when = a.reported_at
    for case in (a, b, c):
        case.state, case.version, case.assignee_team = "DISPATCHED", case.version + 1, loop.water_team
        case.reported_at, case.due_at, case.lon, case.parked_at, case.place = when, when, 116.5, None, "东门 <b>"
        case.attributes["floor"] = 3
    a.save()
    event = CaseEvent(case=b, seq=2, kind="dispatch", at=b.reported_at, actor=loop.office, actor_role="OFFICE",
                      node_id=b.node_id, old_values={"state": "REGISTERED"}, new_values={"state": "DISPATCHED"},
                      attachments=[])
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        rows_write(row_update(b), row_insert(event))
    changed = row_update(c, loaded=read)
    rows_write(changed)
    # then the three rows are the same but for their keys and numbers; the event is stored and counts as stored
    differ = {"id", "tracking_code", "created_at"}
    rows = [{k: v for k, v in _stored(Case, x.pk).items() if k not in differ} for x in (a, b, c)]
    assert rows[0] == rows[1] == rows[2]
    assert rows[0]["attributes"] == {"floor": 3}
    assert event.pk is not None and not event._state.adding
    assert _stored(CaseEvent, event.pk) == _fields(CaseEvent.objects.get(case=b, seq=2))
    assert CaseEvent.objects.get(pk=event.pk).new_values == {"state": "DISPATCHED"}
    # and on PostgreSQL it was one statement; elsewhere one per row
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    # and the write of what changed named those columns only (and the JSON one, which may change in place)
    names = {"state", "version", "assignee_team_id", "reported_at", "due_at", "lon", "place", "attributes"}
    assert len(changed.params) == len(names) + 1
    assert all(f'"{n}" = %s' in changed.sql for n in names) and '"node_id" = %s' not in changed.sql


def test_a_row_update_that_finds_no_row_changes_nothing_and_says_so(scheme, tree):
    from django.db import DatabaseError

    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon, lat=lat,
                       description="占道经营").case
    ghost = Case.objects.get(pk=case.pk)
    ghost.pk = case.pk + 1000
    event = CaseEvent(case=case, seq=2, kind="note", at=case.reported_at, node_id=case.node_id)
    with pytest.raises(DatabaseError, match="no row"), transaction.atomic():
        rows_write(row_update(ghost), row_insert(event))
    assert not CaseEvent.objects.filter(case=case, seq=2).exists()


def test_an_expression_is_refused_by_a_row_write(scheme, tree):
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon, lat=lat,
                       description="占道经营").case
    case.version = F("version") + 1
    with pytest.raises(TypeError, match="expression"):
        row_update(case)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's conversion cache: PostgreSQL only")
def test_the_drivers_conversion_of_a_long_compiled_statement_is_kept(scheme, tree):
    # given the transition's lock, longer than psycopg keeps by default
    from psycopg import _queries

    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon, lat=lat,
                       description="占道经营").case
    compiled = Compiled(_case_lock_queryset)
    with transaction.atomic():
        compiled.rows(case.pk, key="today")
        assert len(compiled._statements["today"].sql) > 4096
        # when it runs again
        hits = _queries._query2pg.cache_info().hits
        compiled.rows(case.pk, key="today")
    # then psycopg converted it from its cache
    assert _queries._query2pg.cache_info().hits == hits + 1


def test_deferred_writes_wait_for_the_end_of_the_block_or_a_read_which_sees_them(scheme, tree):
    # given a case
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = Case.objects.get(pk=case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme,
                                           matter="02001", lon=lon, lat=lat, description="占道经营").case.pk)

    def note(seq: int) -> CaseEvent:
        return CaseEvent(case=case, seq=seq, kind="note", at=case.reported_at, node_id=case.node_id)

    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        with rows_deferred():
            # when an event is written in a deferred block, nothing is sent yet
            first = note(2)
            rows_write(row_insert(first))
            assert ctx.captured_queries == [] and first.pk is None
            # then a read sends it first, and sees it
            assert CaseEvent.objects.filter(case=case, seq=2).exists()
            assert first.pk is not None
            sent = len(ctx.captured_queries)
            # and what is written after waits for the end of the block: then goes, together on PostgreSQL
            case.place = "北门"
            rows_write(row_update(case), row_insert(note(3)))
            assert len(ctx.captured_queries) == sent
        assert len(ctx.captured_queries) == sent + (1 if connection.vendor == "postgresql" else 2)
    assert Case.objects.get(pk=case.pk).place == "北门"
    assert CaseEvent.objects.filter(case=case, seq=3).exists()
    # and a block left by an exception sends nothing of what waited
    with pytest.raises(RuntimeError), transaction.atomic(), rows_deferred():
        rows_write(row_insert(note(4)))
        raise RuntimeError("stop")
    assert not CaseEvent.objects.filter(case=case, seq=4).exists()


def _created_both_ways(model, values: dict, *, unique: dict) -> tuple[list[str], dict, dict]:
    """The SQL and the stored row of `model.objects.create(**values)` (rolled back) and of `row_create`."""
    from gridgov.core.statements import row_create

    out = []
    for create in (lambda: model.objects.create(**values, **unique), lambda: row_create(model, **values, **unique)):
        with transaction.atomic():
            with CaptureQueriesContext(connection) as ctx:
                obj = create()
            stored = _fields(model.objects.get(pk=obj.pk))
            out.append(([q["sql"] for q in ctx.captured_queries], _fields(obj), stored, obj._state.adding,
                         obj._state.db))
            transaction.set_rollback(True)
    (orm_sql, orm_obj, orm_row, *orm_state), (sql, obj, row, *state) = out
    for fields in (orm_obj, orm_row, obj, row):
        fields.pop("id")
    assert obj == orm_obj and row == orm_row and state == orm_state == [False, "default"]
    assert len(sql) == len(orm_sql) == 1 and sql[0].startswith("INSERT INTO")
    return sql, obj, row


def test_a_row_created_through_the_compiled_insert_is_the_orms(scheme, tree):
    from gridgov.cases.models import CaseEvent, IntakeKey
    from gridgov.core.statements import _row_sql, row_create

    # given a case reported, as intake writes it (its related objects, a JSON value, sealed columns)
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon, lat=lat,
                       description="占道经营", reporter_phone="13800138000", attributes={}).case
    columns = {f.name: getattr(case, f.name) for f in Case._meta.concrete_fields if f.name not in ("id",
                                                                                                   "tracking_code")}
    # when the same rows are created by the ORM and through the compiled INSERT
    _created_both_ways(Case, columns, unique={"tracking_code": "SAMEROW001"})
    _created_both_ways(CaseEvent, {"case": case, "kind": "note", "at": case.reported_at, "actor": loop.office,
                                   "node_id": case.node_id, "new_values": {"k": [1, "二"]}, "attachments": []},
                       unique={"seq": 99})
    # then each statement and each row is the same (asserted in `_created_both_ways`); and a refused row
    # (a used key) raises the same error and leaves the transaction to be rolled back, as the ORM's does
    row_create(IntakeKey, client="c", key="k", fingerprint="f", case=case)
    for create in (IntakeKey.objects.create, lambda **kw: row_create(IntakeKey, **kw)):
        with transaction.atomic():
            with pytest.raises(IntegrityError):
                create(client="c", key="k", fingerprint="f", case=case)
            assert connection.needs_rollback
    # and each of the three went through a compiled INSERT, not the ORM's save
    assert all(("insert", model, "default") in _row_sql for model in (Case, CaseEvent, IntakeKey))


def test_a_row_and_rows_referring_to_it_created_together_are_the_orms(scheme, tree):
    from gridgov.cases.models import CaseEvent, IntakeKey
    from gridgov.core.statements import rows_create

    # given a case reported, whose columns (related objects, a JSON value, sealed columns) are copied
    loop = make_loop(scheme, tree)
    lon, lat = point_in(tree["g1"])
    case = case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=scheme, matter="02001", lon=lon, lat=lat,
                       description="占道经营", reporter_phone="13800138000", attributes={}).case
    columns = {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields
               if f.name not in ("id", "tracking_code")}

    def build(code: str):
        new = Case(**columns, tracking_code=code)
        key = IntakeKey(client="c", key=code, fingerprint="f", case=new)
        event = CaseEvent(case=new, seq=1, kind="report", at=case.reported_at, actor=loop.office,
                          node_id=case.node_id, new_values={"k": [1, "二"]}, attachments=[])
        return new, key, event

    def stored(objs):
        return [{k: v for k, v in _fields(type(o).objects.get(pk=o.pk)).items() if k not in ("id", "case_id")}
                for o in objs]

    # when one set of rows is saved one by one by the ORM and another created together
    orm = build("ORMROW0001")
    for obj in orm:
        if obj is not orm[0]:
            obj.case = orm[0]
        obj.save(force_insert=True)
    together = build("TOGETHER01")
    with CaptureQueriesContext(connection) as ctx:
        rows_create(*together, link="case")
    # then the rows are the same but for their keys and codes, each object is saved and refers to its case
    rows, orm_rows = stored(together), stored(orm)
    for r in (rows[0], orm_rows[0]):
        r.pop("tracking_code")
    for r in (rows[1], orm_rows[1]):
        r.pop("key"), r.pop("created_at")
    assert rows == orm_rows
    new, key, event = together
    assert all(o.pk is not None and o._state.adding is False and o._state.db == "default" for o in together)
    assert key.case is new and event.case is new and key.case_id == event.case_id == new.pk
    assert IntakeKey.objects.get(pk=key.pk).case_id == CaseEvent.objects.get(pk=event.pk).case_id == new.pk
    # in one statement on PostgreSQL, one each elsewhere
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    # and a refused linked row (a used key) refuses them all, and leaves the transaction to be rolled back
    again = build("REFUSED001")
    again[1].key = "TOGETHER01"
    cases = Case.objects.count()
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            rows_create(*again, link="case")
        assert connection.needs_rollback
    assert Case.objects.count() == cases and not Case.objects.filter(tracking_code="REFUSED001").exists()
