"""`{% contact_detail contact.mobile "mobile" %}`: the value with a tel:/mailto: link for users allowed to see
contact details, the masked shape (no link) for everyone else (accounts.roles' one rule)."""

from django import template
from django.utils.html import format_html

from accounts.roles import can_see_contact_details, mask_contact_detail

register = template.Library()


@register.simple_tag(takes_context=True)
def contact_detail(context, value, field):
    if not value:
        return "—"
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if not can_see_contact_details(user):
        return mask_contact_detail(field, value)
    if field in ("mobile", "phone"):
        return format_html('<a href="tel:{}">{}</a>', value, value)
    if field == "email":
        return format_html('<a href="mailto:{}">{}</a>', value, value)
    return value
