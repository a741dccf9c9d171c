"""`{% load limits %}`: `{{ stage|limit_text }}` shows a row with `amount` and `unit` in its natural unit
("15 minutes", "3 working days": workdays.calendar.limit_text)."""

from django import template

from gridgov.workdays import calendar

register = template.Library()


@register.filter
def limit_text(row) -> str:
    if row is None or getattr(row, "amount", None) is None:
        return ""
    return calendar.limit_text(row.amount, row.unit)
