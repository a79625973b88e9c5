"""The sandbox user-written template text (bodies and clause texts) compiles and renders in.

- No template loaders, no tag libraries, only an allow-list of harmless tags and filters: `{% load %}`,
  `{% include %}`, `{% extends %}`, `{% debug %}`, `{% url %}`, `{% autoescape off %}`, `|safe` and the padding
  filters (`ljust`, `stringformat`, ...) do not exist there, so a template cannot read files, dump the context or
  blow up memory. A template that uses them is a `TemplateRenderError` with a readable message, never a 500.
- **The work is bounded.** Loops may nest at most `MAX_LOOP_DEPTH` deep (refused when the text is compiled, i.e.
  when it is saved); a render may run at most `MAX_LOOP_ITERATIONS` loop iterations in total and
  `RENDER_DEADLINE_SECONDS` of wall time, its loops may produce at most `MAX_OUTPUT_CHARS`, and `|add` refuses
  results longer than `MAX_VALUE_CHARS`. Past any bound the render stops with a `TemplateRenderError`.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Node, NodeList
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from contracts.documents.errors import TemplateRenderError

if TYPE_CHECKING:
    from django.template.base import Template

logger = logging.getLogger("crm.contracts.documents")

MAX_LOOP_DEPTH = 3  # clauses × rows × cells is the deepest a contract needs
MAX_LOOP_ITERATIONS = 20_000  # over the whole document (body and every clause)
RENDER_DEADLINE_SECONDS = 2.0
MAX_OUTPUT_CHARS = 2_000_000  # a rendered body larger than this is refused (a runaway loop, not a contract)
MAX_VALUE_CHARS = 100_000  # `|add` of strings or lists

SANDBOX_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
SANDBOX_FILTERS = (
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "escape",
    "first",
    "force_escape",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "wordcount",
    "yesno",
)


# --- The work budget ------------------------------------------------------------------------------------------------
class RenderBudget:
    """Loop iterations, loop output and wall time left for one document (body and clauses share it)."""

    def __init__(self) -> None:
        self.iterations = 0
        self.output = 0
        self.deadline = time.monotonic() + RENDER_DEADLINE_SECONDS

    def tick(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise TemplateRenderError(
                _("The template does too much work: its loops run more than %(limit)s times. Simplify the loops.")
                % {"limit": f"{MAX_LOOP_ITERATIONS:,}"}
            )
        if self.iterations % 256 == 0 and time.monotonic() > self.deadline:
            raise TemplateRenderError(
                _("The template took longer than %(seconds)s seconds to render. Simplify the loops.")
                % {"seconds": f"{RENDER_DEADLINE_SECONDS:g}"}
            )

    def produced(self, chars: int) -> None:
        self.output += chars
        if self.output > MAX_OUTPUT_CHARS:
            raise TemplateRenderError(_("The rendered document is too large."))


_budget: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar("contract_render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[RenderBudget]:
    """One budget for everything rendered inside (a whole document); nested uses share the outer one."""
    current = _budget.get()
    if current is not None:
        yield current
        return
    budget = RenderBudget()
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


class BoundedForNode(defaulttags.ForNode):
    """Django's `{% for %}` with every iteration and every piece of output charged to the render budget."""

    def render(self, context):
        budget = _budget.get() or RenderBudget()
        parentloop = context.get("forloop", {})
        with context.push():
            values = self.sequence.resolve(context, ignore_failures=True)
            if values is None:
                values = []
            if not hasattr(values, "__len__"):
                values = list(values)
            len_values = len(values)
            if len_values < 1:
                return self.nodelist_empty.render(context)
            if self.is_reversed:
                values = reversed(values)
            unpack = len(self.loopvars) > 1
            loop_dict = context["forloop"] = {"parentloop": parentloop}
            output: list[str] = []
            for i, item in enumerate(values):
                budget.tick()
                loop_dict.update(
                    counter0=i,
                    counter=i + 1,
                    revcounter=len_values - i,
                    revcounter0=len_values - i - 1,
                    first=i == 0,
                    last=i == len_values - 1,
                )
                if unpack:
                    try:
                        len_item = len(item)
                    except TypeError:
                        len_item = 1
                    if len(self.loopvars) != len_item:
                        raise ValueError(f"Need {len(self.loopvars)} values to unpack in for loop; got {len_item}.")
                    context.update(dict(zip(self.loopvars, item, strict=True)))
                else:
                    context[self.loopvars[0]] = item
                for node in self.nodelist_loop:
                    piece = node.render_annotated(context)
                    budget.produced(len(piece))
                    output.append(piece)
                if unpack:
                    context.pop()
        return mark_safe("".join(output))  # noqa: S308 - the pieces are rendered (escaped) template output


def _bounded_for(parser, token):
    node = defaulttags.do_for(parser, token)
    bounded = BoundedForNode(node.loopvars, node.sequence, node.is_reversed, node.nodelist_loop, node.nodelist_empty)
    return bounded


def _bounded_add(value, arg):
    result = defaultfilters.add(value, arg)
    if isinstance(result, (str, list, tuple)) and len(result) > MAX_VALUE_CHARS:
        raise TemplateRenderError(_("A value built with “add” is too long."))
    return result


_sandbox_library = Library()
for _name in SANDBOX_TAGS:
    _sandbox_library.tags[_name] = defaulttags.register.tags[_name]
_sandbox_library.tags["for"] = _bounded_for
for _name in SANDBOX_FILTERS:
    _sandbox_library.filters[_name] = defaultfilters.register.filters[_name]
_sandbox_library.filter("add", _bounded_add, is_safe=False)

_engine_lock = threading.Lock()
_engine: Engine | None = None


def sandbox_engine() -> Engine:
    """The engine user-written templates compile in: no loaders, no libraries, only the allow-listed builtins."""
    global _engine
    with _engine_lock:
        if _engine is None:
            engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=True, debug=True)
            # Engine() always adds Django's default builtins (load, include, debug, url, safe, ...): replace them.
            engine.builtins = []
            engine.template_builtins = [_sandbox_library]
            _engine = engine
        return _engine


# --- Compiling ------------------------------------------------------------------------------------------------------
_UNKNOWN_TAG = re.compile(r"^Invalid block tag on line \d+: '([^']+)'\. ")
_UNKNOWN_FILTER = re.compile(r"^Invalid filter: '([^']+)'")


def _located(text: str, clause: str | None, line: int | None = None) -> str:
    if clause is not None:
        if line:
            return _("Clause “%(clause)s”, line %(line)s: %(error)s") % {"clause": clause, "line": line, "error": text}
        return _("Clause “%(clause)s”: %(error)s") % {"clause": clause, "error": text}
    if line:
        return _("Template line %(line)s: %(error)s") % {"line": line, "error": text}
    return _("Template error: %(error)s") % {"error": text}


def _syntax_message(exc: Exception, clause: str | None) -> str:
    text = str(exc)
    if match := _UNKNOWN_TAG.match(text):
        text = _("the tag “%(tag)s” cannot be used in contract templates") % {"tag": match.group(1)}
    elif match := _UNKNOWN_FILTER.match(text):
        text = _("the filter “%(filter)s” cannot be used in contract templates") % {"filter": match.group(1)}
    line = (getattr(exc, "template_debug", None) or {}).get("line")
    return _located(text, clause, line)


def _loop_depth(nodelist: NodeList, depth: int = 0) -> tuple[int, Node | None]:
    """The deepest nesting of `{% for %}` loops under `nodelist`, with the innermost loop that reaches it."""
    deepest, where = depth, None
    for node in nodelist:
        inner = depth + 1 if isinstance(node, defaulttags.ForNode) else depth
        if inner > deepest:
            deepest, where = inner, node
        for attr in getattr(node, "child_nodelists", ()):
            child = getattr(node, attr, None)
            if child:
                found, found_where = _loop_depth(child, inner)
                if found > deepest:
                    deepest, where = found, found_where
        for _condition, child in getattr(node, "conditions_nodelists", ()):  # {% if %} keeps its branches here
            found, found_where = _loop_depth(child, inner)
            if found > deepest:
                deepest, where = found, found_where
    return deepest, where


def compile_template_text(source: str, *, clause: str | None = None) -> Template:
    """Compile user-written template text in the sandbox; `TemplateRenderError` if it is not valid.

    Forms use it to refuse a broken or too costly body before it is saved (`clause` names the clause).
    """
    try:
        template = sandbox_engine().from_string(source or "")
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(_syntax_message(exc, clause)) from exc
    depth, where = _loop_depth(template.nodelist)
    if depth > MAX_LOOP_DEPTH:
        line = None
        if where is not None and getattr(where, "token", None) is not None:
            line = source.count("\n", 0, where.token.position[0]) + 1
        raise TemplateRenderError(
            _located(
                _("loops are nested %(depth)d deep; contract templates allow at most %(max)d nested {%% for %%} loops")
                % {"depth": depth, "max": MAX_LOOP_DEPTH},
                clause,
                line,
            )
        )
    return template


def render_text(source: str, context: dict[str, Any], *, clause: str | None = None) -> str:
    """Render template text with plain values, inside the current document's work budget."""
    compiled = compile_template_text(source, clause=clause)
    with render_budget():
        try:
            output = compiled.render(Context(context, autoescape=True))
        except TemplateRenderError as exc:
            raise TemplateRenderError(_located(str(exc), clause)) from exc
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(_syntax_message(exc, clause)) from exc
        except RecursionError as exc:  # pragma: no cover - needs pathological nesting
            raise TemplateRenderError(_("The template is nested too deeply.")) from exc
        except Exception as exc:  # noqa: BLE001 - user-written input: any failure is the template's, answered as such
            logger.warning("contract template failed to render: %r", exc)
            raise TemplateRenderError(_syntax_message(exc, clause)) from exc
    if len(output) > MAX_OUTPUT_CHARS:
        raise TemplateRenderError(_("The rendered document is too large."))
    return output
