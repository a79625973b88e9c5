"""Staff pages of the health app: the customer Health tab, dashboard cards, churn models and the backtest."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm_project.ui import apply_service_errors
from customers.selectors import customers_visible_to
from health import backtest, churn, selectors, services
from health.choices import RiskLevel
from health.forms import HealthSettingsForm
from health.models import WEIGHT_FIELDS, ChurnModel

MANAGE = "health.manage_health"


def _bands() -> list[dict]:
    s = churn.health_settings()
    return [
        {"value": s.low_risk_min, "label": str(_("low risk")), "color": "#16a34a"},
        {"value": s.medium_risk_min, "label": str(_("medium risk")), "color": "#d97706"},
        {"value": s.high_risk_min, "label": str(_("high risk")), "color": "#dc2626"},
    ]


def customer_health_tab_context(request, customer) -> dict[str, Any]:
    score = selectors.latest_score(customer)
    points = selectors.trend_points(customer, "12m")
    components = []
    if score is not None:
        weights = churn.health_settings().weights
        for key, label in (
            ("satisfaction", _("Satisfaction")),
            ("activity", _("Activity")),
            ("financial", _("Financial health")),
            ("contract", _("Contract stability")),
        ):
            components.append(
                {"key": key, "label": label, "value": getattr(score, f"{key}_score"), "weight": weights[key]}
            )
    gauge = None
    if score is not None:
        value = float(score.overall_score)
        color = {1: "#16a34a", 2: "#d97706", 3: "#dc2626", 4: "#7f1d1d"}[score.risk_level]
        gauge = {
            "type": "doughnut",
            "labels": [str(_("Score")), ""],
            "datasets": [{"label": str(_("Health")), "data": [value, 100 - value], "colors": [color, "#e5e7eb"]}],
        }
    trend = {
        "type": "line",
        "labels": [p["score_date"].isoformat() for p in points],
        "datasets": [{"label": str(_("Overall health")), "data": [float(p["overall_score"]) for p in points]}],
        "targets": _bands(),
        "y": {"min": 0, "max": 100},
    }
    return {
        "hc_score": score,
        "hc_risk_label": RiskLevel(score.risk_level).label if score else None,
        "hc_components": components,
        "hc_gauge": gauge,
        "hc_trend": trend,
        "hc_analysis": selectors.trend_analysis(points),
        "hc_inputs": (score.inputs if score else {}),
        "hc_can_calculate": request.user.has_perm("health.calculate_health"),
    }


@login_required
@permission_required("health.calculate_health", raise_exception=True)
@require_POST
def customer_calculate(request, customer_id):
    from django.http import Http404

    from customers.selectors import customer_get_visible

    customer = customer_get_visible(request.user, customer_id)
    if customer is None:
        raise Http404
    services.customer_score_calculate(actor=request.user, customer=customer, request=request)
    return redirect(reverse("customers:customer_detail", args=[customer.pk]) + "?tab=health")


# --- Dashboard cards (context functions) ----------------------------------------------------------------------------
def card_health_distribution(request) -> dict:
    data = selectors.distribution(customers_visible_to(request.user))
    levels = data["levels"]
    chart = {
        "type": "doughnut",
        "labels": [str(RiskLevel(level).label) for level, _n in levels],
        "datasets": [
            {
                "label": str(_("Customers")),
                "data": [n for _l, n in levels],
                "colors": ["#16a34a", "#d97706", "#dc2626", "#7f1d1d"],
            }
        ],
    }
    return {"hc_day": data["day"], "hc_levels": [(RiskLevel(lv).label, n) for lv, n in levels], "hc_chart": chart}


def card_health_at_risk(request) -> dict:
    return {"hc_rows": selectors.at_risk(customers_visible_to(request.user))}


def card_health_drops(request) -> dict:
    return {"hc_rows": selectors.biggest_drops(customers_visible_to(request.user))}


def card_health_renewals(request) -> dict:
    return {"hc_rows": selectors.renewals_at_risk(customers_visible_to(request.user))}


def card_health_trend(request) -> dict:
    points = selectors.score_trend(customers_visible_to(request.user))
    chart = {
        "type": "line",
        "labels": [d.isoformat() for d, _v in points],
        "datasets": [{"label": str(_("Average health")), "data": [v for _d, v in points]}],
        "targets": _bands(),
        "y": {"min": 0, "max": 100},
    }
    return {"hc_chart": chart, "hc_points": points}


# --- Admin pages ----------------------------------------------------------------------------------------------------
@login_required
@permission_required(MANAGE, raise_exception=True)
def models_page(request):
    models = list(ChurnModel.objects.defer("artifact")[:20])
    active = next((m for m in models if m.status == "active"), None)
    return render(
        request,
        "health/models.html",
        {
            "models": models,
            "active": active,
            "settings": churn.health_settings(),
            "bar_recall": churn.health_settings().min_model_recall,
        },
    )


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def models_train(request):
    services.churn_model_train(actor=request.user)
    return redirect("health:models")


@login_required
@permission_required(MANAGE, raise_exception=True)
def backtest_page(request):
    weights = None
    if request.GET.get("satisfaction"):
        try:
            weights = {
                k: max(0, min(100, int(request.GET.get(k, 0))))
                for k in ("satisfaction", "activity", "financial", "contract")
            }
        except ValueError:
            weights = None
    result = backtest.run(today=timezone.localdate(), weights=weights)
    return render(
        request, "health/backtest.html", {"result": result, "weights": weights or churn.health_settings().weights}
    )


SETTINGS = "health.change_healthsettings"


@login_required
@permission_required(SETTINGS, raise_exception=True)
def settings_page(request):
    """Weights and risk thresholds of the tenant. "Preview" runs the backtest with the proposed weights next to the
    saved ones without saving anything; "Save" validates again, saves and audits."""
    current = churn.health_settings()
    weights_now = current.weights
    form = HealthSettingsForm(request.POST or None, instance=churn.health_settings())
    comparison = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") == "save":
            data = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                services.settings_update(actor=request.user, data=data, request=request)
            except ValidationError as exc:
                apply_service_errors(exc, form)
            else:
                messages.success(request, _("Health settings saved. They apply from the next scoring run."))
                return redirect("health:settings")
        else:
            comparison = backtest.compare(today=timezone.localdate(), proposed=form.proposed_weights())
    return render(
        request,
        "health/settings.html",
        {
            "form": form,
            "weight_fields": [form[name] for name in WEIGHT_FIELDS],
            "threshold_fields": [form[name] for name in ("low_risk_min", "medium_risk_min", "high_risk_min")],
            "current": current,
            "weights_now": weights_now,
            "comparison": comparison,
            "proposed": form.proposed_weights() if comparison else None,
        },
    )
