"""The case workflow as one registry: each `Transition` carries everything keyed by its action — from
which states to which, who may act by default, what the clock does, its handler (named, in
`services/handlers.py`), the inputs it takes and requires, its evidence rules, the notices it sends, the
step a reporter is told of, whether the public tracking page shows it, the application it decides and
its separation-of-duties rule. No other module keeps a map keyed by action: the event, grant and
notification kinds of the models, the API's `/api/cases/workflow/`, docs/workflow.md and the pages read
it from here. `services.case_transition` is the only code that changes a case's state and enforces what
it reads here and in the `ActionGrant` rows (seeded from the default holders; a deployment edits the
rows, not this file).

This module imports no model (the models import it): states come from `states`.

The standard seven steps: 信息收集 report → 案卷建立 register / reject → 任务派遣 dispatch → 任务处理
accept / return / handle → 处理反馈 report back → 核实结案 verify (pass → close, fail → rework) →
综合评价 evaluate (dissatisfied → reopen); plus self-handling on the spot (巡办合一), the reporter's
partial handling (巡办协同), extension, parking (挂账), merging, re-routing, the whistle (吹哨) and
report-in (报到).

Separation of duties (监督与处置分离): every action carries a `duty`. Taking a HANDLES action (or any
action under the ASSIGNEE standing) makes the actor a handler of the current round; a CHECKS action
(verify pass / fail, evaluate, reopen) is refused to every handler of the round, whatever other standing
they hold (owner, office, even the centre). A round starts at dispatch, rework (verify_fail) and reopen;
handling done before a case's first dispatch (on the spot, in part by the reporter) belongs to its first
round (`selectors.case_rounds`). The rule is enforced by `grants` for both `actions_for` and
`services.case_transition`, never by a view.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.cases.states import CaseState as S

ACTIVE = (S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS)


class Clock(StrEnum):
    """What an action does to the handler's clock (the case's stages)."""

    NONE = "NONE"
    START = "START"  # plan the stages from now
    COMPLETE_STAGE = "COMPLETE_STAGE"  # the earliest open stage is done
    STOP = "STOP"  # every open stage is done
    PAUSE = "PAUSE"  # parked: stop the watch
    RESUME = "RESUME"  # unparked: shift the open stages by the parked time
    EXTEND = "EXTEND"  # approved extension: move the open stage's limit by the extension decided
    RESTART = "RESTART"  # rework / reopen: the open stages run again from now


class Duty(StrEnum):
    """The separation-of-duties rule of an action."""

    NONE = "NONE"
    HANDLES = "HANDLES"  # taking it makes the actor a handler of the round
    CHECKS = "CHECKS"  # refused to every handler of the round (verification, closing, rating)
    DECIDES = "DECIDES"  # refused to every handler of the round (deciding on the handlers' applications)

    @property
    def refuses_handlers(self) -> bool:
        return self in (Duty.CHECKS, Duty.DECIDES)


class Audience(StrEnum):
    """Who a notice goes to."""

    ASSIGNEES = "ASSIGNEES"  # the assignee: the person, the team's members, the community's staff
    OWNER = "OWNER"  # the owner (首问首办)
    CHECKERS = "CHECKERS"  # the owner and the grid offices over the cell, never a handler of the round
    REPORT_IN = "REPORT_IN"  # the leaders of the level a whistle raised the case to, the departments called
    LEVELS = "LEVELS"  # leaders and offices of the levels the policy names for the case's report level


@dataclass(frozen=True)
class Notice:
    """A notice an action sends. `text` may name %(number)s (the case), %(what)s (the action's label),
    %(due)s (a whistle's report-in time), %(level)s and %(cell)s (the level notice)."""

    to: Audience
    text: str


class Need(StrEnum):
    """When a photo of some purpose is required."""

    ALWAYS = "ALWAYS"
    IF_MATTER_ASKS = "IF_MATTER_ASKS"  # the case's matter asks for photos after handling (`evidence_after`)
    UNLESS_REPORT_PHOTO = "UNLESS_REPORT_PHOTO"  # the report's own photo stands in for it


@dataclass(frozen=True)
class Evidence:
    """A photo an action requires: its purpose (`Attachment.Purpose`: BEFORE, AFTER) and when."""

    purpose: str
    need: Need = Need.ALWAYS


@dataclass(frozen=True)
class Input:
    """An input an action takes (beyond the reason, the note and photos, which every action takes)."""

    name: str
    required: bool = False


# photo inputs every action takes, by the purpose they are stored under
PHOTO_INPUTS = {"before_photos": "BEFORE", "after_photos": "AFTER", "photos": "EVIDENCE"}


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not change
    holders: tuple[str, ...]  # default grants (ActionGrant.Holder values; "ROLE:<category>" for a role category)
    clock: Clock = Clock.NONE
    handler: str | None = None  # the function of `services/handlers.py` doing the rest of the action
    reason: bool = False  # a written reason is required
    evidence: tuple[Evidence, ...] = ()  # photos required
    fields: tuple[Input, ...] = ()  # other inputs the action takes; one not listed is refused
    duty: Duty = Duty.NONE  # separation-of-duties rule (see the module's docstring)
    notices: tuple[Notice, ...] = ()  # who is told, and what
    step: str = ""  # the step a reporter who left a mobile is told of (`reporter_notices.STEP_TEXTS`)
    public: bool = False  # the public tracking page shows the state it reaches
    decides: str = ""  # the kind of application (`RequestKind`) it decides: offered only while one waits
    reason_label: str = ""  # the question the page asks for the reason
    note_label: str = ""  # the label of the free note on the page

    @property
    def changes_state(self) -> bool:
        return self.target is not None

    @property
    def milestone(self) -> str | None:
        """The state the public tracking page shows this action reaching, or None."""
        return self.target if self.public else None

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    def takes(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)


_CENTRE = ("CENTRE", "ROLE:OFFICE", "OWNER")
# verification belongs to the centre and the grid office, and to the reporter where the scheme's policy
# says so (REPORTER_VERIFYING); never to the owner: accepting a case makes its handler the owner (首问首办)
_VERIFIERS = ("CENTRE", "ROLE:OFFICE", "REPORTER_VERIFYING")
_DECIDERS = ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER")
H, C, D = Duty.HANDLES, Duty.CHECKS, Duty.DECIDES

_YOURS = _("case %(number)s is yours to handle")
_WHAT = _("case %(number)s: %(what)s")
TO_HANDLE = Notice(Audience.ASSIGNEES, _YOURS)
TO_ASSIGNEES = Notice(Audience.ASSIGNEES, _WHAT)
TO_CHECKERS = Notice(Audience.CHECKERS, _WHAT)
# urgent and major cases, told to the levels the policy names when registered (and when reported)
LEVEL_NOTICE = Notice(Audience.LEVELS, _("%(level)s case %(number)s in %(cell)s"))

TABLE: tuple[Transition, ...] = (
    Transition("register", _("Register"), (S.REPORTED,), S.REGISTERED, _CENTRE, handler="handle_register",
               fields=(Input("matter"), Input("report_level"), Input("handling_mode")), notices=(LEVEL_NOTICE,),
               step="registered", public=True),
    Transition("reject", _("Reject (not registered)"), (S.REPORTED,), S.REJECTED, _CENTRE, reason=True,
               step="rejected", public=True, reason_label=_("Why is the case not registered?")),
    Transition("merge", _("Merge into another case"), (S.REPORTED, S.REGISTERED), S.MERGED, _CENTRE,
               handler="handle_merge", reason=True, fields=(Input("into", required=True),), public=True,
               reason_label=_("Why is it the same problem?")),
    Transition("self_handle", _("Handled on the spot"), (S.REPORTED,), S.REPORTED_BACK, ("REPORTER",),
               clock=Clock.STOP, handler="handle_self_handle",
               evidence=(Evidence("BEFORE", Need.UNLESS_REPORT_PHOTO), Evidence("AFTER")), duty=H,
               step="handled", public=True, note_label=_("What was done")),
    Transition("auto_close", _("Closed without sampled verification"), (S.REPORTED_BACK,), S.CLOSED,
               ("SYSTEM",), handler="handle_close", step="closed", public=True),
    Transition("dispatch", _("Dispatch"), (S.REGISTERED,), S.DISPATCHED, _CENTRE, clock=Clock.START,
               handler="handle_dispatch", fields=(Input("assignee"),), notices=(TO_HANDLE,), step="dispatched",
               public=True),
    Transition("reroute", _("Re-route to another handler"), (S.DISPATCHED, S.IN_PROGRESS), S.DISPATCHED,
               _CENTRE, handler="handle_reroute", reason=True, fields=(Input("assignee"),), notices=(TO_HANDLE,),
               reason_label=_("Why does the case go to another handler?")),
    Transition("accept", _("Accept"), (S.DISPATCHED,), S.IN_PROGRESS, ("ASSIGNEE",), handler="handle_accept",
               duty=H, public=True),
    Transition("return", _("Return to the dispatcher"), (S.DISPATCHED, S.IN_PROGRESS), S.REGISTERED,
               ("ASSIGNEE",), handler="handle_unassign", reason=True, notices=(Notice(Audience.OWNER, _WHAT),),
               reason_label=_("Why do you return the case?")),
    Transition("partial_handle", _("Part handled by the reporter"), (S.REPORTED, S.REGISTERED, S.DISPATCHED,
               S.IN_PROGRESS), None, ("REPORTER",), handler="handle_partial", evidence=(Evidence("BEFORE"),), duty=H,
               note_label=_("What was done so far")),
    Transition("complete_stage", _("Stage done"), (S.IN_PROGRESS,), None, ("ASSIGNEE",),
               clock=Clock.COMPLETE_STAGE, duty=H),
    Transition("report_back", _("Report back"), (S.IN_PROGRESS,), S.REPORTED_BACK, ("ASSIGNEE",),
               clock=Clock.STOP, handler="handle_report_back", evidence=(Evidence("AFTER", Need.IF_MATTER_ASKS),),
               duty=H, notices=(TO_CHECKERS,), step="handled", public=True, note_label=_("What was done")),
    Transition("verify_pass", _("Verified: close"), (S.REPORTED_BACK,), S.CLOSED, _VERIFIERS,
               handler="handle_close", duty=C, step="closed", public=True),
    Transition("verify_fail", _("Verification failed: rework"), (S.REPORTED_BACK,), S.IN_PROGRESS, _VERIFIERS,
               clock=Clock.RESTART, handler="handle_verify_fail", reason=True, duty=C, notices=(TO_HANDLE,),
               public=True, reason_label=_("What is still to be done?")),
    Transition("evaluate", _("Evaluate"), (S.CLOSED,), S.EVALUATED, ("REPORTER", "CENTRE", "ROLE:OFFICE"),
               handler="handle_evaluate", fields=(Input("satisfaction", required=True),), duty=C, public=True),
    Transition("reopen", _("Reopen (dissatisfied)"), (S.CLOSED,), S.IN_PROGRESS,
               ("REPORTER", "CENTRE", "ROLE:OFFICE"), clock=Clock.RESTART, handler="handle_reopen", reason=True,
               fields=(Input("satisfaction"),), duty=C, notices=(TO_HANDLE,), public=True,
               reason_label=_("Why is the case reopened?")),
    Transition("request_extension", _("Apply for an extension"), (S.DISPATCHED, S.IN_PROGRESS), None,
               ("ASSIGNEE",), handler="handle_request_extension", reason=True,
               fields=(Input("amount", required=True), Input("unit", required=True)), duty=H,
               notices=(TO_CHECKERS,), reason_label=_("Why is more time needed?")),
    Transition("approve_extension", _("Approve the extension"), (S.DISPATCHED, S.IN_PROGRESS), None, _DECIDERS,
               clock=Clock.EXTEND, handler="handle_approve", duty=D, notices=(TO_ASSIGNEES,), decides="EXTENSION"),
    Transition("reject_extension", _("Refuse the extension"), (S.DISPATCHED, S.IN_PROGRESS), None, _DECIDERS,
               handler="handle_refuse", reason=True, duty=D, notices=(TO_ASSIGNEES,), decides="EXTENSION",
               reason_label=_("Why is the extension refused?")),
    Transition("request_parking", _("Apply to park"), ACTIVE, None, ("ASSIGNEE", "OWNER"),
               handler="handle_request_parking", reason=True, notices=(TO_CHECKERS,),
               reason_label=_("Why should the case be parked?")),
    Transition("approve_parking", _("Approve parking"), ACTIVE, S.PARKED, _DECIDERS, clock=Clock.PAUSE,
               handler="handle_approve", duty=D, notices=(TO_ASSIGNEES,), public=True, decides="PARKING"),
    Transition("reject_parking", _("Refuse parking"), ACTIVE, None, _DECIDERS, handler="handle_refuse",
               reason=True, duty=D, notices=(TO_ASSIGNEES,), decides="PARKING",
               reason_label=_("Why is parking refused?")),
    Transition("unpark", _("Resume a parked case"), (S.PARKED,), S.REGISTERED, _DECIDERS, clock=Clock.RESUME,
               handler="handle_unassign", reason=True, public=True, reason_label=_("Why does the case resume now?")),
    Transition("whistle", _("Blow the whistle (escalate)"), (*ACTIVE, S.REPORTED_BACK), None,
               ("ASSIGNEE", "OWNER", "ROLE:GRID_WORKER", "ROLE:LEADER", "ROLE:OFFICE", "CENTRE", "SYSTEM"),
               handler="handle_whistle", reason=True, fields=(Input("depth"), Input("departments")),
               notices=(Notice(Audience.REPORT_IN, _("whistle on case %(number)s: report in by %(due)s")),),
               reason_label=_("Why is the case escalated?")),
    Transition("report_in", _("Report in"), (*ACTIVE, S.REPORTED_BACK), None, ("REPORT_IN",),
               handler="handle_report_in", duty=H, note_label=_("What your department will do")),
    Transition("comment", _("Add a note"), tuple(s for s in S.values if s not in (S.MERGED,)), None,
               ("CENTRE", "ROLE:OFFICE", "OWNER", "ASSIGNEE"), note_label=_("Note")),
)

TRANSITIONS: dict[str, Transition] = {t.action: t for t in TABLE}


@dataclass(frozen=True)
class SystemKind:
    """An event or notice kind that is no action of the table, written by the system."""

    kind: str
    label: str
    event: bool = True  # written as a `CaseEvent`
    notice: bool = False  # sent as a `Notification`
    milestone: str | None = None  # the state the public tracking page shows it reaching


# every kind that is not an action, in one place
SYSTEM_KINDS: tuple[SystemKind, ...] = (
    SystemKind("report", _("Reported"), milestone=S.REPORTED),
    SystemKind("sampled", _("Sampled for verification")),
    SystemKind("sla_warning", _("Close to the time limit"), notice=True),
    SystemKind("sla_overdue", _("Over the time limit"), notice=True),
    SystemKind("report_in_overdue", _("Report-in overdue"), notice=True),
    SystemKind("level_routine", _("Routine case told to the levels"), event=False, notice=True),
    SystemKind("level_urgent", _("Urgent case told to the levels"), event=False, notice=True),
    SystemKind("level_major", _("Major case told to the levels"), event=False, notice=True),
)
SYSTEM_EVENTS = {k.kind: k.label for k in SYSTEM_KINDS if k.event}


def _choices(name: str, pairs) -> type[models.TextChoices]:
    return models.TextChoices(name, [(key.upper(), (key, label)) for key, label in pairs])


# the models' choices, derived from the registry
ActionKind = _choices("ActionKind", [(t.action, t.label) for t in TABLE])
EventKind = _choices("EventKind", [*((t.action, t.label) for t in TABLE),
                                   *((k.kind, k.label) for k in SYSTEM_KINDS if k.event)])
NoticeKind = _choices("NoticeKind", [*((t.action, t.label) for t in TABLE
                                       if any(n.to != Audience.LEVELS for n in t.notices)),
                                     *((k.kind, k.label) for k in SYSTEM_KINDS if k.notice)])

# the public tracking page: which event kinds show which state reached
PUBLIC_MILESTONES: dict[str, str] = {**{k.kind: k.milestone for k in SYSTEM_KINDS if k.milestone},
                                     **{t.action: t.milestone for t in TABLE if t.milestone}}

TERMINAL_STATES = tuple(s for s in S.values if not any(s in t.sources for t in TABLE if t.target))


def event_label(kind: str) -> str:
    """The label of an event kind (an action's or a system kind's; the kind itself if unknown)."""
    found = TRANSITIONS.get(kind)
    return found.label if found else SYSTEM_EVENTS.get(kind, kind)


def allowed_actions(state: str) -> list[Transition]:
    return [t for t in TABLE if state in t.sources]


def default_grant_rows() -> list[dict]:
    """The default `ActionGrant` rows (no scheme) derived from the table's `holders`."""
    rows = []
    for t in TABLE:
        for holder in t.holders:
            if holder.startswith("ROLE:"):
                rows.append({"action": t.action, "holder": "ROLE", "role_category": holder.split(":", 1)[1]})
            else:
                rows.append({"action": t.action, "holder": holder, "role_category": ""})
    return rows


def table_document() -> dict:
    """The registry as served by the API and drawn in the docs."""
    return {
        "states": [{"key": s.value, "label": str(s.label), "terminal": s.value in TERMINAL_STATES} for s in S],
        "actions": [
            {"action": t.action, "label": str(t.label), "from": list(t.sources), "to": t.target,
             "default_holders": list(t.holders), "clock": t.clock.value, "reason_required": t.reason,
             "evidence_required": [e.purpose for e in t.evidence if e.need == Need.ALWAYS],
             "evidence": [{"purpose": e.purpose, "when": e.need.value} for e in t.evidence],
             "fields": [f.name for f in t.fields], "required_fields": list(t.required_fields),
             "duty": t.duty.value, "handler": t.handler, "notices": [n.to.value for n in t.notices],
             "reporter_step": t.step or None, "public": t.public, "decides": t.decides or None}
            for t in TABLE
        ],
    }


def mermaid() -> str:
    """A Mermaid state diagram of the table's state changes (docs/workflow.md is generated from this);
    actions that keep the state (extension, whistle, report-in, notes ...) are listed in the table."""
    lines = ["stateDiagram-v2", "    [*] --> REPORTED: report"]
    for t in TABLE:
        if t.target is None:
            continue
        for source in t.sources:
            lines.append(f"    {source} --> {t.target}: {t.action}")
    for s in TERMINAL_STATES:
        lines.append(f"    {s} --> [*]")
    return "\n".join(lines)


def markdown() -> str:
    """docs/workflow.md: the diagram and the table, generated (`manage.py workflow_doc`) so the docs
    cannot drift from the code (a test compares them)."""
    doc = table_document()
    out = [
        "# The case workflow",
        "",
        "Generated from `gridgov/cases/transitions.py` by `manage.py workflow_doc`; do not edit by hand.",
        "The same table is served at `GET /api/cases/workflow/`. Who may take an action is data: the",
        "`ActionGrant` rows (seeded from the default holders below; a deployment edits its own in the admin).",
        "",
        "```mermaid",
        mermaid(),
        "```",
        "",
        "| action | from | to | default holders | clock | reason | evidence | fields (* required) | duty | handler "
        "| notices | reporter told | public | decides |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a in doc["actions"]:
        evidence = ", ".join(e["purpose"] if e["when"] == Need.ALWAYS else f"{e['purpose']} ({e['when']})"
                             for e in a["evidence"])
        fields = ", ".join(f + ("*" if f in a["required_fields"] else "") for f in a["fields"])
        out.append("| `{}` {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            a["action"], a["label"], ", ".join(a["from"]), a["to"] or "(unchanged)",
            ", ".join(a["default_holders"]), a["clock"], "yes" if a["reason_required"] else "", evidence, fields,
            a["duty"] if a["duty"] != "NONE" else "", f"`{a['handler']}`" if a["handler"] else "",
            ", ".join(a["notices"]), a["reporter_step"] or "", "yes" if a["public"] else "", a["decides"] or ""))
    out += ["", "Notices: ASSIGNEES is the assignee (the person, the team's members, the community's staff); OWNER",
            "the owner; CHECKERS the owner and the grid offices over the cell, never a handler of the round;",
            "REPORT_IN the leaders of the level a whistle raised the case to and the departments called; LEVELS",
            "the leaders and offices of the levels the case policy names for urgent and major cases. A reporter",
            "who left a mobile is texted the step once; the public tracking page shows the states of the actions",
            "marked public. An action that decides an application is offered only while one of its kind waits.",
            "Other kinds written by the system: "
            + ", ".join(f"`{k.kind}`" for k in SYSTEM_KINDS) + "."]
    out += ["", "Holders: CENTRE sees the whole territory; ROLE:<category> holds a role of that category on the",
            "case's cell or above it; OWNER is the first receiver (首问首办) until the case is handed on; ASSIGNEE",
            "is the assigned person, a member of the assigned team or of the assigned community; REPORTER reported",
            "it; REPORTER_VERIFYING reported it and the scheme's case policy lets reporters verify (`reporter_verifies`);",
            "REPORT_IN is a department called by a whistle; SYSTEM is the platform itself (the public tracking",
            "page acts as SYSTEM for a reporter holding the tracking code).",
            "",
            "## Separation of duties (监督与处置分离)",
            "",
            "Whoever handled a round of a case never verifies, closes, samples, rates or decides on the",
            "applications of that round, whatever other standing they hold (OWNER, ROLE:OFFICE, even CENTRE).",
            "",
            "- A **round** starts at `dispatch`, at rework (`verify_fail`) and at `reopen`; handling done before",
            "  a case's first dispatch (`self_handle`, `partial_handle`) belongs to its first round",
            "  (`selectors.case_rounds`, the one definition).",
            "- The **handlers of a round** are the current assignee (the assigned person, every member of the",
            "  assigned team, everyone assigned to the assigned community) and everyone who, in the round, took",
            "  an action of duty HANDLES (accept, partial handling, stage done, report back, handling on the",
            "  spot, an extension request, reporting in) or any action under the ASSIGNEE standing; the reporter",
            "  of a case handled on the spot is therefore a handler of its (sampled) round.",
            "- Actions of duty CHECKS (`verify_pass`, `verify_fail`, `evaluate`, `reopen`) and DECIDES (the",
            "  decisions on extension and parking applications) are refused to them with a 403 naming the rule,",
            "  in `actions_for` and `case_transition` alike (`grants.duty_refusal`). No grant row overrides it.",
            "- Verification belongs to the centre and the grid office, or, where the scheme's case policy says",
            "  so, to the reporter; accepting a case makes its handler the owner (首问首办: registering,",
            "  re-routing, parking requests), never its verifier.",
            "- Handlers never see the tracking code (the public page's key to rating the case), nor, unless",
            "  allowed to see who reported, the reporter's user id in the timeline's values or as the owner.",
            ""]
    return "\n".join(out)
