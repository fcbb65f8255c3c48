"""Key store: purse master keys wrapped under the KEK, which comes from the
environment (or a file it names) and never from the database (§8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from accounts import crypto
from accounts.audit import audit_record
from accounts.errors import KeysUnavailable, KeyVersionExists, KeyVersionUnknown
from accounts.models import Card, KeyPurpose, StoredKey


def kek_get() -> bytes:
    """The KEK, read each time so a rotated file takes effect; raises KeysUnavailable."""
    text = settings.ONECARD_KEK
    if not text and settings.ONECARD_KEK_FILE:
        try:
            text = Path(settings.ONECARD_KEK_FILE).read_text()
        except OSError as exc:
            raise KeysUnavailable(
                _("The KEK file %(path)s cannot be read: %(err)s")
                % {"path": settings.ONECARD_KEK_FILE, "err": exc.strerror}
            ) from exc
    if not text:
        raise KeysUnavailable()
    try:
        return crypto.parse_kek(text)
    except ValueError as exc:
        raise KeysUnavailable(_("The configured KEK is not 64 hex characters.")) from exc


def _aad(purpose: str, version: int) -> str:
    return f"onecard:{purpose}:{version}"


def key_import(
    *, purpose: str, version: int, key_hex: str, by: Any, channel: str = "command"
) -> StoredKey:
    kek = kek_get()
    key = bytes.fromhex(key_hex)
    if len(key) != 16:
        raise ValueError(_("A purse master key is 16 bytes (32 hex characters)."))
    if not 1 <= version <= 255:
        raise ValueError(_("key_version is 1 to 255."))
    try:
        with transaction.atomic():
            stored = StoredKey.objects.create(
                purpose=purpose,
                version=version,
                kek_id=crypto.kek_id(kek),
                wrapped=crypto.wrap_key(kek, key, aad=_aad(purpose, version)),
            )
            audit_record(
                action="key.import",
                actor=by,
                subject=stored,
                subject_id=f"{purpose}:{version}",
                after={"purpose": purpose, "version": version},
                channel=channel,
            )
    except IntegrityError as exc:
        raise KeyVersionExists() from exc
    return stored


def purse_master_key(version: int) -> bytes:
    kek = kek_get()
    stored = StoredKey.objects.filter(purpose=KeyPurpose.PURSE, version=version).first()
    if stored is None:
        raise KeyVersionUnknown(
            _("No purse master key is stored for key version %(v)d.") % {"v": version}
        )
    try:
        return crypto.unwrap_key(kek, bytes(stored.wrapped), aad=_aad(KeyPurpose.PURSE, version))
    except InvalidTag as exc:
        raise KeysUnavailable(_("The configured KEK does not open the stored keys.")) from exc


def card_key(card: Card) -> bytes:
    return crypto.derive_card_key(purse_master_key(card.key_version), card.uid, card.card_no)


def current_purse_key_version() -> int:
    """New cards get the newest stored version (1 before any key is imported)."""
    newest = StoredKey.objects.filter(purpose=KeyPurpose.PURSE).aggregate(v=Max("version"))["v"]
    return int(newest or 1)
