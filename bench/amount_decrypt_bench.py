"""Cost of encrypted contract amounts (issue 15) for 100,000 contracts: figures for docs/performance.md.

    flock /work/wt/bench.lock .venv/bin/python bench/amount_decrypt_bench.py [--rows 100000] [--keys 2]

1. encrypt --rows amounts (Fernet tokens of the canonical text, as `EncryptedDecimalField` stores them);
2. decrypt them in one tight loop (`crypto.decrypt_decimal`, the field's `from_db_value`), with the newest key
   first and, when --keys > 1, with tokens of the oldest key (MultiFernet tries the keys in order: the cost of a
   key rotation that has not run yet);
3. end to end in an SQLite table (customer_id, token) against the old shape (customer_id, DECIMAL):
   `SELECT customer_id, token` + decrypt + per-customer sum in Python (what `contracts.selectors.amount_totals`
   does) versus `SELECT customer_id, SUM(amount) GROUP BY customer_id`.
Prints wall and CPU seconds; print `uptime` next to them (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

import django  # noqa: E402

django.setup()

from cryptography.fernet import Fernet  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from crm_project import crypto  # noqa: E402


def timed(label, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<62} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(15)
    amounts = [Decimal(rng.randint(100, 99_999_999)).scaleb(-2) for _ in range(args.rows)]
    customers = [rng.randint(1, args.rows) for _ in range(args.rows)]
    keys = [Fernet.generate_key().decode() for _ in range(args.keys)]
    print(f"{args.rows} amounts, {args.keys} key(s); load average {os.getloadavg()}")

    with override_settings(CRM_FIELD_KEYS=keys):
        tokens = timed("encrypt", lambda: [crypto.encrypt(crypto.decimal_text(a, 2)) for a in amounts])
        decrypted = timed("decrypt (newest key), one loop", lambda: [crypto.decrypt_decimal(t, 2) for t in tokens])
        assert decrypted == amounts
    if args.keys > 1:
        with override_settings(CRM_FIELD_KEYS=keys[-1:]):
            old_tokens = [crypto.encrypt(crypto.decimal_text(a, 2)) for a in amounts[:20_000]]
        with override_settings(CRM_FIELD_KEYS=keys):
            timed(
                f"decrypt 20,000 under the oldest of {args.keys} keys (x5 = 100k)",
                lambda: [crypto.decrypt_decimal(t, 2) for t in old_tokens],
            )

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE enc (id INTEGER PRIMARY KEY, customer_id INTEGER, amount VARCHAR(120))")
    db.execute("CREATE TABLE plain (id INTEGER PRIMARY KEY, customer_id INTEGER, amount DECIMAL(15, 2))")
    db.executemany("INSERT INTO enc (customer_id, amount) VALUES (?, ?)", zip(customers, tokens, strict=True))
    db.executemany(
        "INSERT INTO plain (customer_id, amount) VALUES (?, ?)", zip(customers, map(str, amounts), strict=True)
    )

    def python_sums():
        totals = {}
        get = totals.get
        for customer_id, token in db.execute("SELECT customer_id, amount FROM enc"):
            value = crypto.decrypt_decimal(token, 2)
            totals[customer_id] = get(customer_id, Decimal(0)) + value
        return totals

    def sql_sums():
        return dict(db.execute("SELECT customer_id, SUM(amount) FROM plain GROUP BY customer_id"))

    with override_settings(CRM_FIELD_KEYS=keys):
        encrypted = timed("per-customer sums: SELECT + decrypt + sum in Python", python_sums)
    plain = timed("per-customer sums: SQL GROUP BY on a DECIMAL column (before)", sql_sums)
    assert encrypted.keys() == plain.keys()
    print(f"settings.CRM_FIELD_KEYS configured in this process: {bool(settings.CRM_FIELD_KEYS)}")


if __name__ == "__main__":
    main()
