"""Test helpers: a subscription (through the service) and a local HTTP target in a thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from accounts.tenancy import tenant_scope
from webhooks import services


def make_subscription(actor, *, url="https://hooks.example.com/crm", event_types=("customer.created",), **data):
    with tenant_scope(actor.tenant):
        subscription, _secret = services.subscription_create(
            actor=actor,
            data={"name": data.pop("name", "Walk hook"), "target_url": url, "event_types": list(event_types), **data},
        )
    return subscription


def make_delivery(actor, subscription=None, **fields):
    from django.utils import timezone

    from webhooks.models import WebhookDelivery

    with tenant_scope(actor.tenant):
        subscription = subscription or make_subscription(actor)
        return WebhookDelivery.objects.create(
            subscription=subscription,
            event_type="customer.created",
            source="subscription",
            target_url=subscription.target_url,
            key_id=subscription.key_id,
            secret=subscription.secret,
            payload={"event": "customer.created", "data": {"id": 1}},
            next_attempt_at=timezone.now(),
            **fields,
        )


class Target:
    """A local HTTP server answering each POST with the next status of `statuses` (the last one repeats)."""

    def __init__(self):
        self.received: list[dict] = []
        self.statuses = [200]
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target.received.append({"headers": self.headers, "body": body, "path": self.path})
                status = target.statuses.pop(0) if len(target.statuses) > 1 else target.statuses[0]
                answer = json.dumps({"ok": status < 300}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crm"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
