"""A time limit in its natural unit (issue 12, item 11): never "0.25 clock hours"."""

import pytest
from django.utils import translation

from gridgov.workdays.calendar import LimitUnit, limit_text


@pytest.mark.parametrize(("amount", "unit", "en", "zh"), [
    ("0.25", LimitUnit.CLOCK_HOURS, "15 minutes", "15 分钟"),
    (2, LimitUnit.CLOCK_HOURS, "2 hours", "2 小时"),
    ("1.5", LimitUnit.CLOCK_HOURS, "1 hour 30 minutes", "1 小时 30 分钟"),
    ("0.5", LimitUnit.WORKING_HOURS, "30 working minutes", "30 分钟（工作时间）"),
    (4, LimitUnit.WORKING_HOURS, "4 working hours", "4 个工作小时"),
    (3, LimitUnit.WORKING_DAYS, "3 working days", "3 个工作日"),
    (1, LimitUnit.WORKING_DAYS, "1 working day", "1 个工作日"),
    (10, LimitUnit.CALENDAR_DAYS, "10 days", "10 天"),
])
def test_a_limit_is_said_in_its_natural_unit(amount, unit, en, zh):
    # given a limit as stored (amount and unit)
    # when it is shown in English and in Chinese
    with translation.override("en"):
        english = limit_text(amount, unit)
    with translation.override("zh-hans"):
        chinese = limit_text(amount, unit)
    # then
    assert (english, chinese) == (en, zh)
