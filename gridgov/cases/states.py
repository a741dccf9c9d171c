"""The states of a case, apart from the models so that the workflow registry (`transitions`), which the
models derive their choices from, imports no model."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseState(models.TextChoices):
    REPORTED = "REPORTED", _("Reported")  # 信息收集
    REGISTERED = "REGISTERED", _("Registered")  # 案卷建立
    REJECTED = "REJECTED", _("Not registered")
    DISPATCHED = "DISPATCHED", _("Dispatched")  # 任务派遣
    IN_PROGRESS = "IN_PROGRESS", _("Being handled")  # 任务处理
    REPORTED_BACK = "REPORTED_BACK", _("Reported back")  # 处理反馈
    CLOSED = "CLOSED", _("Closed")  # 核实结案
    EVALUATED = "EVALUATED", _("Evaluated")  # 综合评价
    PARKED = "PARKED", _("Parked")  # 挂账
    MERGED = "MERGED", _("Merged into another case")


OPEN_STATES = (CaseState.REPORTED, CaseState.REGISTERED, CaseState.DISPATCHED, CaseState.IN_PROGRESS,
               CaseState.REPORTED_BACK, CaseState.PARKED)
# states in which a handler's clock runs (the time-limit watch looks only at these)
CLOCK_STATES = (CaseState.DISPATCHED, CaseState.IN_PROGRESS)
