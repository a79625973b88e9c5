"""In-process server times of the customer reads (what the HTTP bench's caches and queueing hide).

Usage: DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/cold_list.py [-n 100] [--profile KIND]

One process, the Django test client (every middleware, JWT or session authentication, permissions, throttles,
the envelope), no network and no concurrency: each figure is the server time of one request. Besides wall time
the process CPU time per request is printed, which does not grow with the machine's load. Measured:

* API list, status=2 sorted by health desc (the bench filter): warm (the same page again); page miss (pages 2, 3,
  … of the filter, total cached); page 700 with its cached page removed before each request (the deferred join
  at a deep OFFSET, total cached); page 700 cold (the tenant's customers version bumped before each request:
  total and page recomputed);
* API detail of distinct customers (each once; with the access audit row it writes);
* the staff list page (HTML, session) on the same filter, page 1 and page 560 (25 rows a page), and the default
  list (no filter, newest first).

`--profile KIND` (list-miss, list-warm, detail, staff) prints a cProfile of N requests of that kind instead.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("API_RATE_USER", "1000000/min")
os.environ.setdefault("API_RATE_IP", "1000000/min")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402

settings.ALLOWED_HOSTS = ["*"]

from accounts.models import Tenant, User  # noqa: E402
from accounts.tenancy import tenant_scope  # noqa: E402
from crm_project.testing import api_client_for  # noqa: E402
from customers.cache import customers_changed  # noqa: E402
from customers.models import Customer  # noqa: E402
from customers.selectors import _list_key  # noqa: E402

API = "/api/v1/customers?status=2&sort=health_score,desc&size=20&page={page}"
STAFF = "/customers/?status=2&sort=health_score,desc&page={page}"


def timed(label, client, make_url, n, before=lambda i: None):
    client.get(make_url(0))
    wall, cpu = [], []
    for i in range(n):
        before(i)
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(make_url(i))
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (make_url(i), response.status_code, response.content[:200])
    wall.sort()
    print(
        f"{label:<62} p50 {wall[n // 2]:6.1f}  p95 {wall[min(n - 1, int(n * 0.95))]:6.1f}  "
        f"mean {sum(wall) / n:6.1f} ms   CPU {sum(cpu) / n:5.1f} ms/request",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=100, help="requests per measurement")
    parser.add_argument("--profile", choices=["list-miss", "list-warm", "detail", "staff"])
    args = parser.parse_args()
    n = args.n

    tenant = Tenant.objects.get(name="Bench Tenant")
    user = User.objects.filter(tenant=tenant, groups__name="tenant_admin").first()
    api = api_client_for(user)
    staff = Client()
    staff.force_login(user)
    with tenant_scope(tenant):
        ids = list(Customer.objects.alive().order_by("?").values_list("pk", flat=True)[: n * 4 + 1])

    def drop_page(page):
        params = {"status": "2", "sort": "health_score,desc", "size": "20", "page": str(page)}
        cache.delete(_list_key("page", user, params))

    if args.profile:
        import cProfile
        import pstats

        client, make_url = {
            "list-miss": (api, lambda i: API.format(page=2 + i % 650)),
            "list-warm": (api, lambda i: API.format(page=1)),
            "detail": (api, lambda i: f"/api/v1/customers/{ids[i % len(ids)]}"),
            "staff": (staff, lambda i: STAFF.format(page=2 + i % 500)),
        }[args.profile]
        client.get(make_url(0))
        if args.profile == "list-miss":
            customers_changed(tenant.pk)
        profile = cProfile.Profile()
        profile.enable()
        for i in range(n):
            client.get(make_url(i))
        profile.disable()
        pstats.Stats(profile).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(50)
        return

    print(
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, one process, {n} requests each, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    timed("API list warm (same page again)", api, lambda i: API.format(page=1), n)
    timed("API list page miss (pages 2, 3, …; total cached)", api, lambda i: API.format(page=2 + i), n)
    timed("API list page 700 (page not cached, total cached)", api, lambda i: API.format(page=700), n,
          before=lambda i: drop_page(700))  # fmt: skip
    timed("API list page 700 cold (version bumped: total + page)", api, lambda i: API.format(page=700), n,
          before=lambda i: customers_changed(tenant.pk))  # fmt: skip
    timed("API detail, distinct customers (audit row included)", api,
          lambda i: f"/api/v1/customers/{ids[i + 1]}", n)  # fmt: skip
    timed("staff list page 1 (status=2, health desc)", staff, lambda i: STAFF.format(page=1), n)
    timed("staff list pages 2, 3, … (status=2, health desc)", staff, lambda i: STAFF.format(page=2 + i), n)
    timed("staff list page 560 (status=2, health desc)", staff, lambda i: STAFF.format(page=560), n)
    timed("staff list default (no filter, newest first), page 1", staff, lambda i: "/customers/?page=1", n)
    timed("staff list default, page 2000", staff, lambda i: "/customers/?page=2000", n)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
