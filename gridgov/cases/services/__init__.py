"""Writes of the closed loop, one module per concern:

- `intake.case_report` creates a case from any channel;
- `transition.case_transition` is the only code that changes a case's state (`handlers` holds what each
  action does, `events` the typed event it writes, `notifications` the notices it sends);
- `reporter` reveals a reporter's contact (logged); `routing_rules` writes routing rules, `loop_settings`
  the case policies and action grants (each change audited with old and new values);
- `resolve` turns what a report names (scheme, matter, cell) into rows.

The public names are re-exported here: `from gridgov.cases.services import case_report`.
"""

from gridgov.cases.services.events import event_write
from gridgov.cases.services.intake import (
    DESCRIPTION_MAX_LENGTH,
    PHOTOS_MAX,
    PLACE_MAX_LENGTH,
    IntakeResult,
    case_report,
)
from gridgov.cases.services.loop_settings import (
    action_grant_delete,
    action_grant_save,
    case_policy_delete,
    case_policy_save,
)
from gridgov.cases.services.reporter import case_reporter_reveal, reporter_contact
from gridgov.cases.services.routing_rules import routing_rule_delete, routing_rule_save
from gridgov.cases.services.transition import (
    case_dispatch,
    case_evaluate,
    case_register,
    case_reroute,
    case_transition,
)

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "PHOTOS_MAX",
    "PLACE_MAX_LENGTH",
    "IntakeResult",
    "action_grant_delete",
    "action_grant_save",
    "case_dispatch",
    "case_evaluate",
    "case_policy_delete",
    "case_policy_save",
    "case_register",
    "case_report",
    "case_reporter_reveal",
    "case_reroute",
    "case_transition",
    "event_write",
    "reporter_contact",
    "routing_rule_delete",
    "routing_rule_save",
]
