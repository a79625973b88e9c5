"""Staff page for tenant administrators: subscriptions, circuit breakers and the delivery log (failures first
to find), with a replay button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from webhooks import selectors, services
from webhooks.models import DeliveryStatus


@login_required
@permission_required("webhooks.view_webhookdelivery", raise_exception=True)
def delivery_list(request):
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    page = Paginator(selectors.deliveries(status=status), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "webhooks/delivery_list.html",
        {
            "page": page,
            "status": status,
            "statuses": DeliveryStatus.choices,
            "subscriptions": selectors.subscriptions(),
            "breakers": selectors.breakers(),
            "failed_count": selectors.deliveries(status=DeliveryStatus.FAILED).count(),
        },
    )


@login_required
@permission_required("webhooks.change_webhookdelivery", raise_exception=True)
@require_POST
def delivery_replay(request, pk: int):
    delivery = selectors.delivery_get(pk)
    if delivery is None:
        raise Http404
    services.delivery_replay(actor=request.user, delivery=delivery, request=request)
    messages.success(request, _("Delivery queued again."))
    return redirect("webhooks:delivery_list")
