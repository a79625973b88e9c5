"""Staff pages for customers: list, 360° page, create/edit with contacts, tags, sharing, duplicates and merge.

Reads go through customers.selectors (a customer the user may not see is a 404, like a missing one);
writes call customers.services and show what they refuse as form errors or messages.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlencode, urlparse

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from accounts.models import AuditLog, User
from accounts.registry import audit_labels
from crm_project import ui
from crm_project.lists import StaffList
from crm_project.ui import error_text, safe_next, visible_or_404, wants_partial
from customers import selectors, services
from customers.choices import CustomerLevel, CustomerStatus, CustomerType, InfluenceLevel
from customers.extensions import TimelineEntry, customer_tabs, customer_timeline, visible
from customers.filtersets import CustomerFilterSet
from customers.forms import (
    CONTACT_FORM_FIELDS,
    BulkActionForm,
    CustomerForm,
    MergeForm,
    ShareForm,
    TagForm,
    contact_formset_class,
)
from customers.models import Customer

VIEW = "customers.view_customer"
ADD = "customers.add_customer"
CHANGE = "customers.change_customer"
DELETE = "customers.delete_customer"
ASSIGN = "customers.assign_customer"
MERGE = "customers.merge_customer"
EXPORT = "customers.export_customer"

PAGE_SIZE = 25
SORT_FIELDS = {
    "customer_name": "customer_name",
    "customer_code": "customer_code",
    "health_score": "health_score",
    "level": "level",
    "status": "status",
    "next_renewal_date": "next_renewal_date",
    "created_at": "created_at",
}
DEFAULT_SORT = ["-created_at"]
LIST_SESSION_KEY = "customers:list_query"


# --- Helpers --------------------------------------------------------------------------------------------------------
def _visible_or_404(user, pk) -> Customer:
    return visible_or_404(selectors.customer_get_visible, user, pk, message=_("No such customer."))


def _detail_url(customer: Customer, tab: str | None = None, anchor: str = "") -> str:
    url = reverse("customers:customer_detail", args=[customer.pk])
    if tab:
        url += "?" + urlencode({"tab": tab})
    return url + (f"#{anchor}" if anchor else "")


def _duplicate_message(request, existing: Customer) -> str:
    """The duplicate error with a link to the existing customer (when the user may open it)."""
    if selectors.customers_visible_to(request.user).filter(pk=existing.pk).exists():
        return format_html(
            '{} <a href="{}">{} ({})</a>',
            _("A customer with this name already exists:"),
            reverse("customers:customer_detail", args=[existing.pk]),
            existing.customer_name,
            existing.customer_code,
        )
    return _("A customer with this name already exists (%(code)s); ask your lead to share it with you.") % {
        "code": existing.customer_code
    }


_FIELD_ALIASES = {"assigned_manager_id": "assigned_manager"}


def apply_service_errors(exc: ValidationError, form, formset=None, contact_rows: list[int] | None = None) -> None:
    """crm_project.ui.apply_service_errors with the customer form's aliases, labels and contact rows."""
    ui.apply_service_errors(
        exc,
        form,
        aliases=_FIELD_ALIASES,
        field_label=_field_label,
        formset=formset,
        formset_key="contacts",
        formset_rows=contact_rows,
    )


# --- List -----------------------------------------------------------------------------------------------------------
def _style_filter_form(form, managers) -> None:
    """Presentation only: placeholders, "All" instead of dashes, a manager picker."""
    form.fields["q"].widget.attrs.update(
        {"placeholder": _("Name, code or contact"), "type": "search", "autocomplete": "off"}
    )
    form.fields["tag"].widget.attrs.update({"placeholder": _("Exact tag name"), "autocomplete": "off"})
    for name, choices in (("status", CustomerStatus), ("level", CustomerLevel), ("customer_type", CustomerType)):
        form.fields[name].widget.choices = [("", _("All")), *choices.choices]
    form.fields["assigned_manager_id"].widget = forms.Select(
        choices=[("", _("Anyone")), *((str(user.pk), user.get_display_name()) for user in managers)]
    )
    for name in ("health_score_min", "health_score_max"):
        form.fields[name].widget.attrs.update({"min": 0, "max": 100, "step": 1, "inputmode": "numeric"})


class CustomerList(StaffList):
    """Customers the user may see: filters (kept in the URL and remembered in the session), sort, bulk actions.

    Opening /customers/ without a query string restores the last filters; `?reset=1` (the filter bar's Reset
    link) forgets them.
    """

    filterset_class = CustomerFilterSet
    sort_fields = SORT_FIELDS
    default_sort = DEFAULT_SORT
    page_size = PAGE_SIZE
    template_name = "customers/customer_list.html"
    partial_template_name = "customers/_customer_results.html"
    remember_key = LIST_SESSION_KEY
    export_url_name = "customers:customer_export"

    def get_queryset(self):
        return selectors.customer_list_queryset(self.user)

    def filtered_queryset(self):
        return super().filtered_queryset().prefetch_related("tags")

    def style_filter_form(self, form) -> None:
        self.managers = list(selectors.assignable_managers(self.request.tenant))
        _style_filter_form(form, self.managers)

    def extra_context(self) -> dict:
        user = self.user
        can_tag, can_assign, can_export = user.has_perm(CHANGE), user.has_perm(ASSIGN), user.has_perm(EXPORT)
        return {
            "managers": self.managers,
            "can_tag": can_tag,
            "can_assign": can_assign,
            "can_export": can_export,
            "can_bulk": can_tag or can_assign or can_export,
        }


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_list(request):
    return CustomerList(request).response()


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def customer_bulk(request):
    """Bulk actions on the selected rows: assign a manager, add a tag, export the selection."""
    form = BulkActionForm(request.POST, tenant=request.tenant)
    back = safe_next(request, request.POST.get("next"), reverse("customers:customer_list"))
    if not form.is_valid():
        for name, errors in form.errors.items():
            if name == "action":
                errors = [_("Choose an action for the selected customers.")]
            for error in errors:
                messages.error(request, error)
        return HttpResponseRedirect(back)

    action = form.cleaned_data["action"]
    needed = {form.ASSIGN: ASSIGN, form.TAG: CHANGE, form.EXPORT: EXPORT}[action]
    if not request.user.has_perm(needed):
        raise PermissionDenied
    customers = list(
        selectors.customers_visible_to(request.user)
        .filter(pk__in=form.cleaned_data["ids"])
        .select_related("assigned_manager")
        .order_by("pk")
    )
    if not customers:
        messages.error(request, _("None of the selected customers is available any more."))
        return HttpResponseRedirect(back)

    if action == form.EXPORT:
        ids = ",".join(str(customer.pk) for customer in customers)
        return HttpResponseRedirect(reverse("customers:customer_export") + f"?ids={ids}&format=csv")
    try:
        if action == form.ASSIGN:
            manager = form.cleaned_data["manager"]
            changed = services.customer_reassign(
                actor=request.user, customers=customers, manager=manager, request=request
            )
            text = ngettext(
                "%(count)d customer assigned to %(manager)s.", "%(count)d customers assigned to %(manager)s.", changed
            )
            messages.success(request, text % {"count": changed, "manager": manager})
        else:
            tag_name = form.cleaned_data["tag_name"].strip()
            added = services.tag_add_bulk(actor=request.user, customers=customers, tag_name=tag_name, request=request)
            text = ngettext(
                "Tag “%(tag)s” added to %(count)d customer.", "Tag “%(tag)s” added to %(count)d customers.", added
            )
            messages.success(request, text % {"tag": tag_name, "count": added})
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return HttpResponseRedirect(back)


# --- Create / edit --------------------------------------------------------------------------------------------------
def _render_form(request, form, formset, customer=None, duplicate=None, status=200):
    return render(
        request,
        "customers/customer_form.html",
        {"form": form, "formset": formset, "customer": customer, "duplicate": duplicate},
        status=status,
    )


@login_required
@permission_required(ADD, raise_exception=True)
def customer_create(request):
    """A new customer with up to a few contacts, created by services.customer_create in one transaction."""
    formset_class = contact_formset_class(extra=2, can_delete=False, first_row_primary=True)
    if request.method != "POST":
        form = CustomerForm(user=request.user, tenant=request.tenant)
        formset = formset_class(prefix="contacts")
        return _render_form(request, form, formset)

    form = CustomerForm(request.POST, user=request.user, tenant=request.tenant)
    formset = formset_class(request.POST, prefix="contacts")
    if not all([form.is_valid(), formset.is_valid()]):  # both validated: every error shows at once
        return _render_form(request, form, formset, status=400)
    kept = formset.kept_forms()
    duplicate = None
    try:
        with transaction.atomic():
            customer = services.customer_create(
                actor=request.user,
                data=form.service_data(),
                contacts=[row.service_data() for _index, row in kept],
                request=request,
            )
    except services.CustomerDuplicate as exc:
        duplicate = exc.existing
        form.add_error("customer_name", _duplicate_message(request, exc.existing))
    except ValidationError as exc:
        apply_service_errors(exc, form, formset, contact_rows=[index for index, _row in kept])
    except PermissionDenied as exc:
        form.add_error(None, error_text(exc))
    else:
        messages.success(request, _("Customer %(name)s created.") % {"name": customer.customer_name})
        return redirect("customers:customer_detail", pk=customer.pk)
    return _render_form(request, form, formset, duplicate=duplicate, status=400)


def _contact_initial(customer: Customer) -> list[dict[str, Any]]:
    return [
        {**{name: getattr(contact, name) for name in CONTACT_FORM_FIELDS}, "contact_id": contact.pk}
        for contact in customer.contacts.all()
    ]


@login_required
@permission_required(CHANGE, raise_exception=True)
def customer_edit(request, pk: int):
    """Change a customer and its contacts; every write is a service call inside one transaction."""
    customer = _visible_or_404(request.user, pk)
    formset_class = contact_formset_class(extra=1, can_delete=True)
    initial = _contact_initial(customer)
    if request.method != "POST":
        form = CustomerForm(instance=copy.copy(customer), user=request.user, tenant=request.tenant)
        formset = formset_class(prefix="contacts", initial=initial)
        return _render_form(request, form, formset, customer=customer)

    form = CustomerForm(request.POST, instance=copy.copy(customer), user=request.user, tenant=request.tenant)
    formset = formset_class(request.POST, prefix="contacts", initial=initial)
    if not all([form.is_valid(), formset.is_valid()]):
        return _render_form(request, form, formset, customer=customer, status=400)

    contacts = {contact.pk: contact for contact in customer.contacts.all()}
    duplicate = None
    current_row = None
    try:
        with transaction.atomic():
            services.customer_update(actor=request.user, customer=customer, data=form.service_data(), request=request)
            for row in formset.deleted_forms_with_ids():
                contact = contacts.get(row.cleaned_data["contact_id"])
                if contact is not None:
                    services.contact_delete(actor=request.user, contact=contact, request=request)
            # Demotions first, so a new primary never meets the old one.
            kept = sorted(formset.kept_forms(), key=lambda item: bool(item[1].cleaned_data.get("is_primary")))
            for index, row in kept:
                current_row = index
                contact_id = row.cleaned_data.get("contact_id")
                if contact_id:
                    contact = contacts.get(contact_id)
                    if contact is None:
                        raise ValidationError(_("This contact no longer exists; reload the page."))
                    if row.has_changed():
                        services.contact_update(
                            actor=request.user, contact=contact, data=row.service_data(), request=request
                        )
                else:
                    services.contact_create(
                        actor=request.user, customer=customer, data=row.service_data(), request=request
                    )
            current_row = None
    except services.CustomerDuplicate as exc:
        duplicate = exc.existing
        form.add_error("customer_name", _duplicate_message(request, exc.existing))
    except ValidationError as exc:
        if current_row is not None:
            apply_service_errors(exc, formset.forms[current_row])
        else:
            apply_service_errors(exc, form, formset)
    except PermissionDenied as exc:
        form.add_error(None, error_text(exc))
    else:
        messages.success(request, _("Customer %(name)s saved.") % {"name": customer.customer_name})
        return redirect("customers:customer_detail", pk=customer.pk)
    # The failed transaction changed nothing; show the stored values again next to the user's input.
    customer = _visible_or_404(request.user, pk)
    return _render_form(request, form, formset, customer=customer, duplicate=duplicate, status=400)


# --- 360° page ------------------------------------------------------------------------------------------------------
_CHOICE_FIELDS = {"status": CustomerStatus, "level": CustomerLevel, "customer_type": CustomerType}


_EXTRA_FIELD_LABELS = {
    "shared_with": gettext_lazy("Shared with"),
    "tag": gettext_lazy("Tag"),
    "merged_customer": gettext_lazy("Merged customer"),
    "contacts_moved": gettext_lazy("Contacts moved"),
    "tags_moved": gettext_lazy("Tags moved"),
    "reason": gettext_lazy("Reason"),
}
_USER_FIELDS = ("assigned_manager", "shared_with")


def _field_label(name: str) -> str:
    if name in _EXTRA_FIELD_LABELS:
        return str(_EXTRA_FIELD_LABELS[name])
    try:
        return capfirst(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return capfirst(name.replace("_", " "))


def _display_value(name: str, value: Any) -> Any:
    choices = _CHOICE_FIELDS.get(name)
    if choices is not None and value is not None:
        try:
            return choices(int(value)).label
        except (TypeError, ValueError):
            return value
    return value


def audit_timeline_entries(request, customer: Customer, before, limit: int) -> list[TimelineEntry]:
    """The audit entries filed under this customer (any app's), with readable labels and user names."""
    entries_qs = AuditLog.objects.filter(object_type="customers.customer", object_id=str(customer.pk))
    if before is not None:
        entries_qs = entries_qs.filter(created_at__lt=before)
    entries = list(entries_qs.order_by("-created_at", "-id")[:limit])
    user_ids = {
        value
        for entry in entries
        for name, change in (entry.changes or {}).items()
        if name in _USER_FIELDS and isinstance(change, dict)
        for value in (change.get("old"), change.get("new"))
        if isinstance(value, int)
    }
    names = {}
    if user_ids:
        names = {
            user.pk: user.get_display_name() for user in User.objects.filter(pk__in=user_ids, tenant=customer.tenant)
        }

    def shown(name, value):
        if name in _USER_FIELDS and isinstance(value, int):
            return names.get(value, f"#{value}")
        return _display_value(name, value)

    return [
        TimelineEntry(
            when=entry.created_at,
            kind="audit",
            title=audit_labels.label(entry.action),
            actor=entry.actor_name,
            changes=tuple(
                (_field_label(name), shown(name, change.get("old")), shown(name, change.get("new")))
                for name, change in (entry.changes or {}).items()
                if isinstance(change, dict)
            ),
        )
        for entry in entries
    ]


def timeline_context(request, customer: Customer) -> dict:
    """The merged timeline of every registered source, newest first."""
    return {"timeline": customer_timeline(request, customer, limit=30)}


def share_context(request, customer: Customer) -> dict:
    """The sharing panel of the overview (leads and admins only)."""
    if not request.user.has_perm(ASSIGN):
        return {}
    shared = list(selectors.customer_shared_users(customer).order_by("display_name", "username"))
    taken = {user.pk for user in shared} | {customer.assigned_manager_id}
    form = ShareForm(tenant=request.tenant, initial={"action": "share"})
    form.fields["user"].queryset = form.fields["user"].queryset.exclude(pk__in=[pk for pk in taken if pk])
    return {"shared_users": shared, "share_form": form}


def _website_url(website: str) -> str | None:
    if not website:
        return None
    url = website if "://" in website else f"https://{website}"
    return url if urlparse(url).scheme in ("http", "https") else None


@login_required
@permission_required(VIEW, raise_exception=True)
def customer_detail(request, pk: int):
    """The customer 360° page: header, quick actions, tabs (?tab=...; htmx swaps only the tab area)."""
    customer = _visible_or_404(request.user, pk)
    user = request.user
    tabs = visible(customer_tabs, user)
    panel_tabs = [tab for tab in tabs if not tab.url_name]
    slug = request.GET.get("tab") or panel_tabs[0].slug
    active = next((tab for tab in panel_tabs if tab.slug == slug), panel_tabs[0])
    tab_links = [
        {
            "slug": tab.slug,
            "label": tab.label,
            "url": reverse(tab.url_name, args=[customer.pk]) if tab.url_name else f"?tab={tab.slug}",
            "is_link": bool(tab.url_name),
            "active": tab is active,
            "count": tab.count(customer) if tab.count else None,
        }
        for tab in tabs
    ]
    context = {
        "customer": customer,
        "tabs": tab_links,
        "tab": active,
        "tag_form": TagForm(),
        "website_url": _website_url(customer.website),
        "influence_labels": dict(InfluenceLevel.choices),
    }
    if active.context is not None:
        context.update(active.context(request, customer))
    if wants_partial(request) and request.htmx.target == "customer-tabs":
        return render(request, "customers/_customer_tabs.html", context)
    return render(request, "customers/customer_detail.html", context)


@login_required
@permission_required(DELETE, raise_exception=True)
@require_POST
def customer_delete(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    try:
        services.customer_delete(actor=request.user, customer=customer, request=request)
    except PermissionDenied as exc:
        messages.error(request, error_text(exc))
        return redirect("customers:customer_detail", pk=customer.pk)
    messages.success(request, _("Customer %(name)s deleted.") % {"name": customer.customer_name})
    return redirect("customers:customer_list")


# --- Tags -----------------------------------------------------------------------------------------------------------
def _tags_response(request, customer: Customer, form: TagForm | None = None):
    """htmx: the refreshed chips (with the form's errors); otherwise back to the Tags tab."""
    if request.htmx:
        customer = _visible_or_404(request.user, customer.pk)  # re-read: the tags changed
        return render(request, "customers/_tag_chips.html", {"customer": customer, "tag_form": form or TagForm()})
    if form is not None and form.errors:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(_detail_url(customer, "tags"))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def tag_add(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            services.tag_add(actor=request.user, customer=customer, data=form.cleaned_data, request=request)
        except ValidationError as exc:
            apply_service_errors(exc, form)
        except PermissionDenied as exc:
            form.add_error(None, error_text(exc))
        else:
            if not request.htmx:
                messages.success(request, _("Tag added."))
            return _tags_response(request, customer)
    return _tags_response(request, customer, form)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def tag_remove(request, pk: int, tag_pk: int):
    customer = _visible_or_404(request.user, pk)
    tag = next((tag for tag in customer.tags.all() if tag.pk == tag_pk), None)
    if tag is None:
        raise Http404(_("No such tag."))
    try:
        services.tag_remove(actor=request.user, tag=tag, request=request)
    except PermissionDenied as exc:
        messages.error(request, error_text(exc))
    else:
        if not request.htmx:
            messages.success(request, _("Tag “%(tag)s” removed.") % {"tag": tag.tag_name})
    return _tags_response(request, customer)


# --- Sharing --------------------------------------------------------------------------------------------------------
@login_required
@permission_required(ASSIGN, raise_exception=True)
@require_POST
def customer_share(request, pk: int):
    """Share the customer with a colleague (action=share) or take a share back (action=unshare)."""
    customer = _visible_or_404(request.user, pk)
    form = ShareForm(request.POST, tenant=request.tenant)
    back = _detail_url(customer, "overview", "share")
    if not form.is_valid():
        messages.error(request, _("Choose a colleague of your tenant."))
        return redirect(back)
    user = form.cleaned_data["user"]
    try:
        if form.cleaned_data["action"] == "share":
            services.customer_share(actor=request.user, customer=customer, user=user, request=request)
            messages.success(request, _("Shared with %(user)s.") % {"user": user})
        else:
            services.customer_unshare(actor=request.user, customer=customer, user=user, request=request)
            messages.success(request, _("%(user)s no longer sees this customer through a share.") % {"user": user})
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    return redirect(back)


# --- Duplicates and merge -------------------------------------------------------------------------------------------
@login_required
@permission_required(VIEW, raise_exception=True)
def customer_duplicates(request, pk: int):
    customer = _visible_or_404(request.user, pk)
    candidates = services.customer_duplicates(customer, visible=selectors.customers_visible_to(request.user))
    return render(request, "customers/customer_duplicates.html", {"customer": customer, "candidates": candidates})


def _merge_value(customer: Customer, name: str) -> Any:
    if name in _CHOICE_FIELDS:
        return getattr(customer, f"get_{name}_display")()
    return getattr(customer, name)


@login_required
@permission_required(MERGE, raise_exception=True)
def customer_merge(request, pk: int, other_pk: int):
    """Side by side: per field, which record's value survives, and which record remains."""
    first = _visible_or_404(request.user, pk)
    second = _visible_or_404(request.user, other_pk)
    if first.pk == second.pk:
        raise Http404(_("A customer cannot be merged into itself."))
    rows = []
    for name in services.CUSTOMER_FIELDS:
        left, right = getattr(first, name), getattr(second, name)
        rows.append(
            {
                "name": name,
                "label": _field_label(name),
                "left": _merge_value(first, name),
                "right": _merge_value(second, name),
                "differs": left != right,
                # By default the first record's value, unless it is empty and the other one is not.
                "default": second.pk if (left in (None, "") and right not in (None, "")) else first.pk,
            }
        )
    differing = [row["name"] for row in rows if row["differs"]]
    initial = {"survivor": str(first.pk), **{f"pick_{row['name']}": str(row["default"]) for row in rows}}
    form = MergeForm(request.POST or None, initial=initial, first=first, second=second, fields=differing)
    if request.method == "POST" and form.is_valid():
        survivor, duplicate = (first, second) if form.cleaned_data["survivor"] == str(first.pk) else (second, first)
        take = [name for name in differing if form.cleaned_data[f"pick_{name}"] == str(duplicate.pk)]
        try:
            services.customer_merge(
                actor=request.user, survivor=survivor, duplicate=duplicate, take_from_duplicate=take, request=request
            )
        except services.CustomerDuplicate as exc:
            form.add_error(None, _duplicate_message(request, exc.existing))
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(
                request,
                _("%(duplicate)s was merged into %(survivor)s.")
                % {"duplicate": duplicate.customer_code, "survivor": survivor.customer_code},
            )
            return redirect("customers:customer_detail", pk=survivor.pk)
    for row in rows:
        key = f"pick_{row['name']}"
        row["picked"] = str(form[key].value()) if key in form.fields else str(row["default"])
    return render(
        request,
        "customers/customer_merge.html",
        {
            "first": first,
            "second": second,
            "rows": rows,
            "form": form,
            "survivor": str(form["survivor"].value()),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
