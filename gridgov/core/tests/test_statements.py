"""`core.statements.Compiled` gives what its queryset gives: the same instances (every field), the same
`select_related` objects and the same annotations, for each call's values, with one compilation per key;
`row_create` sends the ORM's INSERT and stores the ORM's row."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from gridgov.cases.models import Case, Channel
from gridgov.cases.services import case_report, case_transition
from gridgov.cases.services.transition import _case_lock_queryset
from gridgov.cases.tests.factories import make_loop, point_in
from gridgov.core.statements import Compiled

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
    assert sql == orm_sql and obj == orm_obj and row == orm_row and state == orm_state == [False, "default"]
    return sql, obj, row


def test_a_row_created_through_the_compiled_insert_is_the_orms(scheme, tree):
    from gridgov.cases.models import CaseEvent, IntakeKey
    from gridgov.core.statements import _inserts, row_create

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
    assert all(_inserts[(model, "default")] is not None for model in (Case, CaseEvent, IntakeKey))
