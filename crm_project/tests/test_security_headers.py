"""Headers and deployment settings (issue 8 item 11): CSP on every page and no inline script, HTTPS settings from
the environment so `check --deploy` is clean, no server banner with versions."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from crm_project.testing import World, iter_routes, load_route_registries

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_staff_page_has_a_strict_csp_and_no_inline_script(tenant, owner):
    load_route_registries()
    world = World(tenant, owner)
    client = Client()
    client.force_login(owner)
    checked = 0
    problems = []
    for route in iter_routes():
        if route.is_api or route.regex or route.template.startswith("admin/"):
            continue
        response = client.get(route.url(world))
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
            continue
        checked += 1
        policy = _policy(response)
        if policy.get("script-src") != ["'self'"] or policy.get("frame-ancestors") != ["'none'"]:
            problems.append(f"{route.name}: {response['Content-Security-Policy']}")
        body = response.content.decode()
        if INLINE_SCRIPT.search(body) or EVENT_HANDLER.search(body):
            problems.append(f"{route.name}: inline script or on* handler in the page")
    assert checked >= 10, checked
    assert not problems, "\n".join(problems)


def test_login_page_and_error_pages_have_the_csp(client, db):
    for url in ["/accounts/login/", "/no-such-page/"]:
        response = client.get(url)
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_swagger_ui_page_needs_no_inline_script(owner, staff_client_as):
    client = staff_client_as(owner)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    body = page.content.decode()
    assert not INLINE_SCRIPT.search(body), body
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 30 + "production-like-secret-key-with-enough-entropy-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "crm.example.com",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "BEHIND_TLS_PROXY": "true",
}


KNOWN_CHECK_LINES: tuple[str, ...] = ()  # substrings of `check --deploy` lines accepted, each with a reason


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {**os.environ, **PRODUCTION_ENV, "CRM_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser fixture of this test run, never in deployment
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    issues = [
        line
        for line in output.splitlines()
        if line.startswith("?:") or re.match(r"^\S+: \(", line)
        if not any(known in line for known in KNOWN_CHECK_LINES)
    ]
    assert not issues, output


@pytest.mark.parametrize("name", ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD"])
def test_https_settings_are_parsed_strictly(tmp_path, name):
    env = {**os.environ, name: "yes-please", "CRM_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode != 0 and name in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_sends_no_server_banner_with_a_version(tmp_path):
    port = _free_port()
    env = {**os.environ, "CRM_DATA_DIR": str(tmp_path), "DEBUG": "false"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", "crm_project/gunicorn.conf.py", "crm_project.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                    server = response.headers.get("Server", "")
                break
            except urllib.error.HTTPError as answer:  # e.g. 503 when this run's database is not migrated
                server = answer.headers.get("Server", "")
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "gunicorn" not in server.lower() and not re.search(r"\d", server), server
