"""The case workflow as one table: (state, action) → next state, who may act by default, what the
clock does, and what the action requires. `services.case_transition` is the only code that changes a
case's state and reads everything it enforces from here and from `ActionGrant` rows (seeded from
`DEFAULT_GRANTS`; a deployment edits the rows, not this file).

The standard seven steps: 信息收集 report → 案卷建立 register / reject → 任务派遣 dispatch → 任务处理
accept / return / handle → 处理反馈 report back → 核实结案 verify (pass → close, fail → rework) →
综合评价 evaluate (dissatisfied → reopen); plus self-handling on the spot (巡办合一), the finder's
partial handling (巡办协同), extension, parking (挂账), merging, re-routing, the whistle (吹哨) and
report-in (报到).

Separation of duties (监督与处置分离): every action carries a `duty`. Taking a HANDLES action (or any
action under the ASSIGNEE standing) makes the actor a handler of the current round; a CHECKS action
(verify pass / fail, evaluate, reopen) is refused to every handler of the round, whatever other standing
they hold (owner, office, even the centre). A round starts at dispatch, rework (verify_fail) and reopen;
handling done before a case's first dispatch (on the spot, in part by the finder) belongs to its first
round (`selectors.case_rounds`). The rule is enforced by `grants` for both `actions_for` and
`services.case_transition`, never by a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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
    EXTEND = "EXTEND"  # approved extension: move the open stage's limit
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


@dataclass(frozen=True)
class Transition:
    action: str
    label: str
    sources: tuple[str, ...]
    target: str | None  # None: the state does not change
    holders: tuple[str, ...]  # default grants (ActionGrant.Holder values; "ROLE:<category>" for a role category)
    clock: Clock = Clock.NONE
    reason: bool = False  # a written reason is required
    evidence: tuple[str, ...] = ()  # attachment purposes required (the matter's own needs are added)
    fields: tuple[str, ...] = field(default=())  # other inputs the action takes
    duty: Duty = Duty.NONE  # separation-of-duties rule (see the module's docstring)

    @property
    def changes_state(self) -> bool:
        return self.target is not None


_CENTRE = ("CENTRE", "ROLE:OFFICE", "OWNER")
# verification belongs to the centre and the grid office, and to the reporter where the scheme's policy
# says so (REPORTER); never to the owner: accepting a case makes its handler the owner (首问首办)
_VERIFIERS = ("CENTRE", "ROLE:OFFICE", "REPORTER")
H, C, D = Duty.HANDLES, Duty.CHECKS, Duty.DECIDES

TABLE: tuple[Transition, ...] = (
    Transition("register", _("Register"), (S.REPORTED,), S.REGISTERED, _CENTRE,
               fields=("matter", "report_level", "handling_mode")),
    Transition("reject", _("Reject (not registered)"), (S.REPORTED,), S.REJECTED, _CENTRE, reason=True),
    Transition("merge", _("Merge into another case"), (S.REPORTED, S.REGISTERED), S.MERGED, _CENTRE,
               reason=True, fields=("into",)),
    Transition("self_handle", _("Handled on the spot"), (S.REPORTED,), S.REPORTED_BACK,
               ("FINDER",), clock=Clock.STOP, evidence=("BEFORE", "AFTER"), duty=H),
    Transition("auto_close", _("Closed without sampled verification"), (S.REPORTED_BACK,), S.CLOSED,
               ("SYSTEM",)),
    Transition("dispatch", _("Dispatch"), (S.REGISTERED,), S.DISPATCHED, _CENTRE, clock=Clock.START,
               fields=("assignee",)),
    Transition("reroute", _("Re-route to another handler"), (S.DISPATCHED, S.IN_PROGRESS), S.DISPATCHED,
               _CENTRE, reason=True, fields=("assignee",)),
    Transition("accept", _("Accept"), (S.DISPATCHED,), S.IN_PROGRESS, ("ASSIGNEE",), duty=H),
    Transition("return", _("Return to the dispatcher"), (S.DISPATCHED, S.IN_PROGRESS), S.REGISTERED,
               ("ASSIGNEE",), reason=True),
    Transition("partial_handle", _("Part handled by the finder"), (S.REPORTED, S.REGISTERED, S.DISPATCHED,
               S.IN_PROGRESS), None, ("FINDER",), evidence=("BEFORE",), duty=H),
    Transition("complete_stage", _("Stage done"), (S.IN_PROGRESS,), None, ("ASSIGNEE",),
               clock=Clock.COMPLETE_STAGE, duty=H),
    Transition("report_back", _("Report back"), (S.IN_PROGRESS,), S.REPORTED_BACK, ("ASSIGNEE",),
               clock=Clock.STOP, duty=H),
    Transition("verify_pass", _("Verified: close"), (S.REPORTED_BACK,), S.CLOSED, _VERIFIERS, duty=C),
    Transition("verify_fail", _("Verification failed: rework"), (S.REPORTED_BACK,), S.IN_PROGRESS, _VERIFIERS,
               clock=Clock.RESTART, reason=True, duty=C),
    Transition("evaluate", _("Evaluate"), (S.CLOSED,), S.EVALUATED, ("FINDER", "CENTRE", "ROLE:OFFICE"),
               fields=("satisfaction",), duty=C),
    Transition("reopen", _("Reopen (dissatisfied)"), (S.CLOSED,), S.IN_PROGRESS,
               ("FINDER", "CENTRE", "ROLE:OFFICE"), clock=Clock.RESTART, reason=True, fields=("satisfaction",),
               duty=C),
    Transition("request_extension", _("Apply for an extension"), (S.DISPATCHED, S.IN_PROGRESS), None,
               ("ASSIGNEE",), reason=True, fields=("amount", "unit"), duty=H),
    Transition("approve_extension", _("Approve the extension"), (S.DISPATCHED, S.IN_PROGRESS), None,
               ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER"), clock=Clock.EXTEND, duty=D),
    Transition("reject_extension", _("Refuse the extension"), (S.DISPATCHED, S.IN_PROGRESS), None,
               ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER"), reason=True, duty=D),
    Transition("request_parking", _("Apply to park"), ACTIVE, None, ("ASSIGNEE", "OWNER"), reason=True),
    Transition("approve_parking", _("Approve parking"), ACTIVE, S.PARKED,
               ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER"), clock=Clock.PAUSE, duty=D),
    Transition("reject_parking", _("Refuse parking"), ACTIVE, None, ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER"),
               reason=True, duty=D),
    Transition("unpark", _("Resume a parked case"), (S.PARKED,), S.REGISTERED,
               ("CENTRE", "ROLE:OFFICE", "ROLE:LEADER"), clock=Clock.RESUME, reason=True),
    Transition("whistle", _("Blow the whistle (escalate)"), (*ACTIVE, S.REPORTED_BACK), None,
               ("ASSIGNEE", "OWNER", "ROLE:GRID_WORKER", "ROLE:LEADER", "ROLE:OFFICE", "CENTRE", "SYSTEM"),
               reason=True, fields=("depth", "departments")),
    Transition("report_in", _("Report in"), (*ACTIVE, S.REPORTED_BACK), None, ("REPORT_IN",), duty=H),
    Transition("comment", _("Add a note"), tuple(s for s in S.values if s not in (S.MERGED,)), None,
               ("CENTRE", "ROLE:OFFICE", "OWNER", "ASSIGNEE")),
)

TRANSITIONS: dict[str, Transition] = {t.action: t for t in TABLE}

# events written by the system that are not actions of the table (kept typed in one place)
SYSTEM_EVENTS = {
    "report": _("Reported"),
    "sla_yellow": _("Close to the time limit"),
    "sla_red": _("Over the time limit"),
    "report_in_overdue": _("Report-in overdue"),
    "sampled": _("Sampled for verification"),
}

TERMINAL_STATES = tuple(s for s in S.values if not any(s in t.sources for t in TABLE if t.target))


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
    """The table as served by the API and drawn in the docs."""
    return {
        "states": [{"key": s.value, "label": str(s.label), "terminal": s.value in TERMINAL_STATES} for s in S],
        "actions": [
            {"action": t.action, "label": str(t.label), "from": list(t.sources), "to": t.target,
             "default_holders": list(t.holders), "clock": t.clock.value, "reason_required": t.reason,
             "evidence_required": list(t.evidence), "fields": list(t.fields), "duty": t.duty.value}
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
        "| action | from | to | default holders | clock | reason | evidence | fields | duty |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in doc["actions"]:
        out.append("| `{}` {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            a["action"], a["label"], ", ".join(a["from"]), a["to"] or "(unchanged)",
            ", ".join(a["default_holders"]), a["clock"], "yes" if a["reason_required"] else "",
            ", ".join(a["evidence_required"]), ", ".join(a["fields"]), a["duty"] if a["duty"] != "NONE" else ""))
    out += ["", "Holders: CENTRE sees the whole territory; ROLE:<category> holds a role of that category on the",
            "case's cell or above it; OWNER is the first receiver (首问首办) until the case is handed on; ASSIGNEE",
            "is the assigned person, a member of the assigned team or of the assigned community; FINDER reported",
            "it; REPORTER reported it and the scheme's case policy lets reporters verify (`reporter_verifies`);",
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
            "  spot, an extension request, reporting in) or any action under the ASSIGNEE standing; the finder",
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
