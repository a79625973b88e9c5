"""Encrypted logical backups of every tenant's data, restore into an empty database, and row counts plus
per-table checksums to prove a restore complete (`manage.py backup`, `restore`, `restore_drill`).

The dump is Django's serialization of every model (`dumpdata` with natural keys for content types and
permissions, which `migrate` recreates with other ids), so one file restores into SQLite or MariaDB alike.
File format: the magic `CRMBK1`, then frames `<4-byte length><Fernet token>`; each token holds
`<8-byte frame number><1-byte last flag><up to 4 MiB of the gzip stream>`. Fernet (AES-128-CBC + HMAC-SHA256)
authenticates every frame; numbering and the last flag refuse reordered or truncated files.
The key is `CRM_BACKUP_KEY` (a Fernet key: `manage.py backup --generate-key`), never the SECRET_KEY.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.serializers import json as json_serializer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction

MAGIC = b"CRMBK1"
FRAME = 4 * 1024 * 1024
# Rebuilt by `migrate` with their own ids: not dumped; references to them travel as natural keys.
NOT_DUMPED = ["contenttypes", "auth.permission", "sessions", "axes"]
NATURAL = ("contenttypes.contenttype", "auth.permission")


class BackupError(Exception):
    pass


# --- The serialization format: Django's JSON, with datetimes to the microsecond (DjangoJSONEncoder keeps ms) ------
class _Encoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, (datetime.datetime, datetime.time)):
            return o.isoformat()
        return super().default(o)


class Serializer(json_serializer.Serializer):
    def _init_options(self):
        super()._init_options()
        self.json_kwargs["cls"] = _Encoder


Deserializer = json_serializer.Deserializer
FORMAT = "crmjson"


def _register_format() -> None:
    if FORMAT not in serializers.get_serializer_formats():
        serializers.register_serializer(FORMAT, "accounts.backup")


def _fernet(key: str | None = None):
    from cryptography.fernet import Fernet

    key = key or getattr(settings, "CRM_BACKUP_KEY", "")
    if not key:
        raise ImproperlyConfigured("CRM_BACKUP_KEY is not set (manage.py backup --generate-key makes one)")
    try:
        return Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError):
        raise ImproperlyConfigured("CRM_BACKUP_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from None


def generate_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# --- Encrypted frames -----------------------------------------------------------------------------------------------
def encrypt_file(plain_path: Path, out_path: Path, key: str | None = None) -> None:
    """gzip + encrypt `plain_path` into `out_path`, frame by frame (memory stays at a few MiB)."""
    fernet = _fernet(key)
    compressed = io.BytesIO()
    with open(plain_path, "rb") as source, open(out_path, "wb") as out:
        out.write(MAGIC)
        number = 0
        gz = gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=6)

        def flush(last: bool) -> None:
            nonlocal number
            data = compressed.getvalue()
            compressed.seek(0)
            compressed.truncate()
            token = fernet.encrypt(struct.pack(">QB", number, 1 if last else 0) + data)
            out.write(struct.pack(">I", len(token)) + token)
            number += 1

        while chunk := source.read(FRAME):
            gz.write(chunk)
            if compressed.tell() >= FRAME:
                flush(last=False)
        gz.close()
        flush(last=True)


def _frames(path: Path, key: str | None) -> Iterator[bytes]:
    from cryptography.fernet import InvalidToken

    fernet = _fernet(key)
    with open(path, "rb") as source:
        if source.read(len(MAGIC)) != MAGIC:
            raise BackupError("not a CRM backup file")
        expected, last = 0, False
        while header := source.read(4):
            if last:
                raise BackupError("data after the last frame")
            (length,) = struct.unpack(">I", header)
            token = source.read(length)
            try:
                plain = fernet.decrypt(token)
            except InvalidToken:
                raise BackupError("wrong CRM_BACKUP_KEY or a damaged file (authentication failed)") from None
            number, flag = struct.unpack(">QB", plain[:9])
            if number != expected:
                raise BackupError("frames out of order")
            expected, last = expected + 1, bool(flag)
            yield plain[9:]
        if not last:
            raise BackupError("the file is truncated (no last frame)")


def decrypt_file(path: Path, out_path: Path, key: str | None = None) -> None:
    class _Reader(io.RawIOBase):
        def __init__(self, frames):
            self.frames, self.buffer = frames, b""

        def readable(self):
            return True

        def readinto(self, target):
            while not self.buffer:
                try:
                    self.buffer = next(self.frames)
                except StopIteration:
                    return 0
            n = min(len(target), len(self.buffer))
            target[:n], self.buffer = self.buffer[:n], self.buffer[n:]
            return n

    with gzip.GzipFile(fileobj=io.BufferedReader(_Reader(_frames(path, key))), mode="rb") as gz:
        with open(out_path, "wb") as out:
            while chunk := gz.read(FRAME):
                out.write(chunk)


# --- Backup and restore ---------------------------------------------------------------------------------------------
def backup(output: Path, *, database: str = "default", key: str | None = None) -> dict:
    """Dump every row of `database` into the encrypted file `output`; returns the manifest (counts, checksums)."""
    _fernet(key)  # refuse before doing any work
    _register_format()
    output = Path(output)
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / f"dump.{FORMAT}"
        call_command(
            "dumpdata",
            exclude=NOT_DUMPED,
            natural_foreign=True,
            use_base_manager=True,  # tenant-scoped default managers would refuse to list every tenant
            database=database,
            output=str(plain),
            format=FORMAT,
            verbosity=0,
        )
        manifest = table_fingerprints(database)
        tmp = output.with_name(output.name + ".part")
        encrypt_file(plain, tmp, key)
        os.replace(tmp, output)
    return manifest


def database_is_empty(database: str = "default") -> bool:
    from accounts.models import Tenant, User

    return not Tenant._base_manager.using(database).exists() and not User._base_manager.using(database).exists()


def restore(path: Path, *, database: str = "default", key: str | None = None, force: bool = False) -> None:
    """Load a backup into a migrated, empty database, all in one transaction."""
    if not force and not database_is_empty(database):
        raise BackupError("the target database already holds tenants or users; restore needs an empty database")
    from django.contrib.auth.models import Group

    _register_format()
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / f"dump.{FORMAT}"
        decrypt_file(Path(path), plain, key)
        with transaction.atomic(using=database):
            # `migrate` made the role groups with ids of its own; the backup brings them back with theirs.
            Group._base_manager.using(database).all().delete()
            call_command("loaddata", str(plain), database=database, verbosity=0)


# --- Counts and checksums -------------------------------------------------------------------------------------------
def _natural(model_label: str, database: str) -> dict[int, str]:
    model = apps.get_model(model_label)
    return {obj.pk: json.dumps(obj.natural_key()) for obj in model._base_manager.using(database).all()}


def table_fingerprints(database: str = "default") -> dict[str, dict]:
    """{table: {"rows": n, "sha256": hex}} for every dumped table. Rows are hashed in primary-key order (an
    auto-created many-to-many table without its own id, sorted); references to content types and permissions
    are hashed as their natural keys, since those rows get new ids in another database."""
    natural = {label: _natural(label, database) for label in NATURAL}
    out = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label_lower
        if not model._meta.managed or model._meta.proxy or label in NATURAL:
            continue
        if model._meta.app_label in ("sessions", "axes", "contenttypes"):
            continue
        through = model._meta.auto_created
        fields = [f for f in model._meta.concrete_fields if not (through and f.primary_key)]
        maps = []
        for field in fields:
            target = field.related_model._meta.label_lower if field.is_relation and field.related_model else None
            maps.append(natural.get(target))
        queryset = model._base_manager.using(database).values_list(*[f.attname for f in fields])
        if not through:
            queryset = queryset.order_by("pk")
        rows = []
        digest = hashlib.sha256()
        count = 0
        for row in queryset.iterator(chunk_size=5000):
            text = json.dumps(
                [m.get(v, v) if m is not None else _plain(v) for v, m in zip(row, maps, strict=True)],
                sort_keys=True,
                default=str,
                ensure_ascii=False,
            )
            count += 1
            if through:
                rows.append(text)
            else:
                digest.update(text.encode() + b"\n")
        for text in sorted(rows):
            digest.update(text.encode() + b"\n")
        out[model._meta.db_table] = {"rows": count, "sha256": digest.hexdigest()}
    return out


def _plain(value):
    from decimal import Decimal

    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, (bytes, memoryview)):
        return hashlib.sha256(bytes(value)).hexdigest()
    return value


def compare(source: dict[str, dict], restored: dict[str, dict]) -> list[str]:
    """The tables whose row count or checksum differ (empty: the restore is complete)."""
    problems = []
    for table in sorted(set(source) | set(restored)):
        a, b = source.get(table), restored.get(table)
        if a != b:
            problems.append(f"{table}: source {a} restored {b}")
    return problems


def _server_execute(sql: str) -> None:
    """Run a statement on a connection of its own: CREATE/DROP DATABASE commit implicitly on MariaDB, which must
    never end a transaction of the `default` connection (a test's, for one)."""
    from django.db.utils import load_backend

    settings_dict = dict(connections["default"].settings_dict)
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "backup_admin")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute(sql)
    finally:
        wrapper.close()


def scratch_database(name: str) -> dict:
    """Settings of a scratch database next to the default one (a new SQLite file, or `<name>` on MariaDB)."""
    default = dict(connections["default"].settings_dict)  # with Django's defaults filled in (the test DB in tests)
    config = {**default, "TEST": dict(default.get("TEST") or {})}
    if default["ENGINE"].endswith("sqlite3"):
        config["NAME"] = str(Path(tempfile.mkdtemp(prefix="crm-restore-")) / f"{name}.sqlite3")
    else:
        config["NAME"] = name
        _server_execute(f"DROP DATABASE IF EXISTS `{name}`")
        _server_execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    return config


def drop_scratch(config: dict) -> None:
    if config["ENGINE"].endswith("sqlite3"):
        import shutil

        shutil.rmtree(Path(config["NAME"]).parent, ignore_errors=True)  # the folder mkdtemp made for it
    else:
        _server_execute(f"DROP DATABASE IF EXISTS `{config['NAME']}`")
