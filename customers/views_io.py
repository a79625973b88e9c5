"""Staff pages for customer export and import (upload → preview → confirm), see customers/importing.py."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import can_see_contact_details
from accounts.services import audit_record
from accounts.stepup import step_up_required
from crm_project.exports import neutralise
from customers import exporting, importing
from customers.filtersets import CustomerFilterSet
from customers.models import Customer
from customers.selectors import customers_visible_to

PREVIEW_ERROR_ROWS = 500
# Each shown duplicate posts one radio field: stay well below DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000).
PREVIEW_DUPLICATE_ROWS = 500
PREVIEW_OTHER_ROWS = 100
EXPORT_FORMATS = ("csv", "xlsx")


# --- Export ----------------------------------------------------------------------------------------------------------
def _bad_export_request(request, errors: list[str]):
    return render(
        request,
        "customers/export_invalid.html",
        {"page_title": _("Export customers"), "errors": errors},
        status=400,
    )


def _parse_ids(text: str) -> list[int] | None:
    ids = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or len(part) > 18:
            return None
        ids.append(int(part))
    return ids


@login_required
@permission_required("customers.export_customer", raise_exception=True)
@require_GET
@step_up_required
def customer_export(request):
    """CSV (streamed) or XLSX of the visible customers matching the list filters, or of `?ids=1,2,3`."""
    file_format = (request.GET.get("format") or "csv").lower()
    if file_format not in EXPORT_FORMATS:
        return _bad_export_request(request, [_("Choose the format csv or xlsx.")])
    queryset = customers_visible_to(request.user)
    if request.GET.get("ids"):
        ids = _parse_ids(request.GET["ids"])
        if ids is None:
            return _bad_export_request(request, [_("ids must be customer numbers separated by commas.")])
        queryset = queryset.filter(pk__in=ids[:10_000])
    filterset = CustomerFilterSet(request.GET, queryset=queryset)
    if not filterset.is_valid():
        errors = [
            f"{filterset.form.fields[name].label if name in filterset.form.fields else name}: {message}"
            for name, messages_ in filterset.form.errors.items()
            for message in messages_
        ]
        return _bad_export_request(request, errors)
    queryset = filterset.qs.order_by("-created_at", "-id")
    row_count = queryset.count()
    contact_details = can_see_contact_details(request.user)
    audit_record(
        action="crm.customer.exported",
        actor=request.user,
        object_type=Customer._meta.label_lower,
        changes={
            "rows": (None, row_count),
            "format": (None, file_format),
            # A full export shows contact details unmasked (PRD 7.4.2: unmasking is audited).
            "contact_details": (None, "full" if contact_details else "masked"),
        },
        request=request,
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"customers-{stamp}.{file_format}"
    rows = exporting.export_rows(
        queryset, tenant=request.tenant, language=translation.get_language(), contact_details=contact_details
    )
    if file_format == "csv":
        response = StreamingHttpResponse(exporting.csv_chunks(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            exporting.xlsx_file(rows),
            as_attachment=True,
            filename=filename,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["X-Export-Rows"] = str(row_count)
    return response


# --- Import ----------------------------------------------------------------------------------------------------------
class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File (CSV or XLSX)"),
        help_text=gettext_lazy("UTF-8 CSV or Excel XLSX; the first row names the columns."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > importing.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(size)d MB.") % {"size": importing.MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        return upload


def _template_response() -> HttpResponse:
    response = HttpResponse(importing.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customer-import-template.csv"'
    return response


@login_required
@permission_required("customers.import_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_import(request):
    """Upload form; a valid file is checked row by row and stored, then the preview page shows the result."""
    if request.method == "GET" and request.GET.get("template"):
        return _template_response()
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            parsed = importing.parse_upload(upload.read(), upload.name)
        except importing.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            plan = importing.validate_rows(parsed.rows, user=request.user)
            payload = importing.plan_payload(
                plan,
                user=request.user,
                filename=upload.name,
                file_format=parsed.file_format,
                ignored=parsed.ignored_columns,
            )
            token = importing.plan_store(payload)
            return redirect("customers:customer_import_preview", token=token)
    context = {
        "page_title": _("Import customers"),
        "form": form,
        "columns": importing.COLUMNS,
        "max_rows": importing.MAX_ROWS,
        "max_megabytes": importing.MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    return render(request, "customers/import.html", context)


def _load_or_404(request, token: str) -> dict:
    payload = importing.plan_load(token, user=request.user)
    if payload is None:
        raise Http404(_("This import does not exist or has expired."))
    return payload


def _row_view(row: dict, group: dict | None) -> dict:
    values = row["values"]
    action = group["action"] if group else ""
    return {
        "row": row["row"],
        "customer_code": values.get("customer_code", ""),
        "customer_name": values.get("customer_name", ""),
        "contact_name": values.get("contact_name", ""),
        "mobile": values.get("mobile", ""),
        "email": values.get("email", ""),
        "is_primary": values.get("is_primary", ""),
        "action": action,
        "action_label": importing.ACTION_LABELS.get(action, ""),
        "repeat": group is not None and group["row"] != row["row"],
        "group_row": row["group"],
        "target_code": group["target_code"] if group else "",
        "errors": row["errors"],
    }


def _preview_context(token: str, payload: dict) -> dict:
    groups = {group["row"]: group for group in payload["groups"]}
    group_of_row = {}
    for group in payload["groups"]:
        for number in group["rows"]:
            group_of_row[number] = group
    error_rows, duplicate_rows, other_rows = [], [], []
    for row in payload["rows"]:
        group = group_of_row.get(row["row"])
        if row["errors"]:
            if len(error_rows) < PREVIEW_ERROR_ROWS:
                error_rows.append(_row_view(row, group))
        elif group and group["action"] == importing.ACTION_DUPLICATE:
            if len(duplicate_rows) < PREVIEW_DUPLICATE_ROWS:
                duplicate_rows.append(_row_view(row, group))
        elif len(other_rows) < PREVIEW_OTHER_ROWS:
            other_rows.append(_row_view(row, group))
    counts = payload["counts"]
    duplicates = [group for group in payload["groups"] if group["action"] == importing.ACTION_DUPLICATE][
        :PREVIEW_DUPLICATE_ROWS
    ]
    rows_by_number = {row["row"]: row for row in payload["rows"]}
    for group in duplicates:
        first = rows_by_number.get(group["row"])
        group["customer_name"] = first["values"].get("customer_name", "") if first else ""
    return {
        "page_title": _("Import preview"),
        "token": token,
        "payload": payload,
        "counts": counts,
        "error_rows": error_rows,
        "duplicate_groups": duplicates,
        "other_rows": other_rows,
        "rows_shown": len(error_rows) + len(other_rows),
        "hidden_rows": max(0, counts["rows"] - len(error_rows) - len(duplicate_rows) - len(other_rows)),
        "can_confirm": counts["error_rows"] == 0,
        "groups": groups,
        "choice_merge": importing.CHOICE_MERGE,
        "choice_skip": importing.CHOICE_SKIP,
    }


@login_required
@permission_required("customers.import_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def customer_import_preview(request, token: str):
    """The stored check of an upload; POST confirms it (only without errors), in one transaction."""
    payload = _load_or_404(request, token)
    if request.method == "POST":
        return _confirm(request, token, payload)
    return render(request, "customers/import_preview.html", _preview_context(token, payload))


def _confirm(request, token: str, payload: dict):
    if payload["counts"]["error_rows"]:
        messages.error(request, _("Fix the errors in the file and upload it again; nothing was imported."))
        return redirect("customers:customer_import_preview", token=token)
    # The database may have changed since the preview: check again against the current data.
    plan = importing.validate_rows(payload["rows"], user=request.user)
    stored_duplicates = {g["row"] for g in payload["groups"] if g["action"] == importing.ACTION_DUPLICATE}
    if plan.has_errors or plan.duplicate_rows() != stored_duplicates:
        fresh = importing.plan_payload(
            plan,
            user=request.user,
            filename=payload["filename"],
            file_format=payload["format"],
            ignored=payload.get("ignored_columns", ()),
        )
        importing.plan_store(fresh, token=token)
        messages.warning(request, _("Customers changed since the preview; check the updated preview."))
        return redirect("customers:customer_import_preview", token=token)
    default = request.POST.get("duplicate_default")
    default = importing.CHOICE_MERGE if default == importing.CHOICE_MERGE else importing.CHOICE_SKIP
    choices = {}
    for group in plan.groups:
        if group.action == importing.ACTION_DUPLICATE:
            choice = request.POST.get(f"dup_{group.row}", "")
            if choice in (importing.CHOICE_MERGE, importing.CHOICE_SKIP):
                choices[group.row] = choice
    try:
        result = importing.commit_plan(
            plan,
            user=request.user,
            duplicate_choices=choices,
            default_choice=default,
            request=request,
            filename=payload["filename"],
        )
    except importing.ImportBlocked as exc:
        messages.error(request, str(exc))
        return redirect("customers:customer_import_preview", token=token)
    importing.plan_discard(token)
    messages.success(
        request,
        _(
            "Import done: %(created)d new, %(updated)d updated, %(merged)d merged, %(skipped)d skipped customers; "
            "%(contacts)d contacts added."
        )
        % {
            "created": result.created,
            "updated": result.updated,
            "merged": result.merged,
            "skipped": result.skipped,
            "contacts": result.contacts_created,
        },
    )
    return redirect(reverse("customers:customer_list"))


@login_required
@permission_required("customers.import_customer", raise_exception=True)
@require_GET
def customer_import_errors(request, token: str):
    """The error report of a preview: row, column, message (CSV, UTF-8 with BOM)."""
    payload = _load_or_404(request, token)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Column"), _("Message")])
    for row in payload["rows"]:
        for column, message in row["errors"]:
            writer.writerow([row["row"], neutralise(column), neutralise(message)])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-errors-{token[:8]}.csv"'
    return response
