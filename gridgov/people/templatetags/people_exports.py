"""`{% export_control %}`: the export control of a base-data list page (gridgov/people/export_views.py)."""

from django import template

from gridgov.people import export_views

register = template.Library()


@register.inclusion_tag("people/exports/_control.html", takes_context=True)
def export_control(context):
    """Shown to users who may export the list, with the page's valid filters as hidden fields."""
    request = context["request"]
    return {**export_views.control_context(user=request.user, node=context["node"],
                                           list_kind=context["list_kind"], filter_form=context["filter"]),
            "csrf_token": context.get("csrf_token"), "request": request}
