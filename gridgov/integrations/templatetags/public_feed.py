"""`{% public_feed_box case %}` on a case page: the public-feed state and the publish / hide buttons,
for users who decide what the public sees (the case templates need not import the integrations)."""

from django import template

from gridgov.integrations.selectors import open311_publication_for

register = template.Library()


@register.inclusion_tag("integrations/_publication.html", takes_context=True)
def public_feed_box(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"case": case, "publication": open311_publication_for(user, case) if user else None,
            "csrf_token": context.get("csrf_token")}
