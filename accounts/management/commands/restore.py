"""`manage.py restore FILE`: load an encrypted backup into a migrated, empty database."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts import backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into an empty database (migrated first)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--database", default="default")
        parser.add_argument("--no-migrate", action="store_true", help="the schema is already there")
        parser.add_argument("--force", action="store_true", help="load even if the database holds tenants or users")

    def handle(self, *args, file, database="default", no_migrate=False, force=False, **options):
        if not Path(file).is_file():
            raise CommandError(f"No backup file {file!r}.")
        started = time.monotonic()
        if not no_migrate:
            call_command("migrate", database=database, interactive=False, verbosity=0)
        try:
            backup.restore(Path(file), database=database, force=force)
        except (backup.BackupError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Restored {file} in {time.monotonic() - started:.1f} s."))
