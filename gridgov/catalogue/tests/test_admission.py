"""Item admission: applying, approving, rejecting and withdrawing; list versions read back as of any
version; `matter_admitted` for the case dispatch; who may apply and decide; what is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from gridgov.accounts.tests.factories import make_staff
from gridgov.catalogue.admission import (
    admission_apply,
    admission_decide,
    admission_request_scope,
    admission_withdraw,
    duty_list_create,
    duty_list_entries_as_of,
    duty_list_seed,
    matter_admitted,
)
from gridgov.catalogue.models import AdmissionRequest, AdmissionState, DutyList, DutyListEntry, DutyTier, Matter
from gridgov.catalogue.services import scheme_catalogue_set
from gridgov.catalogue.tests.factories import make_catalogue, make_department, make_duty_list, make_user
from gridgov.core.models import AuditEntry
from gridgov.territory.tests.factories import make_scheme

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    return make_catalogue()


@pytest.fixture
def office(db):
    """The grid office: may apply and decide."""
    return make_user(perms=("catalogue.change_dutylist", "catalogue.add_admissionrequest"))


@pytest.fixture
def grid_list(scheme, catalogue):
    return make_duty_list(scheme)


def matter(code: str) -> Matter:
    return Matter.objects.get(catalogue__key="default", code=code)


def codes(entries) -> list[str]:
    return [e.matter.code for e in entries]


def add(duty_list, code, actor, **kwargs):
    request = admission_apply(actor=actor, duty_list=duty_list, matter=matter(code), reason="网格员可现场处置", **kwargs)
    return admission_decide(actor=actor, request=request, approve=True)


# --------------------------------------------------------------------------- the life of a request
def test_an_approved_request_puts_the_matter_on_the_list_at_a_new_version(grid_list, office):
    # given
    request = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="网格员可现场处置")
    assert request.state == AdmissionState.PENDING and not matter_admitted(matter=matter("07002"),
                                                                          scheme=grid_list.scheme)
    # when
    decided = admission_decide(actor=office, request=request, approve=True)
    # then
    grid_list.refresh_from_db()
    assert (decided.state, decided.list_version, decided.decided_by) == (AdmissionState.APPROVED, 1, office)
    assert grid_list.version == 1
    entry = DutyListEntry.objects.get(duty_list=grid_list)
    assert (entry.matter.code, entry.added_version, entry.removed_version, entry.request) == ("07002", 1, None, decided)
    assert matter_admitted(matter=matter("07002"), scheme=grid_list.scheme)
    assert list(AuditEntry.objects.filter(target_type="catalogue.admissionrequest").values_list("action", flat=True)
                .order_by("id")) == ["catalogue.admission_apply", "catalogue.admission_decide"]


def test_a_rejection_states_its_reason_and_leaves_the_list_alone(grid_list, office):
    # given
    request = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    # when / then
    with pytest.raises(ValidationError) as err:
        admission_decide(actor=office, request=request, approve=False, reason="  ")
    assert "reason" in err.value.message_dict
    rejected = admission_decide(actor=office, request=request, approve=False, reason="需部门执法")
    grid_list.refresh_from_db()
    assert (rejected.state, rejected.decision_reason, rejected.list_version) == (AdmissionState.REJECTED,
                                                                                  "需部门执法", None)
    assert grid_list.version == 0 and not grid_list.entries.exists()


def test_a_decided_request_is_not_decided_again(grid_list, office):
    # given
    request = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    admission_decide(actor=office, request=request, approve=True)
    # when / then
    with pytest.raises(ValidationError) as err:
        admission_decide(actor=office, request=request, approve=False, reason="改变主意")
    assert "state" in err.value.message_dict
    with pytest.raises(ValidationError):
        admission_withdraw(actor=office, request=request)


def test_the_applicant_withdraws_a_pending_request_and_may_apply_again(scheme, grid_list):
    # given
    member = make_user()
    department = make_department(scheme, members=[member])
    request = admission_apply(actor=member, duty_list=grid_list, matter=matter("07002"), department=department,
                              reason="请纳入")
    # when
    with pytest.raises(PermissionDenied):
        admission_withdraw(actor=make_user(), request=request)
    withdrawn = admission_withdraw(actor=member, request=request)
    # then
    assert withdrawn.state == AdmissionState.WITHDRAWN and withdrawn.decided_at is not None
    again = admission_apply(actor=member, duty_list=grid_list, matter=matter("07002"), department=department,
                            reason="补充材料后再次申请")
    assert again.state == AdmissionState.PENDING


# --------------------------------------------------------------------------- versions
def test_the_list_reads_back_as_of_every_version(grid_list, office):
    # given: add 07002 (v1), add 07008 (v2), take 07002 off (v3)
    add(grid_list, "07002", office)
    add(grid_list, "07008", office)
    remove = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), change="REMOVE",
                             reason="移交部门")
    admission_decide(actor=office, request=remove, approve=True)
    grid_list.refresh_from_db()
    # then
    assert grid_list.version == 3
    assert [codes(duty_list_entries_as_of(duty_list=grid_list, version=v)) for v in range(4)] == [
        [], ["07002"], ["07002", "07008"], ["07008"]]
    closed = DutyListEntry.objects.get(matter__code="07002")
    assert (closed.added_version, closed.removed_version) == (1, 3)
    assert not matter_admitted(matter=matter("07002"), scheme=grid_list.scheme)
    for bad in (4, -1, "x"):
        with pytest.raises(ValidationError) as err:
            duty_list_entries_as_of(duty_list=grid_list, version=bad)
        assert "version" in err.value.message_dict
    # and a matter taken off may come back, with a new entry
    add(grid_list, "07002", office)
    assert codes(duty_list_entries_as_of(duty_list=grid_list, version=4)) == ["07002", "07008"]
    assert DutyListEntry.objects.filter(matter__code="07002").count() == 2


def test_seeding_fills_a_list_at_one_version_with_approved_requests_and_is_idempotent(grid_list, office):
    # when
    added = duty_list_seed(duty_list=grid_list, matters=Matter.objects.filter(duty_tier=DutyTier.GRID), actor=office)
    # then
    grid_list.refresh_from_db()
    assert (added, grid_list.version) == (2, 1)
    entries = list(grid_list.entries.select_related("request"))
    assert all(e.added_version == 1 and e.request.state == AdmissionState.APPROVED
               and e.request.reason == "initial list" and e.request.list_version == 1 for e in entries)
    assert duty_list_seed(duty_list=grid_list, matters=Matter.objects.filter(duty_tier=DutyTier.GRID),
                          actor=office) == 0
    grid_list.refresh_from_db()
    assert grid_list.version == 1
    with pytest.raises(ValidationError) as err:
        duty_list_seed(duty_list=grid_list, matters=[matter("14001")], actor=None)
    assert "actor" in err.value.message_dict
    with pytest.raises(PermissionDenied):
        duty_list_seed(duty_list=grid_list, matters=[matter("14001")], actor=make_user())


# --------------------------------------------------------------------------- matter_admitted
def test_matter_admitted_without_lists_with_lists_and_per_scheme(scheme, catalogue, office):
    other = make_scheme()
    pipe, rubbish = matter("11002"), matter("07002")
    # no duty list in the scheme: admission control is not configured, everything may go to the grid
    assert matter_admitted(matter=pipe, scheme=scheme) and matter_admitted(matter=rubbish, scheme=scheme)
    # a list that does not admit to the grid holds the department's matters
    department_list = make_duty_list(scheme, "department", duty_tier=DutyTier.DEPARTMENT, admits_to_grid=False,
                                     name_zh="部门办理事项清单")
    add(department_list, "11002", office)
    assert not matter_admitted(matter=pipe, scheme=scheme)
    assert not matter_admitted(matter=rubbish, scheme=scheme)
    # an admitting list
    grid_list = make_duty_list(scheme)
    add(grid_list, "07002", office)
    assert matter_admitted(matter=rubbish, scheme=scheme) and not matter_admitted(matter=pipe, scheme=scheme)
    # another scheme has its own lists (none here)
    assert matter_admitted(matter=pipe, scheme=other)


# --------------------------------------------------------------------------- permissions
def test_who_may_apply_and_decide(scheme, grid_list):
    department = make_department(scheme)
    member, stranger = make_user(), make_user()
    department.teams.get().members.add(member)
    # a member of a team of the applying department may apply for it, not for no department
    with pytest.raises(PermissionDenied):
        admission_apply(actor=member, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    request = admission_apply(actor=member, duty_list=grid_list, matter=matter("07002"), department=department,
                              reason="请纳入")
    with pytest.raises(PermissionDenied):
        admission_apply(actor=stranger, duty_list=grid_list, matter=matter("07008"), department=department,
                        reason="请纳入")
    assert admission_apply(actor=make_user(perms=("catalogue.add_admissionrequest",)), duty_list=grid_list,
                           matter=matter("07008"), reason="请纳入").state == AdmissionState.PENDING
    assert admission_apply(actor=make_user(sees_everything=True), duty_list=grid_list, matter=matter("14001"),
                           reason="请纳入").state == AdmissionState.PENDING
    with pytest.raises(PermissionDenied):
        admission_apply(actor=None, duty_list=grid_list, matter=matter("11002"), reason="请纳入")
    # deciding: the grid office only
    for not_allowed in (member, stranger, make_user(perms=("catalogue.add_admissionrequest",))):
        with pytest.raises(PermissionDenied):
            admission_decide(actor=not_allowed, request=request, approve=True)
    assert admission_decide(actor=make_user(perms=("catalogue.change_dutylist",)), request=request,
                            approve=True).state == AdmissionState.APPROVED
    assert admission_decide(actor=make_user(sees_everything=True),
                            request=AdmissionRequest.objects.get(matter__code="07008"),
                            approve=False, reason="不属网格职责").state == AdmissionState.REJECTED


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(("case", "field", "reason"), [
    ("blank reason", "reason", "reason for the application"),
    ("unknown change", "change", "unknown value"),
    ("inactive matter", "matter", "no longer active"),
    ("other catalogue", "matter", "not in the catalogue"),
    ("already on the list", "matter", "already on the list"),
    ("remove what is not on it", "matter", "not on the list"),
    ("second pending request", "matter", "pending request"),
    ("department of another scheme", "department", "another scheme"),
    ("inactive department", "department", "no longer active"),
])
def test_bad_applications_name_the_field_and_write_nothing(scheme, grid_list, office, case, field, reason):
    # given
    kwargs = {"actor": office, "duty_list": grid_list, "matter": matter("07002"), "reason": "请纳入"}
    if case == "blank reason":
        kwargs["reason"] = " "
    elif case == "unknown change":
        kwargs["change"] = "SWAP"
    elif case == "inactive matter":
        Matter.objects.filter(code="07002").update(active=False)
        kwargs["matter"] = matter("07002")
    elif case == "other catalogue":
        kwargs["matter"] = make_catalogue("other").matters.get(code="07002")
    elif case == "already on the list":
        add(grid_list, "07002", office)
    elif case == "remove what is not on it":
        kwargs["change"] = "REMOVE"
    elif case == "second pending request":
        admission_apply(**kwargs)
    elif case == "department of another scheme":
        kwargs["department"] = make_department(make_scheme())
    elif case == "inactive department":
        kwargs["department"] = make_department(scheme)
        kwargs["department"].active = False
        kwargs["department"].save()
    before = AdmissionRequest.objects.count()
    # when
    with pytest.raises(ValidationError) as err:
        admission_apply(**kwargs)
    # then
    assert reason in err.value.message_dict[field][0]
    assert AdmissionRequest.objects.count() == before


def test_the_catalogue_the_scheme_uses_is_the_one_admitted_from(scheme, grid_list, office):
    # given: the scheme uses its own catalogue
    own = make_catalogue("own")
    scheme_catalogue_set(scheme=scheme, catalogue=own)
    # then: the default catalogue's matters are refused, its own admitted
    with pytest.raises(ValidationError, match="not in the catalogue"):
        admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    request = admission_apply(actor=office, duty_list=grid_list, matter=own.matters.get(code="07002"), reason="请纳入")
    assert admission_decide(actor=office, request=request, approve=True).list_version == 1


def test_approving_an_add_of_a_matter_deactivated_meanwhile_is_refused(grid_list, office):
    request = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    Matter.objects.filter(code="07002").update(active=False)
    with pytest.raises(ValidationError, match="no longer active"):
        admission_decide(actor=office, request=request, approve=True)
    request.refresh_from_db()
    assert request.state == AdmissionState.PENDING and DutyList.objects.get(pk=grid_list.pk).version == 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"key": "grid"}, "key"),
    ({"key": "bad key!"}, "key"),
    ({"name_zh": " "}, "name_zh"),
    ({"duty_tier": "STREET"}, "duty_tier"),
])
def test_duty_list_create_refuses_bad_input(scheme, grid_list, kwargs, field):
    values = {"scheme": scheme, "key": "community", "name_zh": "村(社区)办理事项清单", "duty_tier": DutyTier.COMMUNITY,
              **kwargs}
    with pytest.raises(ValidationError) as err:
        duty_list_create(**values)
    assert field in err.value.message_dict


# --------------------------------------------------------------------------- scope
def test_request_scope(tree, grid_list, office):
    # given: a request by the office on a list of the tree's scheme, another on a list elsewhere
    elsewhere = make_duty_list(make_scheme(), "grid2")
    mine = admission_apply(actor=office, duty_list=grid_list, matter=matter("07002"), reason="请纳入")
    theirs = admission_apply(actor=office, duty_list=elsewhere, matter=matter("07002"), reason="请纳入")
    in_scheme = make_staff(tree["g1"])
    member = make_user()
    make_department(elsewhere.scheme, members=[member])
    theirs.department = elsewhere.scheme.departments.get()
    theirs.save()
    everything = make_user(sees_everything=True)  # district-wide for the tree's scheme only
    platform = make_user()
    platform.platform_wide = True
    platform.save()
    qs = AdmissionRequest.objects.all()
    # then
    assert set(admission_request_scope(qs, everything)) == {mine}
    assert set(admission_request_scope(qs, platform)) == {mine, theirs}
    assert set(admission_request_scope(qs, office)) == {mine, theirs}  # applied for both
    assert set(admission_request_scope(qs, in_scheme)) == {mine}
    assert set(admission_request_scope(qs, member)) == {theirs}
    assert set(admission_request_scope(qs, make_user())) == set()
