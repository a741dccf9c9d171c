"""`{% load names_shown %}`: `{{ event.actor|user_label }}`, `{{ team|team_label }}` (accounts.display)."""

from django import template

from gridgov.accounts import display

register = template.Library()


@register.filter
def user_label(user) -> str:
    return display.user_label(user)


@register.filter
def team_label(team) -> str:
    return display.team_label(team)
