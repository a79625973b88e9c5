"""Re-encrypt every encrypted field with the newest key of CRM_FIELD_KEYS and refresh every blind index.

    CRM_FIELD_KEYS=<new>,<old> manage.py rotate_field_keys      # then drop <old> from CRM_FIELD_KEYS
    manage.py rotate_field_keys --new-key                        # print a fresh key to put in front

Idempotent: a value already encrypted with the newest key and a blind index already current are left alone, so
a rerun (or a run interrupted halfway) writes only what is still stale. Works model by model in batches, each
batch in its own transaction, with raw column values (no model save, no signals, no audit noise).
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from crm_project import crypto

BATCH = 500


ENCRYPTED_FIELDS = (crypto.EncryptedCharField, crypto.EncryptedDecimalField)


def encrypted_models():
    """(model, [encrypted column names], [(blind index column, source column, kind)], {sealed JSON column: keys})
    for every model concerned."""
    for model in apps.get_models():
        fields = model._meta.concrete_fields
        encrypted = [f.column for f in fields if isinstance(f, ENCRYPTED_FIELDS)]
        sealed = {f.column: frozenset(f.sealed_keys) for f in fields if isinstance(f, crypto.SealedJSONField)}
        if not encrypted and not sealed:
            continue
        by_name = {f.name: f for f in fields}
        indexes = [
            (f.column, by_name[f.source].column, f.kind) for f in fields if isinstance(f, crypto.BlindIndexField)
        ]
        yield model, encrypted, indexes, sealed


def _load(raw):
    return json.loads(raw) if isinstance(raw, (str, bytes)) else raw


def rotate_all(*, stdout=None) -> dict[str, int]:
    """Rows rewritten per table."""
    qn = connection.ops.quote_name
    written: dict[str, int] = {}
    for model, encrypted, indexes, sealed in encrypted_models():
        table = model._meta.db_table
        pk = model._meta.pk.column
        columns = [*encrypted, *(i[0] for i in indexes), *sealed]
        last = None
        count = 0
        while True:
            where = f" WHERE {qn(pk)} > %s" if last is not None else ""
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {qn(pk)}, {', '.join(qn(c) for c in columns)} FROM {qn(table)}{where} "
                    f"ORDER BY {qn(pk)} LIMIT {BATCH}",
                    [last] if last is not None else [],
                )
                rows = cursor.fetchall()
                for row_pk, *values in rows:
                    current = dict(zip(columns, values, strict=True))
                    plain = {c: crypto.decrypt(current[c]) for c in encrypted}
                    new = {}
                    for column in encrypted:
                        if not crypto.encrypted_with_newest(current[column]):
                            new[column] = crypto.rotate(current[column])
                    for column, keys in sealed.items():
                        value = _load(current[column])
                        if not crypto.sealed_current(value, keys):
                            new[column] = json.dumps(crypto.rotate_sealed(value, keys))
                    for column, source, kind in indexes:
                        digest = crypto.blind_index(kind, plain[source])
                        if digest and digest != current[column]:
                            new[column] = digest
                    if new:
                        sets = ", ".join(f"{qn(c)} = %s" for c in new)
                        cursor.execute(f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk)} = %s", [*new.values(), row_pk])
                        count += 1
            if len(rows) < BATCH:
                break
            last = rows[-1][0]
        written[table] = count
        if stdout is not None:
            stdout.write(f"{table}: {count} row(s) re-encrypted")
    return written


class Command(BaseCommand):
    help = "Re-encrypt encrypted fields with the newest CRM_FIELD_KEYS key and refresh blind indexes (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--new-key", action="store_true", help="Only print a new Fernet key and exit.")

    def handle(self, *args, **options):
        if options["new_key"]:
            self.stdout.write(Fernet.generate_key().decode())
            return
        rotate_all(stdout=self.stdout)
