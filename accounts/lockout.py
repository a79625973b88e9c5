"""What a locked-out caller sees: the envelope under /api/, a page elsewhere; both answer 429."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from crm_project.api import codes
from crm_project.api.envelope import envelope


def lockout_response(request, original_response=None, credentials=None):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _("Too many failed logins. Try again in %(minutes)s minutes.") % {"minutes": minutes}
    if request.path.startswith("/api/"):
        response = JsonResponse(
            envelope(codes.THROTTLED, message, None), status=429, json_dumps_params={"ensure_ascii": False}
        )
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
