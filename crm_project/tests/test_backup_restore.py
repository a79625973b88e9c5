"""Encrypted backups: a file that reveals nothing without CRM_BACKUP_KEY, refuses tampering, restores only into
an empty database, and a restore drill whose row counts and per-table checksums match the source."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts import backup
from customers.tests.factories import make_customer

KEY = backup.generate_key()


@pytest.fixture
def data(owner, outsider, settings):
    settings.CRM_BACKUP_KEY = KEY
    make_customer(
        owner, customer_name="备份客户 Backup Ltd", contacts=[{"contact_name": "张三", "phone": "13800000000"}]
    )
    make_customer(outsider, customer_name="Other Tenant Ltd")


def test_the_backup_is_compressed_and_encrypted(data, tmp_path):
    file = tmp_path / "crm.crmbk"
    out = StringIO()
    call_command("backup", output=str(file), stdout=out)
    assert "Backed up" in out.getvalue()
    raw = file.read_bytes()
    assert raw.startswith(backup.MAGIC)
    assert b"Backup Ltd" not in raw and "备份客户".encode() not in raw
    plain = tmp_path / "plain.json"
    backup.decrypt_file(file, plain)
    text = plain.read_text()
    assert "备份客户 Backup Ltd" in text and "Other Tenant Ltd" in text  # every tenant
    with pytest.raises(backup.BackupError, match="wrong CRM_BACKUP_KEY"):
        backup.decrypt_file(file, plain, key=backup.generate_key())
    truncated = tmp_path / "cut.crmbk"
    truncated.write_bytes(raw[: len(raw) - 10])
    with pytest.raises(backup.BackupError):
        backup.decrypt_file(truncated, plain)


def test_frames_are_numbered_so_a_large_file_cannot_be_cut_or_reordered(tmp_path, settings, monkeypatch):
    settings.CRM_BACKUP_KEY = KEY
    monkeypatch.setattr(backup, "FRAME", 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(200_000))  # incompressible: many frames
    file = tmp_path / "big.crmbk"
    backup.encrypt_file(source, file)
    back = tmp_path / "back.bin"
    backup.decrypt_file(file, back)
    assert back.read_bytes() == source.read_bytes()
    frames = list(backup._frames(file, None))
    assert len(frames) > 3
    # Two frames swapped: refused although each frame on its own is authentic.
    raw = file.read_bytes()[len(backup.MAGIC) :]
    parts = []
    while raw:
        length = int.from_bytes(raw[:4], "big")
        parts.append(raw[: 4 + length])
        raw = raw[4 + length :]
    parts[0], parts[1] = parts[1], parts[0]
    swapped = tmp_path / "swapped.crmbk"
    swapped.write_bytes(backup.MAGIC + b"".join(parts))
    with pytest.raises(backup.BackupError, match="out of order"):
        backup.decrypt_file(swapped, back)


def test_without_a_key_the_backup_refuses(db, settings, tmp_path):
    settings.CRM_BACKUP_KEY = ""
    with pytest.raises(CommandError, match="CRM_BACKUP_KEY"):
        call_command("backup", output=str(tmp_path / "x.crmbk"))
    assert not (tmp_path / "x.crmbk").exists()


def test_restore_refuses_a_database_that_holds_data(data, tmp_path):
    file = tmp_path / "crm.crmbk"
    call_command("backup", output=str(file), stdout=StringIO())
    with pytest.raises(CommandError, match="empty database"):
        call_command("restore", str(file), no_migrate=True)


def test_restore_drill_matches_every_table(data):
    out = StringIO()
    call_command("restore_drill", stdout=out)
    report = out.getvalue()
    assert "Restore drill passed" in report, report
    assert "DIFFERENT" not in report
    customers_line = next(line for line in report.splitlines() if line.startswith("customers "))
    assert " 2 " in customers_line  # both tenants' customers were restored
