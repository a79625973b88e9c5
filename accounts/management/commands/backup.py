"""`manage.py backup --output FILE`: every tenant's data, compressed and encrypted with CRM_BACKUP_KEY."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from accounts import backup


class Command(BaseCommand):
    help = "Write an encrypted logical backup of the whole database (all tenants) to --output."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="the backup file to write (e.g. backups/crm-2026-12-01.crmbk)")
        parser.add_argument("--database", default="default")
        parser.add_argument("--manifest", help="also write the row counts and per-table checksums (JSON) here")
        parser.add_argument("--generate-key", action="store_true", help="print a new CRM_BACKUP_KEY and exit")

    def handle(self, *args, output=None, database="default", manifest=None, generate_key=False, **options):
        if generate_key:
            self.stdout.write(backup.generate_key())
            return
        if not output:
            raise CommandError("--output FILE is required")
        started = time.monotonic()
        try:
            fingerprints = backup.backup(Path(output), database=database)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if manifest:
            Path(manifest).write_text(json.dumps(fingerprints, indent=1, sort_keys=True))
        rows = sum(table["rows"] for table in fingerprints.values())
        size = Path(output).stat().st_size
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {rows} rows of {len(fingerprints)} tables to {output} "
                f"({size / 1024:.1f} KiB, encrypted) in {time.monotonic() - started:.1f} s."
            )
        )
