"""`manage.py restore_drill`: back up the database, restore it into a scratch database, and compare row counts
and per-table checksums table by table. Exits non-zero when anything differs."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.utils import load_backend

from accounts import backup

ALIAS = "restore_drill"


class Command(BaseCommand):
    help = "Backup → restore into a scratch database → compare row counts and checksums of every table."

    def add_arguments(self, parser):
        parser.add_argument("--scratch-name", default="", help="scratch database name (MariaDB; default <db>_drill)")
        parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")

    def handle(self, *args, scratch_name="", keep=False, **options):
        from django.conf import settings

        started = time.monotonic()
        name = scratch_name or f"{settings.DATABASES['default']['NAME']}_drill".rsplit("/", 1)[-1].replace(".", "_")
        config = backup.scratch_database(name)
        # A connection of its own, not a configured alias: nothing else (routers, tests) ever sees it.
        connections[ALIAS] = load_backend(config["ENGINE"]).DatabaseWrapper(config, ALIAS)
        try:
            with tempfile.TemporaryDirectory() as folder:
                file = Path(folder) / "drill.crmbk"
                try:
                    source = backup.backup(file)
                except ImproperlyConfigured as exc:
                    raise CommandError(str(exc)) from None
                backed_up = time.monotonic()
                call_command("migrate", database=ALIAS, interactive=False, verbosity=0)
                backup.restore(file, database=ALIAS)
                restored_at = time.monotonic()
                restored = backup.table_fingerprints(ALIAS)
                size = file.stat().st_size
            problems = backup.compare(source, restored)
            rows = sum(table["rows"] for table in source.values())
            self.stdout.write(f"{'table':45} {'rows':>9}  checksum (sha256, first 12)  match")
            for table in sorted(source):
                a, b = source[table], restored.get(table, {})
                ok = "ok" if a == b else "DIFFERENT"
                self.stdout.write(f"{table:45} {a['rows']:>9}  {a['sha256'][:12]} / {b.get('sha256', '-')[:12]}  {ok}")
            self.stdout.write(
                f"{len(source)} tables, {rows} rows; backup {size / 1024:.1f} KiB encrypted in "
                f"{backed_up - started:.1f} s, migrate + restore {restored_at - backed_up:.1f} s."
            )
            if problems:
                raise CommandError("Restore drill FAILED:\n" + "\n".join(problems))
            self.stdout.write(self.style.SUCCESS("Restore drill passed: every table has the same rows and checksum."))
        finally:
            connections[ALIAS].close()
            del connections[ALIAS]
            if not keep:
                backup.drop_scratch(config)
