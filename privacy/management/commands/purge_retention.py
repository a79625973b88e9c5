"""Purge data past its retention period for every tenant (or one), or only report it with --dry-run.

manage.py purge_retention --dry-run            # counts per data class and the oldest date, nothing removed
manage.py purge_retention --tenant 3           # purge one tenant now (the nightly job does every tenant)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.models import Tenant
from privacy import services


class Command(BaseCommand):
    help = "Purge (or with --dry-run, report) data past its retention period, per tenant and data class."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--tenant", type=int, default=None)

    def handle(self, *args, **options):
        tenants = Tenant.objects.order_by("pk")
        if options["tenant"] is not None:
            tenants = tenants.filter(pk=options["tenant"])
        for tenant in tenants:
            report = services.retention_purge(tenant, dry_run=options["dry_run"])
            for line in report:
                done = "" if options["dry_run"] else f", purged {line['purged']}"
                self.stdout.write(
                    f"{tenant.pk} {line['data_class']}: keep {line['retention_days']} days, "
                    f"{line['count']} expired (oldest {line['oldest'] or '-'}){done}"
                )
