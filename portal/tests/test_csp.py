"""Every portal page, as a signed-in portal user, carries the strict Content-Security-Policy and has no inline
script, event handler or style attribute (the shared staff-page check cannot sign in to the portal)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

from crm_project.testing import World, iter_routes, load_route_registries
from portal.tests.factories import portal_client

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.I)


def test_every_portal_page_has_the_csp_and_no_inline_code(owner):
    load_route_registries()
    world = World(owner.tenant, owner)
    client = portal_client(Client(), world["portal_account"])
    checked, problems = 0, []
    for route in iter_routes():
        if route.namespace != "portal" or route.name in ("portal:logout", "portal:set_password"):
            continue
        response = client.get(route.url(world))
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        checked += 1
        header = response["Content-Security-Policy"]
        if "script-src 'self'" not in header or "frame-ancestors 'none'" not in header:
            problems.append(f"{route.name}: {header}")
        body = response.content.decode()
        if INLINE_SCRIPT.search(body) or EVENT_HANDLER.search(body) or STYLE_ATTR.search(body):
            problems.append(f"{route.name}: inline script, on* handler or style attribute")
    assert checked >= 15, checked
    assert not problems, "\n".join(problems)


def test_portal_templates_have_no_inline_script_or_style():
    root = Path(__file__).resolve().parents[1] / "templates"
    for template in root.rglob("*.html"):
        if "/pdf/" in str(template):
            continue  # PDFs are rendered by xhtml2pdf, never served as pages
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text) and not STYLE_ATTR.search(text), template
