"""Field encryption at rest and blind indexes (PRD 7.3.1).

Keys
----
`CRM_FIELD_KEYS` (settings, from the environment variable of that name): Fernet keys, comma separated, newest
first. The newest encrypts; every key decrypts, so a new key is added at the front, `manage.py rotate_field_keys`
re-encrypts every row with it, and the old key is dropped afterwards. Without the variable (development, tests)
one key is derived from SECRET_KEY (HKDF-SHA256, label "crm field encryption"): safe as long as SECRET_KEY is
secret, but tied to it — production sets `CRM_FIELD_KEYS` (generate with `manage.py rotate_field_keys --new-key`).

`CRM_BLIND_INDEX_KEY`: the HMAC-SHA256 key of the blind indexes (own key, never a Fernet key; derived from
SECRET_KEY with another label when unset). Rotating it means recomputing every index
(`rotate_field_keys --reindex`).

Values
------
`encrypt("")` is "" (an empty field holds nothing personal and `field=""` filters keep working). A ciphertext is
a Fernet token (starts with `gAAAAA`); `decrypt` hands anything else back unchanged, so rows written before the
encryption migration stay readable until it ran.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.db.models import Aggregate
from django.db.models.fields.json import KeyTransform

TOKEN_PREFIX = "gAAAAA"


def _derive(label: bytes) -> bytes:
    return _derive_from(settings.SECRET_KEY, label)


@lru_cache(maxsize=8)
def _derive_from(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"crm-field-crypto", info=label).derive(secret.encode())


def configured_keys() -> list[str]:
    """The Fernet keys, newest first (the derived development key when none is configured)."""
    keys = [k.strip() for k in getattr(settings, "CRM_FIELD_KEYS", []) if k.strip()]
    if not keys:
        keys = [base64.urlsafe_b64encode(_derive(b"crm field encryption")).decode()]
    return keys


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("CRM_FIELD_KEYS must hold Fernet keys (32 url-safe base64 bytes)") from exc


_current: MultiFernet | None = None


def fernet() -> MultiFernet:
    """The MultiFernet of the configured keys, built once per process (reset when the key settings change)."""
    global _current
    if _current is None:
        _current = _fernet(tuple(configured_keys()))
    return _current


def _reset_fernet(*, setting, **kwargs):
    global _current
    if setting in {"CRM_FIELD_KEYS", "SECRET_KEY"}:
        _current = None


setting_changed.connect(_reset_fernet, dispatch_uid="crm_project.crypto.reset_fernet")


def is_ciphertext(value: str | None) -> bool:
    return bool(value) and value.startswith(TOKEN_PREFIX)


def encrypt(value: str | None) -> str | None:
    if value is None or value == "":
        return value
    return fernet().encrypt(str(value).encode()).decode()


def decrypt(value: str | None) -> str | None:
    if not is_ciphertext(value):
        return value
    try:
        return fernet().decrypt(value.encode()).decode()
    except InvalidToken:
        # A value that merely looks like a token (or a key that was dropped too early): never a 500.
        return value


def rotate(value: str | None) -> str | None:
    """The ciphertext under the newest key (plaintext is encrypted; already-current tokens are re-encrypted too)."""
    if value is None or value == "":
        return value
    if not is_ciphertext(value):
        return encrypt(value)
    try:
        return fernet().rotate(value.encode()).decode()
    except InvalidToken:
        return value


def encrypted_with_newest(value: str | None) -> bool:
    """True when `value` is empty or decrypts with the newest key alone (rotation skips it: idempotent reruns)."""
    if value is None or value == "":
        return True
    if not is_ciphertext(value):
        return False
    try:
        Fernet(configured_keys()[0]).decrypt(value.encode())
    except InvalidToken:
        return False
    return True


# --- Blind index -----------------------------------------------------------------------------------------------------


def blind_index_key() -> bytes:
    key = getattr(settings, "CRM_BLIND_INDEX_KEY", "")
    return key.encode() if key else _derive(b"crm blind index")


_NOT_DIGIT = re.compile(r"\D")


def normalise(kind: str, value: str) -> str:
    """The form two equal values share: e-mail lower-cased; phone numbers digits only, without China's +86."""
    text = (value or "").strip()
    if kind == "email":
        return text.lower()
    if kind == "phone":
        digits = _NOT_DIGIT.sub("", text)
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
        return digits
    return text.lower()


def blind_index(kind: str, value: str | None) -> str:
    """HMAC-SHA256 (hex) of the normalised value; "" for an empty value (never matches anything)."""
    normal = normalise(kind, value or "")
    if not normal:
        return ""
    return hmac.new(blind_index_key(), f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()


# --- Model fields ----------------------------------------------------------------------------------------------------


def cipher_length(plain_chars: int) -> int:
    """Length of the Fernet token (url-safe base64) of `plain_chars` characters of up to 4 UTF-8 bytes each."""
    raw = plain_chars * 4
    token = 1 + 8 + 16 + (raw // 16 + 1) * 16 + 32
    return (token + 2) // 3 * 4


class EncryptedCharField(models.CharField):
    """A CharField stored as a Fernet token. `max_length` limits the plaintext (forms, serializers); the column is
    wide enough for the token. Equality lookups on it never match (each encryption is salted): use its blind index.
    """

    def db_type(self, connection):
        return models.CharField(max_length=cipher_length(self.max_length or 255)).db_type(connection)

    def cast_db_type(self, connection):
        return self.db_type(connection)

    def from_db_value(self, value, expression, connection):
        return decrypt(value)

    def get_prep_value(self, value):
        # Always encrypted, even a value that looks like a token: model attributes hold plaintext only.
        return encrypt(super().get_prep_value(value))


def _token_length(plain_bytes: int) -> int:
    """Length of the Fernet token of `plain_bytes` bytes."""
    token = 1 + 8 + 16 + (plain_bytes // 16 + 1) * 16 + 32
    return (token + 2) // 3 * 4


def decimal_text(value: Decimal, decimal_places: int) -> str:
    """The canonical text of an amount: fixed point with exactly `decimal_places` digits ("120000.00")."""
    return format(value.quantize(Decimal(1).scaleb(-decimal_places)), "f")


def decrypt_decimal(value: Any, decimal_places: int | None = None) -> Decimal | None:
    """A stored amount (token, or plaintext / number left from before the encryption migration) as a Decimal."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
        try:
            value = fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            return None  # never a 500 for a token no configured key opens (a key dropped too early)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return number if decimal_places is None else number.quantize(Decimal(1).scaleb(-decimal_places))


class EncryptedDecimalField(models.DecimalField):
    """A DecimalField stored as the Fernet token of its canonical text ("120000.00") in a varchar column.

    Python sees a Decimal quantised to `decimal_places` (as a DECIMAL column would return it); forms, serializers and
    the admin validate `max_digits` / `decimal_places` / validators exactly as for a DecimalField. SQL cannot compare,
    sum or sort ciphertexts: every lookup except `isnull` raises FieldError (instead of silently matching nothing);
    sums, ranges and sorting are done in Python over decrypted values (`contracts.selectors.amount_totals`).
    """

    def db_type(self, connection):
        plain = (self.max_digits or 30) + 2  # sign and decimal point
        return models.CharField(max_length=_token_length(plain)).db_type(connection)

    def get_internal_type(self):
        return "CharField"  # no backend decimal converters on the token

    def cast_db_type(self, connection):
        return self.db_type(connection)

    def rel_db_type(self, connection):
        return self.db_type(connection)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"{self.model.__name__}.{self.name} is encrypted: '{lookup_name}' cannot run in SQL; "
            "filter, sum or sort decrypted values in Python."
        )

    def from_db_value(self, value, expression, connection):
        if isinstance(expression, Aggregate):
            # SUM / AVG / MAX over tokens is a meaningless number (SQLite: 0): refuse it loudly.
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted: {type(expression).__name__} cannot run in SQL; "
                "use contracts.selectors.amount_totals."
            )
        return decrypt_decimal(value, self.decimal_places)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None or hasattr(value, "as_sql"):
            return value
        return fernet().encrypt(decimal_text(value, self.decimal_places).encode()).decode()

    def get_db_prep_save(self, value, connection):
        return self.get_db_prep_value(value, connection)


def seal(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: seal(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list):
        return [seal(v, keys, inside) for v in value]
    if inside and value is not None and value != "" and not (isinstance(value, str) and is_ciphertext(value)):
        return encrypt(str(value))
    return value


def unseal(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: unseal(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v, keys, inside) for v in value]
    if inside and isinstance(value, str):
        return decrypt(value)
    return value


def rotate_sealed(value: Any, keys: frozenset[str], inside: bool = False) -> Any:
    """The same JSON with every sealed value re-encrypted under the newest key (plaintext ones encrypted)."""
    if isinstance(value, dict):
        return {k: rotate_sealed(v, keys, inside or k in keys) for k, v in value.items()}
    if isinstance(value, list):
        return [rotate_sealed(v, keys, inside) for v in value]
    if inside and value is not None and value != "":
        return value if encrypted_with_newest(str(value)) else rotate(str(value))
    return value


def sealed_current(value: Any, keys: frozenset[str], inside: bool = False) -> bool:
    """True when every sealed value of the JSON is empty or under the newest key."""
    if isinstance(value, dict):
        return all(sealed_current(v, keys, inside or k in keys) for k, v in value.items())
    if isinstance(value, list):
        return all(sealed_current(v, keys, inside) for v in value)
    return not inside or value is None or value == "" or encrypted_with_newest(str(value))


class SealedJSONField(models.JSONField):
    """A JSONField whose values under the keys `sealed_keys` (at any depth, whole sub-trees) are stored as Fernet
    tokens and read back as the plaintext strings: e.g. a contract snapshot's `contract_amount`, or a change
    request's `{"contract_amount": {"old": ..., "new": ...}}`. Other keys stay queryable JSON."""

    def __init__(self, *args, sealed_keys: tuple[str, ...] = (), **kwargs):
        self.sealed_keys = tuple(sealed_keys)
        self._sealed = frozenset(sealed_keys)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["sealed_keys"] = self.sealed_keys
        return name, path, args, kwargs

    def get_prep_value(self, value):
        return super().get_prep_value(seal(value, self._sealed))

    def from_db_value(self, value, expression, connection):
        loaded = super().from_db_value(value, expression, connection)
        if isinstance(expression, KeyTransform):
            return loaded
        return unseal(loaded, self._sealed)


class BlindIndexField(models.CharField):
    """HMAC of another field of the same row (`source`), normalised as `kind`; computed on every save and insert."""

    def __init__(self, *args, source: str = "", kind: str = "", **kwargs):
        self.source = source
        self.kind = kind
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = blind_index(self.kind, getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def refresh_blind_indexes(instance) -> list[str]:
    """Recompute every blind index of `instance` in memory; returns their field names (for bulk_update)."""
    names = []
    for field in instance._meta.concrete_fields:
        if isinstance(field, BlindIndexField):
            field.pre_save(instance, add=False)
            names.append(field.name)
    return names


class BlindIndexSearchMixin:
    """Admin search on encrypted fields: `blind_search = {"email_bidx": "email", ...}` (lookup path -> kind).

    The search term is matched exactly (normalised, hashed) against each blind index, in addition to the admin's
    usual `search_fields` on plaintext columns.
    """

    blind_search: dict[str, str] = {}

    def get_search_results(self, request, queryset, search_term):
        result, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = (search_term or "").strip()
        if term and self.blind_search:
            match = models.Q()
            for path, kind in self.blind_search.items():
                digest = blind_index(kind, term)
                if digest:
                    match |= models.Q(**{path: digest})
            if match:
                result = result | queryset.filter(match)
                may_have_duplicates = True
        return result, may_have_duplicates


# --- Migrations ------------------------------------------------------------------------------------------------------


def encrypt_columns_forward(table: str, columns: tuple[str, ...], *, pk: str = "id"):
    """A RunPython function encrypting the plaintext values of `columns` of `table` (raw SQL, batches of 500).

    Values that are already ciphertext are left alone, so a rerun (or a reverse and a forward) is harmless.
    """

    def forward(apps, schema_editor):
        _rewrite_columns(schema_editor.connection, table, columns, pk, lambda v: v if is_ciphertext(v) else encrypt(v))

    return forward


def encrypt_columns_reverse(table: str, columns: tuple[str, ...], limits: dict[str, int], *, pk: str = "id"):
    """The reverse of `encrypt_columns_forward`: plaintext back (same keys needed), cut to the old column widths."""

    def reverse(apps, schema_editor):
        for column in columns:
            _rewrite_columns(
                schema_editor.connection, table, (column,), pk, lambda v, c=column: (decrypt(v) or "")[: limits[c]]
            )

    return reverse


def _rewrite_columns(connection, table, columns, pk, convert) -> None:
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn(pk)}, {', '.join(qn(c) for c in columns)} FROM {qn(table)}")
        batch = []
        for row_pk, *values in cursor.fetchall():
            new = [convert(v) if v else v for v in values]
            if new != list(values):
                batch.append([*new, row_pk])
            if len(batch) == 500:
                cursor.executemany(f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk)} = %s", batch)
                batch = []
        if batch:
            cursor.executemany(f"UPDATE {qn(table)} SET {sets} WHERE {qn(pk)} = %s", batch)
