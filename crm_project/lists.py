"""One staff list page for every app: filter (the app's FilterSet), sort, paginate, htmx partial refresh, an export
link carrying the same query, and filters remembered per user between visits.

    class ContractList(StaffList):
        filterset_class = ContractFilterSet
        sort_fields = {"code": "contract_code", "end_date": "end_date"}
        default_sort = ["-created_at"]
        template_name = "contracts/contract_list.html"
        partial_template_name = "contracts/_contract_results.html"
        remember_key = "contracts:list_query"          # None: nothing remembered
        export_url_name = "contracts:contract_export"

        def get_queryset(self):
            return selectors.contract_list_queryset(self.request.user)

    @login_required
    @permission_required("contracts.view_contract", raise_exception=True)
    def contract_list(request):
        return ContractList(request).response()

    # the export view filters and sorts exactly like the page:
    rows = ContractList(request).ordered_queryset()

Hooks: `get_sort_fields()` (e.g. the amount column only for users who may see amounts), `style_filter_form(form)`,
`prepare_rows(rows)` (decorate the page's rows, e.g. masked amounts), `extra_context()`, `count(queryset)` (a cached
total instead of `COUNT(*)` on every request). `deferred_join = True` reads a page in two steps for large tables:
the page's ids first (an index can answer the filter, the order and the OFFSET without touching the rows), then
those rows with their `select_related` / `prefetch_related`.

The template gets `filter_form`, `page_obj`, `page_range`, `filters_active`, `export_url` / `export_base`,
`full_path`, `partial` and `sort` (the current `sort` value). Links of the page keep the query string; the filter
form submits with `hx-get` and swaps the partial template.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError as SortError

from crm_project.api.sorting import parse_sort
from crm_project.ui import query_without, wants_partial


class ListPaginator(Paginator):
    """Django's paginator with an optional known total and an optional deferred join for the page's rows."""

    def __init__(self, object_list, per_page, *, total: int | None = None, deferred_join: bool = False):
        super().__init__(object_list, per_page)
        self._total = total
        self._deferred_join = deferred_join

    @cached_property
    def count(self) -> int:
        return self._total if self._total is not None else super().count

    def page(self, number):
        if not self._deferred_join:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top]) if top > bottom else []
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()} if ids else {}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)


class StaffList:
    filterset_class: Any = None
    sort_fields: dict[str, str] = {}
    default_sort: list[str] = ["-created_at"]
    page_size = 25
    template_name = ""
    partial_template_name = ""
    # Session key of the remembered filters (per signed-in user); None: the list remembers nothing.
    remember_key: str | None = None
    # With a bad `sort`: redirect to the same list without it (True) or show the default order in place (False).
    redirect_on_bad_sort = True
    export_url_name: str | None = None
    reset_param = "reset"
    # Read the page's ids first, then their rows (see the module docstring): for lists of many thousand rows.
    deferred_join = False

    def __init__(self, request):
        self.request = request
        self.user = request.user

    # --- Hooks --------------------------------------------------------------------------------------------------
    def get_queryset(self) -> QuerySet:
        """The rows the user may see (start from the app's visibility selector)."""
        raise NotImplementedError

    def get_sort_fields(self) -> dict[str, str]:
        return dict(self.sort_fields)

    def style_filter_form(self, form) -> None:
        """Presentation only: placeholders, "All" instead of dashes, pickers."""

    def prepare_rows(self, rows: list) -> list:
        """Decorate the rows of the shown page (e.g. masked amounts)."""
        return rows

    def extra_context(self) -> dict[str, Any]:
        return {}

    def count(self, queryset: QuerySet) -> int | None:
        """The number of rows of the filtered list; None lets the paginator run `COUNT(*)`."""
        return None

    # --- Query string -------------------------------------------------------------------------------------------
    def remembered_params(self) -> tuple[str, ...]:
        """GET parameters remembered between visits (the page number is not)."""
        return (*self.filterset_class.base_filters, "sort")

    def remembered_query(self, params: QueryDict) -> str:
        kept = QueryDict(mutable=True)
        for key in self.remembered_params():
            values = [value for value in params.getlist(key) if value.strip()]
            if values:
                kept.setlist(key, values)
        return kept.urlencode()

    def remember(self, params: QueryDict) -> None:
        if not self.remember_key:
            return
        session = self.request.session
        remembered = self.remembered_query(params)
        if not remembered:
            session.pop(self.remember_key, None)
        elif session.get(self.remember_key) != remembered:
            session[self.remember_key] = remembered

    def forget(self) -> None:
        if self.remember_key:
            self.request.session.pop(self.remember_key, None)

    # --- Data ---------------------------------------------------------------------------------------------------
    def ordering(self) -> tuple[list[str], bool]:
        """(order_by fields with a unique tie-breaker, whether `sort` was valid)."""
        valid = True
        try:
            ordering = parse_sort(self.request.GET.get("sort"), self.get_sort_fields(), self.default_sort)
        except SortError:
            ordering, valid = list(self.default_sort), False
        return [*ordering, "-pk" if ordering and ordering[0].startswith("-") else "pk"], valid

    def filterset(self):
        if not hasattr(self, "_filterset"):
            self._filterset = self.filterset_class(self.request.GET, queryset=self.get_queryset())
        return self._filterset

    def filtered_queryset(self) -> QuerySet:
        filterset = self.filterset()
        return filterset.qs if filterset.is_valid() else filterset.queryset.none()

    def ordered_queryset(self) -> QuerySet:
        """The filtered rows in the list's order: what the page paginates and the export writes (a subclass may
        return any sliceable sequence with `count()`, e.g. rows sorted in Python)."""
        ordering, _valid = self.ordering()
        return self.filtered_queryset().order_by(*ordering)

    def export_url(self) -> str | None:
        if not self.export_url_name:
            return None
        query = query_without(self.request, "page", "format", self.reset_param).urlencode()
        return reverse(self.export_url_name) + (f"?{query}" if query else "")

    # --- Page ---------------------------------------------------------------------------------------------------
    def get_context(self) -> dict[str, Any]:
        filterset = self.filterset()
        queryset = self.ordered_queryset()
        is_queryset = isinstance(queryset, QuerySet)  # a subclass may sort in Python and return a sequence
        paginator = ListPaginator(
            queryset,
            self.page_size,
            total=self.count(queryset) if is_queryset else None,
            deferred_join=self.deferred_join and is_queryset,
        )
        page_obj = paginator.get_page(self.request.GET.get("page"))
        page_obj.object_list = self.prepare_rows(list(page_obj.object_list))
        self.style_filter_form(filterset.form)
        export_url = self.export_url()
        context = {
            "filter_form": filterset.form,
            "page_obj": page_obj,
            "page_range": page_obj.paginator.get_elided_page_range(page_obj.number, on_each_side=1, on_ends=1),
            "filters_active": bool(self.remembered_query(query_without(self.request, "sort"))),
            "export_url": export_url,
            # The export URL ready for more parameters (`{{ export_base }}format=xlsx`).
            "export_base": (export_url + ("&" if "?" in export_url else "?")) if export_url else None,
            "full_path": self.request.get_full_path(),
            "partial": wants_partial(self.request),
            "sort": self.request.GET.get("sort", ""),
        }
        context.update(self.extra_context())
        return context

    def response(self) -> HttpResponse:
        request = self.request
        if self.reset_param in request.GET:
            self.forget()
            return HttpResponseRedirect(request.path)
        if self.remember_key and not request.GET and not wants_partial(request):
            saved = request.session.get(self.remember_key)
            if saved:
                return HttpResponseRedirect(f"{request.path}?{saved}")
        _ordering, valid = self.ordering()
        if not valid:
            messages.warning(request, _("That column cannot be sorted; showing the default order."))
            params = query_without(request, "sort", "page")
            self.remember(params)
            if self.redirect_on_bad_sort and not wants_partial(request):
                return HttpResponseRedirect(f"{request.path}?{params.urlencode()}" if params else request.path)
        elif request.GET:
            self.remember(request.GET)
        context = self.get_context()
        template = self.partial_template_name if context["partial"] else self.template_name
        return render(request, template, context)
