"""Load test (issue 16): CSMs, portal users and integrations at once, against a server on loopback.

    # 1. its own tenant, users, portal accounts and integration key in the target database (idempotent):
    DATABASE_URL=mysql://root@127.0.0.1:3306/crm_scaleops .venv/bin/python bench/locustfile.py --prepare
    # 2. the server (gunicorn 2 workers + a Celery worker), then 500 users for 10 minutes:
    make loadtest          # both steps, the server and locust; see the Makefile and docs/performance.md

Only 127.0.0.1 is contacted (the host is refused otherwise). Only the tenant "Load Tenant" is read or written: its
users log in, its customers are listed and changed, its integration key signs the integration calls.
`--prepare` writes what the users need (names, passwords, ids, the key) to data/loadtest.json (not committed).

Users (weights 6 : 3 : 1), with think times of people reading a page, and of a system sending batches:
- CSM (API, JWT): the customer list with filters and pages, a customer's detail and health trend, logging a
  communication, creating a success task and completing it.
- Portal user (pages, session + CSRF like a browser): home, tickets, bills, help, submitting a request.
- Integration (HMAC-signed like accounts/integration.py): ticket ingest, usage events, payment upsert.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("LOADTEST_STATE", ROOT / "data" / "loadtest.json"))
TENANT = "Load Tenant"
ADMIN = "load-admin"
PASSWORD = "Load-Pass-2025!"
CSMS = 20
PORTAL_ACCOUNTS = 60
CUSTOMERS = int(os.environ.get("LOADTEST_CUSTOMERS", "5000"))
SAMPLE_PER_CSM = 150


# --- --prepare: runs inside Django ----------------------------------------------------------------------------------
def prepare() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.integration import integration_key_create
    from accounts.models import IntegrationKey, Tenant, User
    from accounts.registry import demo_steps
    from accounts.roles import CSM
    from accounts.services import tenant_create, user_create
    from accounts.tenancy import tenant_scope, unscoped
    from contracts.choices import ContractStatus
    from contracts.models import Contract
    from customers.choices import CustomerStatus
    from customers.models import Customer, CustomerContact
    from portal import services as portal_services
    from portal.auth import account_may_enter
    from portal.models import PortalAccount

    started = time.perf_counter()
    print(f"[prepare] {connection.vendor} {connection.settings_dict['NAME']}", flush=True)
    call_command("migrate", "--noinput", verbosity=0)
    with unscoped("the load test sets up its own tenant"):
        tenant = Tenant.objects.filter(name=TENANT).first() or tenant_create(
            name=TENANT, admin_username=ADMIN, admin_password=PASSWORD
        )
        csms = []
        for n in range(1, CSMS + 1):
            username = f"load-csm-{n:02d}"
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(tenant=tenant, username=username, password=PASSWORD, role=CSM, email="")
            elif user.tenant_id != tenant.pk:
                raise SystemExit(f"user {username} belongs to another tenant")
            csms.append(user)
    with tenant_scope(tenant):
        present = Customer.objects.alive().count()
        if present < CUSTOMERS:
            print(f"[prepare] generating {CUSTOMERS - present} customers ...", flush=True)
            call_command("generate_demo", tenant=TENANT, customers=CUSTOMERS - present, seed=16, stdout=sys.stdout)
            if not Contract.objects.exists():
                rng, context = random.Random(16), {}
                for step in demo_steps:
                    if step.key in ("contracts", "service_records", "communications", "health_usage"):
                        print(f"[prepare] demo step {step.key}: {step.run(tenant, rng, context)}", flush=True)
        csm_state = []
        for user in csms:
            rows = list(
                Customer.objects.alive()
                .filter(assigned_manager=user)
                .order_by("pk")
                .values_list("pk", "customer_code")[:SAMPLE_PER_CSM]
            )
            contacts = dict(
                CustomerContact.objects.filter(customer_id__in=[pk for pk, _code in rows], is_primary=True)
                .values_list("customer_id", "pk")
                .order_by()
            )
            csm_state.append(
                {
                    "username": user.username,
                    "user_id": user.pk,
                    "customers": [[pk, contacts.get(pk)] for pk, _c in rows],
                }
            )
        codes = list(Customer.objects.alive().order_by("?").values_list("customer_code", flat=True)[:2000])
        contract_codes = list(
            Contract.objects.filter(status=ContractStatus.ACTIVE)
            .order_by("?")
            .values_list("contract_code", flat=True)[:1000]
        )
        portal = []
        # e-mails are encrypted: compared after loading. Only accounts that may enter the portal (a customer lost
        # since the last run, e.g. by the contract expiry job, has its portal closed: its users would only fail).
        for account in PortalAccount.objects.select_related("customer").order_by("pk"):
            if account.email.startswith("load-portal-") and account_may_enter(account):
                portal.append({"email": account.email, "password": PASSWORD})
        if len(portal) < PORTAL_ACCOUNTS:
            taken = {p["email"] for p in portal}
            candidates = (
                Customer.objects.alive()
                .filter(portal_accounts__isnull=True)
                .exclude(status=CustomerStatus.LOST)
                .order_by("pk")
            )
            for customer in candidates[: PORTAL_ACCOUNTS * 2]:
                if len(portal) >= PORTAL_ACCOUNTS:
                    break
                email = f"load-portal-{customer.pk}@load.example"
                if email in taken:
                    continue
                contact = customer.contacts.order_by("-is_primary", "pk").first()
                if contact is None:
                    continue
                contact.email = email
                contact.save()
                _account, path = portal_services.account_invite(actor=None, customer=customer, email=email, send=False)
                raw = path.rstrip("/").rsplit("/", 1)[-1]
                portal_services.password_set(token=portal_services.token_find(raw), password=PASSWORD)
                portal.append({"email": email, "password": PASSWORD})
        key = IntegrationKey.objects.filter(name="loadtest").first()
        if key is None or not STATE.exists():
            IntegrationKey.objects.filter(name="loadtest").delete()
            key, secret = integration_key_create(tenant=tenant, name="loadtest")
        else:
            secret = json.loads(STATE.read_text())["integration"]["secret"]
    state = {
        "tenant": TENANT,
        "password": PASSWORD,
        "csms": csm_state,
        "portal": portal,
        "customer_codes": codes,
        "contract_codes": contract_codes,
        "integration": {"key_id": key.key_id, "secret": secret},
    }
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state))
    STATE.chmod(0o600)
    print(
        f"[prepare] tenant {TENANT!r}: {CUSTOMERS} customers, {len(csm_state)} CSMs "
        f"({sum(len(c['customers']) for c in csm_state)} sampled customers), {len(portal)} portal accounts, "
        f"{len(contract_codes)} active contracts, key {key.key_id}; {time.perf_counter() - started:.1f} s → {STATE}"
    )


if __name__ == "__main__" and "--prepare" in sys.argv:
    prepare()
    raise SystemExit(0)


# --- The users (imported by locust) ---------------------------------------------------------------------------------
from locust import HttpUser, between, events, task  # noqa: E402

_state: dict = {}
_csm_cycle = None
_portal_cycle = None
_serial = itertools.count(1)
RUN = uuid.uuid4().hex[:8]  # external ids of this run never collide with an earlier one's


@events.init.add_listener
def _load_state(environment, **_kwargs):
    global _csm_cycle, _portal_cycle
    host = urlparse(environment.host or "").hostname
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"the load test only targets loopback, not {environment.host!r}")
    if not STATE.exists():
        raise SystemExit(f"{STATE} is missing: run `python bench/locustfile.py --prepare` first")
    _state.update(json.loads(STATE.read_text()))
    _csm_cycle = itertools.cycle(_state["csms"])
    _portal_cycle = itertools.cycle(_state["portal"])


def _expect(response, *codes):
    if response.status_code not in codes:
        response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
    else:
        response.success()


class CsmUser(HttpUser):
    """A customer success manager working through the API (as the staff front end and mobile app do)."""

    weight = 6
    wait_time = between(3, 12)

    def on_start(self):
        me = next(_csm_cycle)
        self.user_id = me["user_id"]
        self.customers = list(me["customers"]) or [[0, None]]
        with self.client.post(
            "/api/v1/auth/token",
            json={"username": me["username"], "password": _state["password"]},
            name="auth: token",
            catch_response=True,
        ) as response:
            _expect(response, 200)
            token = response.json()["data"]["access"] if response.status_code == 200 else ""
        self.client.headers["Authorization"] = f"Bearer {token}"

    def _customer(self):
        return random.choice(self.customers)

    @task(6)
    def customer_list(self):
        params = {"page": random.choice([1, 1, 1, 2, 2, 3, 5]), "size": 20}
        kind = random.random()
        if kind < 0.35:
            params["status"] = random.choice([1, 2, 3])
        elif kind < 0.5:
            params["level"] = random.choice([1, 2, 3])
        elif kind < 0.6:
            params["sort"] = "health_score"
        with self.client.get("/api/v1/customers", params=params, name="csm: customer list", catch_response=True) as r:
            _expect(r, 200)

    @task(4)
    def customer_detail(self):
        customer_id, _contact = self._customer()
        with self.client.get(
            f"/api/v1/customers/{customer_id}", name="csm: customer detail", catch_response=True
        ) as response:
            _expect(response, 200)

    @task(2)
    def health_trend(self):
        customer_id, _contact = self._customer()
        with self.client.get(
            f"/api/v1/customers/{customer_id}/health-score/trend", name="csm: health trend", catch_response=True
        ) as response:
            _expect(response, 200)

    @task(2)
    def log_communication(self):
        customer_id, contact_id = self._customer()
        body = {
            "communication_type": random.choice([1, 2, 3]),
            "direction": 2,
            "subject": "季度回顾",
            "content": "客户对上季度运行情况满意，计划下月讨论扩容。",
            "duration_minutes": random.choice([10, 20, 30]),
            "importance": 2,
            "communication_date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 600)),
        }
        if contact_id:
            body["contact_id"] = contact_id
        with self.client.post(
            f"/api/v1/customers/{customer_id}/communications",
            json=body,
            name="csm: log communication",
            catch_response=True,
        ) as response:
            _expect(response, 201)

    @task(1)
    def task_create_and_complete(self):
        customer_id, _contact = self._customer()
        body = {
            "task_title": f"跟进 {RUN}-{next(_serial)}",
            "task_description": "电话回访，确认续约意向",
            "task_type": 1,
            "priority": 2,
            "assigned_to": self.user_id,
            "due_date": time.strftime("%Y-%m-%d 18:00:00", time.localtime(time.time() + 7 * 86400)),
        }
        with self.client.post(
            f"/api/v1/customers/{customer_id}/success-tasks", json=body, name="csm: create task", catch_response=True
        ) as response:
            _expect(response, 201)
            if response.status_code != 201:
                return
            task_id = response.json()["data"]["task_id"]
        url = f"/api/v1/customers/success-tasks/{task_id}/status"
        with self.client.post(url, json={"status": 2}, name="csm: task status", catch_response=True) as response:
            _expect(response, 200)
        with self.client.post(
            url, json={"status": 3, "result": "已确认"}, name="csm: task status", catch_response=True
        ) as response:
            _expect(response, 200)


class PortalUser(HttpUser):
    """A customer's contact in the self-service portal (server-rendered pages, a session and CSRF)."""

    weight = 3
    wait_time = between(5, 15)

    def on_start(self):
        me = next(_portal_cycle)
        self.client.get("/portal/login/", name="portal: login page")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/portal/login/",
            data={"email": me["email"], "password": me["password"], "csrfmiddlewaretoken": token},
            name="portal: login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _expect(response, 302)

    def _page(self, path, name):
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            _expect(response, 200)

    @task(4)
    def home(self):
        self._page("/portal/", "portal: home")

    @task(3)
    def tickets(self):
        self._page("/portal/tickets/", "portal: tickets")

    @task(1)
    def bills(self):
        self._page("/portal/bills/", "portal: bills")

    @task(1)
    def help(self):
        self._page("/portal/help/", "portal: help")

    @task(1)
    def submit_request(self):
        self._page("/portal/requests/new/question/", "portal: request form")
        token = self.client.cookies.get("csrftoken", "")
        data = {
            "title": f"如何导出月度报告 {RUN}-{next(_serial)}",
            "description": "我们想每月自动收到服务报告，请问如何设置？",
            "csrfmiddlewaretoken": token,
        }
        with self.client.post(
            "/portal/requests/new/question/",
            data=data,
            name="portal: submit request",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            _expect(response, 302)


class IntegrationUser(HttpUser):
    """Another system (ticketing, product telemetry, finance) posting signed batches."""

    weight = 1
    wait_time = between(2, 8)

    def _signed(self, path, payload, name):
        body = json.dumps(payload, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        secret = _state["integration"]["secret"]
        digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-CRM-Key": _state["integration"]["key_id"],
            "X-CRM-Timestamp": timestamp,
            "X-CRM-Signature": f"sha256={digest}",
        }
        with self.client.post(path, data=body, headers=headers, name=name, catch_response=True) as response:
            _expect(response, 200)
            failed = (response.json().get("data") or {}).get("failed") if response.status_code == 200 else None
            if failed:  # a batch is answered 200 with the items it refused: count those as errors too
                response.failure(f"refused items: {json.dumps(failed, ensure_ascii=False)[:200]}")

    @task(3)
    def tickets(self):
        now = time.time()
        stamp = lambda seconds: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))  # noqa: E731
        tickets = []
        for _ in range(random.randint(1, 10)):
            n = next(_serial)
            tickets.append(
                {
                    "external_id": f"LT-{RUN}-{n}",
                    "source_system": "itsm",
                    "customer_code": random.choice(_state["customer_codes"]),
                    "title": f"工单 {n}",
                    "description": "",
                    "category": random.choice(["network", "software", "hardware"]),
                    "priority": random.choice(["P2", "P3", "P4"]),
                    "channel": "email",
                    "status": "resolved",
                    "opened_at": stamp(now - 7200),
                    "first_response_at": stamp(now - 6600),
                    "resolved_at": stamp(now - 600),
                    "closed_at": None,
                    "assignee": "Wang Lei",
                    "solution": "",
                }
            )
        self._signed("/api/v1/integrations/tickets", {"tickets": tickets}, "integration: ticket ingest")

    @task(3)
    def usage_events(self):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 60))
        events = [
            {
                "event_id": f"{RUN}-{next(_serial)}",
                "customer_code": random.choice(_state["customer_codes"]),
                "user_id": f"u{random.randint(1, 50)}",
                "event_type": random.choice(["login", "feature_use"]),
                "occurred_at": stamp,
            }
            for _ in range(random.randint(20, 100))
        ]
        self._signed("/api/v1/integrations/usage-events", {"events": events}, "integration: usage events")

    @task(1)
    def payment_upsert(self):
        if not _state["contract_codes"]:
            return
        n = next(_serial)
        today = time.strftime("%Y-%m-%d")
        item = {
            "contract_code": random.choice(_state["contract_codes"]),
            "invoice": {
                "external_id": f"LT-INV-{RUN}-{n}",
                "invoice_number": f"LT-{RUN}-{n}",
                "amount": 5000,
                "issue_date": today,
                "due_date": today,
            },
            "payment": {"external_id": f"LT-PAY-{RUN}-{n}", "amount": 5000, "paid_date": today},
        }
        self._signed("/api/v1/integrations/payments", {"items": [item]}, "integration: payment upsert")
