"""Separation of duties (监督与处置分离): whoever handled a round of a case never verifies, closes, samples,
rates or decides on that round, whatever standing they hold; verification belongs to the centre and the
grid office (or the reporter where the policy says so); handlers never see the tracking code nor, unless
allowed to know who reported, the reporter's user id — through the services, the API and the pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from gridgov.accounts import services as account_services
from gridgov.accounts.tests.factories import make_staff
from gridgov.cases.errors import ActionForbidden
from gridgov.cases.grants import actions_for, sees_tracking_code
from gridgov.cases.models import Case, CasePolicy, Channel
from gridgov.cases.selectors import case_rounds
from gridgov.cases.services import case_evaluate, case_report, case_transition
from gridgov.cases.states import CaseState
from gridgov.cases.tests.factories import make_loop, png, point_in

RULE = "you handled this case; its verification belongs to someone else"
CHECKS = ("verify_pass", "verify_fail", "evaluate", "reopen")
WATER = {"kind": "DEPARTMENT", "department": "water"}
POLICE = {"kind": "DEPARTMENT", "department": "police"}


@pytest.fixture
def loop(scheme, tree):
    loop = make_loop(scheme, tree)
    CasePolicy.objects.filter(scheme=scheme).update(verification_sample_share=0)
    return loop


def _hotline(loop, matter="01001"):
    lon, lat = point_in(loop.tree["g1"])
    return case_report(actor=loop.office, channel=Channel.HOTLINE, scheme=loop.scheme, matter=matter, lon=lon,
                       lat=lat, description="井盖丢了", reporter_phone="13812345678", photos=[png()],
                       attributes={"problem": "missing"} if matter == "01001" else None).case


def _reported_back_by_water(loop, case=None):
    case = case or _hotline(loop)
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    case = case_transition(case=case, actor=loop.handler, action="accept")
    return case_transition(case=case, actor=loop.handler, action="report_back", after_photos=[png((0, 200, 0))])


def _refused(case, user, action, **kw):
    version = Case.objects.get(pk=case.pk).version
    with pytest.raises(ActionForbidden) as err:
        case_transition(case=case, actor=user, action=action, reason="试一下", satisfaction=5, **kw)
    assert Case.objects.get(pk=case.pk).version == version
    return str(err.value)


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# =========================================================================== the rule, through the services
def test_a_department_that_accepted_a_case_cannot_verify_or_rate_its_own_work(loop):
    # given the water team's handler accepted the case (so owns it: 首问首办) and reported back
    case = _reported_back_by_water(loop)
    assert case.owner == loop.handler
    # when the handler tries to verify it
    message = _refused(case, loop.handler, "verify_pass")
    # then it is refused naming the rule, and no verification is offered to them
    assert message == RULE
    assert not set(CHECKS) & set(actions_for(loop.handler, case))
    # while the grid office verifies it; and once closed, the handler cannot rate it either
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    assert _refused(case, loop.handler, "evaluate") == RULE
    assert _refused(case, loop.handler, "reopen") == RULE
    assert case_evaluate(case=case, actor=loop.office, satisfaction=4).state == CaseState.EVALUATED


def test_no_standing_lifts_the_rule_not_even_the_centre_or_the_office(loop):
    # given the district centre's operator and a street office member are both in the water team
    loop.water_team.members.add(loop.centre, loop.office)
    case = _reported_back_by_water(loop)
    # then neither may verify (they are members of the assigned team), whatever their standing
    for user in (loop.centre, loop.office):
        assert "verify_pass" not in actions_for(user, case)
        assert _refused(case, user, "verify_fail") == RULE
    # and one who is neither verifies: another office staff of the street
    other = make_staff(loop.tree["street"], role=loop.office.person.assignments.first().role)
    assert case_transition(case=case, actor=other, action="verify_pass").state == CaseState.CLOSED


def test_a_grid_worker_cannot_verify_his_own_self_handled_case_once_sampled(loop):
    # given a grid worker who is also on the street office handles a problem on the spot; it is sampled
    CasePolicy.objects.filter(scheme=loop.scheme).update(verification_sample_share=1)
    office_role = loop.office.person.assignments.first().role
    account_services.assignment_create(person=loop.worker.person, node=loop.tree["street"], role=office_role)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                       description="占道经营，已劝离", self_handled=True, before_photos=[png()],
                       after_photos=[png((0, 200, 0))]).case
    assert case.state == CaseState.REPORTED_BACK and case.owner == loop.worker
    # when he tries to pass or fail the sample check
    # then both are refused, and the office does it
    assert _refused(case, loop.worker, "verify_pass") == RULE
    assert _refused(case, loop.worker, "verify_fail") == RULE
    assert case_transition(case=case, actor=loop.office, action="verify_pass").state == CaseState.CLOSED
    # and he rates nothing of it as its reporter
    assert _refused(case, loop.worker, "evaluate") == RULE


def test_the_reporter_verifies_only_where_the_policy_says_so_and_never_their_own_handling(loop):
    # given a resident with a login reports; the water team handles it
    resident = account_services.staff_user_create(username="resident1", password="Grid-demo-2026!",
                                                  is_staff=False)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=resident, channel=Channel.RESIDENT, scheme=loop.scheme, matter="01001", lon=lon,
                       lat=lat, description="井盖丢了", photos=[png()], attributes={"problem": "missing"}).case
    case = _reported_back_by_water(loop, case)
    # then without the policy the reporter may not verify
    assert "verify_pass" not in actions_for(resident, case)
    with pytest.raises(ActionForbidden):
        case_transition(case=case, actor=resident, action="verify_pass")
    # and with it they may
    CasePolicy.objects.filter(scheme=loop.scheme).update(reporter_verifies=True)
    assert "verify_pass" in actions_for(resident, case)
    assert case_transition(case=case, actor=resident, action="verify_pass").state == CaseState.CLOSED
    # but a reporter who handled the case themselves may not, policy or not
    lon, lat = point_in(loop.tree["g1"])
    own = case_report(actor=loop.worker, channel=Channel.PATROL, matter="02001", lon=lon, lat=lat,
                      description="占道经营").case
    own = case_transition(case=own, actor=loop.office, action="register")
    own = case_transition(case=own, actor=loop.office, action="dispatch",
                          assignee={"kind": "GRID_WORKER", "user": loop.worker.pk})
    own = case_transition(case=own, actor=loop.worker, action="accept")
    own = case_transition(case=own, actor=loop.worker, action="report_back")
    assert _refused(own, loop.worker, "verify_pass") == RULE


def test_a_round_starts_at_dispatch_so_who_returned_a_case_may_verify_the_next_handlers_work(loop):
    # given a street office member in the water team accepts the case, then returns it
    loop.water_team.members.add(loop.office)
    case = _hotline(loop)
    case = case_transition(case=case, actor=loop.centre, action="register")
    case = case_transition(case=case, actor=loop.centre, action="dispatch", assignee=WATER)
    case = case_transition(case=case, actor=loop.office, action="accept")
    case = case_transition(case=case, actor=loop.office, action="return", reason="不属于水务")
    # when the centre dispatches it to the police, who handle it
    case = case_transition(case=case, actor=loop.centre, action="dispatch", assignee=POLICE)
    police = loop.police_team.members.get()
    case = case_transition(case=case, actor=police, action="accept")
    case = case_transition(case=case, actor=police, action="report_back", after_photos=[png((0, 200, 0))])
    # then the rounds are cut at the dispatches: the first holds the report, the second the police's work
    rounds = [[e.kind for e in r] for r in case_rounds(case)]
    assert rounds == [["report", "register", "dispatch", "accept", "return"], ["dispatch", "accept", "report_back"]]
    # and the office may verify this round (it handled the other), the police may not
    assert "verify_pass" in actions_for(loop.office, case)
    assert _refused(case, police, "verify_pass") == RULE
    # but the office, having handled a round of it, never reads its tracking code
    assert not sees_tracking_code(loop.office, case)
    # after a rework the police's next report back is again theirs to be checked by others
    case = case_transition(case=case, actor=loop.office, action="verify_fail", reason="未修好")
    case = case_transition(case=case, actor=police, action="report_back", after_photos=[png((0, 9, 0))])
    assert [e.kind for e in case_rounds(case)[-1]] == ["verify_fail", "report_back"]
    assert _refused(case, police, "verify_pass") == RULE


def test_a_finders_part_handling_before_dispatch_belongs_to_the_first_round(loop):
    # given a grid worker who is in the water team fences an open manhole off before it is dispatched
    loop.water_team.members.add(loop.worker)
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01001", lon=lon, lat=lat,
                       description="井盖缺失", photos=[png()], attributes={"problem": "missing"}).case
    case = case_transition(case=case, actor=loop.worker, action="partial_handle", before_photos=[png((9, 9, 9))])
    # when the case is dispatched to the police and handled there
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=POLICE)
    police = loop.police_team.members.get()
    case = case_transition(case=case, actor=police, action="accept")
    case = case_transition(case=case, actor=police, action="report_back", after_photos=[png((0, 200, 0))])
    # then the reporter's part handling is in the round being verified
    assert [[e.kind for e in r] for r in case_rounds(case)] == [
        ["report", "partial_handle", "register", "dispatch", "accept", "report_back"]]
    loop.worker.sees_everything = True  # even as the centre
    loop.worker.save()
    assert _refused(case, loop.worker, "verify_pass") == RULE


def test_a_handler_does_not_decide_on_its_own_extension(loop):
    # given the community's leader accepted a community case and asks for an extension
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="10001", lon=lon, lat=lat,
                       description="邻里纠纷").case
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee={"kind": "COMMUNITY"})
    case = case_transition(case=case, actor=loop.leader, action="accept")
    case = case_transition(case=case, actor=loop.leader, action="request_extension", amount=2,
                           unit="WORKING_HOURS", reason="需再次调解")
    # when the leader (who holds the approval grant as LEADER) approves it
    with pytest.raises(ActionForbidden) as err:
        case_transition(case=case, actor=loop.leader, action="approve_extension")
    # then it is refused naming the rule; the office decides
    assert str(err.value) == "you handled this case; deciding on its applications belongs to someone else"
    assert "approve_extension" not in actions_for(loop.leader, case)
    case_transition(case=case, actor=loop.office, action="approve_extension")


def test_the_public_page_still_rates_for_the_resident(loop):
    # given a case closed by the office after the water team handled it
    case = _reported_back_by_water(loop)
    case = case_transition(case=case, actor=loop.office, action="verify_pass")
    # when the tracking page (acting as the system) rates it for the resident
    case = case_evaluate(case=case, actor=None, satisfaction=5, reason="rated on the tracking page")
    # then it is evaluated
    assert case.state == CaseState.EVALUATED and case.satisfaction == 5


# =========================================================================== the API
def test_api_refuses_a_handler_verifying_its_own_report_back_with_403_naming_the_rule(loop):
    # given the water team's handler reported back
    case = _reported_back_by_water(loop)
    client = _client(loop.handler)
    # when they try every check through the API
    for action, extra in (("verify_pass", {}), ("verify_fail", {"reason": "自检"})):
        response = client.post(f"/api/cases/{case.pk}/actions/", {"action": action, **extra}, format="json")
        # then each is a 403 naming the rule, and the case is unchanged
        assert response.status_code == 403, response.content
        assert response.json()["detail"] == RULE
    assert Case.objects.get(pk=case.pk).state == CaseState.REPORTED_BACK
    body = client.get(f"/api/cases/{case.pk}/").json()
    assert not set(CHECKS) & set(body["actions"])
    # and after the office closes it, the handler's rating is a 403 too
    case_transition(case=case, actor=loop.office, action="verify_pass")
    response = client.post(f"/api/cases/{case.pk}/actions/", {"action": "evaluate", "satisfaction": 5}, format="json")
    assert response.status_code == 403 and response.json()["detail"] == RULE


def test_api_detail_gives_the_tracking_code_to_the_registrar_never_to_a_handler(loop):
    # given a hotline case the office took and the water team handles
    case = _reported_back_by_water(loop)
    code = Case.objects.get(pk=case.pk).tracking_code
    # when the handler and the office read it
    handler = _client(loop.handler).get(f"/api/cases/{case.pk}/")
    office = _client(loop.office).get(f"/api/cases/{case.pk}/").json()
    timeline = _client(loop.handler).get(f"/api/cases/{case.pk}/timeline/")
    # then only the office (who reads it out to the caller) gets the code
    assert "tracking_code" not in handler.json() and code not in handler.content.decode()
    assert code not in timeline.content.decode()
    assert office["tracking_code"] == code


def test_api_timeline_and_detail_never_name_the_reporter_to_a_handler(loop):
    # given a grid worker's patrol report (he owns it as its first receiver) dispatched to the water team
    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01001", lon=lon, lat=lat,
                       description="井盖缺失", photos=[png()], attributes={"problem": "missing"}).case
    case = case_transition(case=case, actor=loop.office, action="register")
    case = case_transition(case=case, actor=loop.office, action="dispatch", assignee=WATER)
    case = case_transition(case=case, actor=loop.worker, action="comment", note="现场已围挡")
    # when the water team's handler reads the detail and the timeline
    detail = _client(loop.handler).get(f"/api/cases/{case.pk}/").json()
    timeline = _client(loop.handler).get(f"/api/cases/{case.pk}/timeline/").json()
    # then the reporter's user id is in no value, and no event or owner names him
    assert detail["owner"] is None
    for event in timeline:
        assert loop.worker.pk not in (event["old_values"].get("owner_id"), event["new_values"].get("owner_id"))
        assert event["actor"] != loop.worker.username
    assert "owner_id" not in timeline[0]["new_values"] and timeline[0]["new_values"]["channel"] == "PATROL"
    # while the office, who may see who reported, reads them
    office = _client(loop.office).get(f"/api/cases/{case.pk}/timeline/").json()
    assert office[0]["new_values"]["owner_id"] == loop.worker.pk


def test_api_workflow_table_carries_each_actions_duty(loop):
    actions = {a["action"]: a for a in _client(loop.office).get("/api/cases/workflow/").json()["actions"]}
    assert {a for a, row in actions.items() if row["duty"] == "CHECKS"} == set(CHECKS)
    assert "OWNER" not in actions["verify_pass"]["default_holders"]


# =========================================================================== the pages
def test_case_page_offers_no_check_to_a_handler_and_refuses_the_form_naming_the_rule(loop, client):
    # given the water team's handler reported back
    case = _reported_back_by_water(loop)
    code = Case.objects.get(pk=case.pk).tracking_code
    client.force_login(loop.handler)
    # when they open the case page and the verification form
    page = client.get(f"/cases/{case.number}/")
    form = client.get(f"/cases/{case.number}/act/verify_pass/")
    posted = client.post(f"/cases/{case.number}/act/verify_pass/", {"version": Case.objects.get(pk=case.pk).version})
    # then the page offers no verification and shows no tracking code; the form is a 403 naming the rule
    html = page.content.decode()
    assert page.status_code == 200 and 'data-action="verify_pass"' not in html and code not in html
    assert form.status_code == 403 and RULE in form.content.decode()
    assert posted.status_code == 403 and RULE in posted.content.decode()
    assert Case.objects.get(pk=case.pk).state == CaseState.REPORTED_BACK
    # while the office is offered it
    client.force_login(loop.office)
    assert 'data-action="verify_pass"' in client.get(f"/cases/{case.number}/").content.decode()



def test_admin_shows_a_handler_neither_the_tracking_code_nor_who_reported(loop, client):
    # given a grid worker's patrol report handled by the water team, whose handler may view cases in the admin
    from django.contrib.auth.models import Permission

    lon, lat = point_in(loop.tree["g1"])
    case = case_report(actor=loop.worker, channel=Channel.PATROL, matter="01001", lon=lon, lat=lat,
                       description="井盖缺失", photos=[png()], attributes={"problem": "missing"}).case
    case = _reported_back_by_water(loop, case)
    code = case.tracking_code
    perms = Permission.objects.filter(content_type__app_label="cases", codename__in=["view_case", "view_caseevent"])
    loop.handler.user_permissions.add(*perms)
    loop.office.user_permissions.add(*perms)
    report = case.events.get(kind="report")
    client.force_login(loop.handler)
    # when the handler opens the case and its report event in the admin
    page = client.get(f"/admin/cases/case/{case.pk}/change/")
    event = client.get(f"/admin/cases/caseevent/{report.pk}/change/")
    # then neither the code nor the reporter (the grid worker) is on them
    assert page.status_code == 200 and code not in page.content.decode()
    assert loop.worker.username not in page.content.decode()
    assert event.status_code == 200 and loop.worker.username not in event.content.decode()
    assert f'"owner_id": {loop.worker.pk}' not in event.content.decode()
    # while the office, who took no part in handling it, sees both
    client.force_login(loop.office)
    assert code in client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()


def test_a_report_back_is_told_to_who_verifies_not_to_the_handler_who_owns_it(loop):
    # given the water team's handler accepted the case (so owns it)
    from gridgov.cases.models import Notification

    # when he reports back
    case = _reported_back_by_water(loop)
    told = set(Notification.objects.filter(case=case, kind="report_back").values_list("recipient_id", flat=True))
    # then the street's grid office is told, the handler (its owner) is not
    assert loop.office.pk in told and loop.handler.pk not in told
