"""In-process timing of the customer list with its caches missed (the worst case the HTTP bench hides).

Usage: DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/cold_list.py
Times N requests of the list endpoint three ways: warm (same request again), page miss (a new page of the
same filter: the cached total is reused), and cold (the tenant's customer version bumped before each
request: count and page both recomputed).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
os.environ.setdefault("API_RATE_USER", "1000000/min")
os.environ.setdefault("API_RATE_IP", "1000000/min")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.ALLOWED_HOSTS = ["*"]

from accounts.models import Tenant, User  # noqa: E402
from crm_project.testing import api_client_for  # noqa: E402
from customers.cache import customers_changed  # noqa: E402

N = 100
URL = "/api/v1/customers?status=2&sort=health_score,desc&size=20&page={page}"


def timed(label, make_url, before=lambda i: None):
    client = api_client_for(user)
    client.get(make_url(0))
    spent = []
    for i in range(N):
        before(i)
        start = time.perf_counter()
        response = client.get(make_url(i))
        spent.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:200]
    spent.sort()
    print(f"{label:<48} mean {sum(spent) / N:6.1f} ms   p50 {spent[N // 2]:6.1f}   p95 {spent[int(N * 0.95)]:6.1f}")


tenant = Tenant.objects.get(name="Bench Tenant")
user = User.objects.filter(tenant=tenant, groups__name="tenant_admin").first()
print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, one process, {N} requests each")
timed("warm (same page again)", lambda i: URL.format(page=1))
timed("page miss (new page, cached total)", lambda i: URL.format(page=2 + i))
timed("cold (count and page recomputed)", lambda i: URL.format(page=1), before=lambda i: customers_changed(tenant.pk))
