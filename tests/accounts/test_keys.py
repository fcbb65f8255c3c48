"""The key store: purse master keys kept wrapped under the KEK, and the card keys derived
from them (terminal-protocol.md §3, §8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from accounts import crypto
from accounts.errors import KeysUnavailable, KeyVersionExists, KeyVersionUnknown
from accounts.keys import (
    card_key,
    current_purse_key_version,
    kek_get,
    key_import,
    purse_master_key,
)
from accounts.models import AuditEvent, Card, StoredKey
from tests.accounts.test_crypto_vectors import CARD_KEYS
from tests.conftest import TEST_KEK, VECTOR_MASTER_KEY
from tests.factories import make_card, make_cardholder

pytestmark = pytest.mark.django_db

OTHER_KEK = "6e" * 32


def test_an_imported_key_is_stored_wrapped_and_never_in_the_clear(clerk) -> None:
    stored = key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)

    stored.refresh_from_db()
    wrapped = bytes(stored.wrapped)
    clear = bytes.fromhex(VECTOR_MASTER_KEY)
    assert clear not in wrapped
    assert VECTOR_MASTER_KEY.encode() not in wrapped
    assert stored.kek_id == crypto.kek_id(bytes.fromhex(TEST_KEK))
    assert crypto.unwrap_key(bytes.fromhex(TEST_KEK), wrapped, aad="onecard:purse:1") == clear
    # Nothing else in the row carries the key either.
    with connection.cursor() as cur:
        cur.execute("SELECT row_to_json(k)::text FROM accounts_storedkey k WHERE id = %s",
                    [stored.pk])
        (row_text,) = cur.fetchone()
    assert VECTOR_MASTER_KEY not in row_text
    assert purse_master_key(1) == clear


def test_a_key_import_is_audited_without_the_key(clerk) -> None:
    key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)

    event = AuditEvent.objects.get(action="key.import")
    assert event.actor == clerk
    assert event.subject_id == "purse:1"
    assert event.after == {"purpose": "purse", "version": 1}
    assert VECTOR_MASTER_KEY not in str(event.after)


def test_the_kek_can_come_from_a_file(clerk, settings, tmp_path: Path) -> None:
    kek_file = tmp_path / "kek"
    kek_file.write_text(OTHER_KEK + "\n")
    settings.ONECARD_KEK = ""
    settings.ONECARD_KEK_FILE = str(kek_file)

    assert kek_get() == bytes.fromhex(OTHER_KEK)
    stored = key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)
    assert stored.kek_id == crypto.kek_id(bytes.fromhex(OTHER_KEK))
    assert purse_master_key(1) == bytes.fromhex(VECTOR_MASTER_KEY)


def test_without_a_kek_keys_are_unavailable(clerk, settings) -> None:
    settings.ONECARD_KEK = ""
    settings.ONECARD_KEK_FILE = ""

    with pytest.raises(KeysUnavailable) as exc:
        key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)
    assert exc.value.code == "keys_unavailable"
    assert exc.value.status == 503
    assert not StoredKey.objects.exists()
    assert not AuditEvent.objects.filter(action="key.import").exists()


def test_an_unreadable_kek_file_makes_keys_unavailable(settings, tmp_path: Path) -> None:
    settings.ONECARD_KEK = ""
    settings.ONECARD_KEK_FILE = str(tmp_path / "missing")

    with pytest.raises(KeysUnavailable) as exc:
        kek_get()
    assert exc.value.code == "keys_unavailable"


def test_a_malformed_kek_makes_keys_unavailable(settings) -> None:
    settings.ONECARD_KEK = "not-a-kek"

    with pytest.raises(KeysUnavailable):
        kek_get()


def test_a_wrong_kek_cannot_open_the_stored_keys(clerk, settings) -> None:
    key_import(purpose="purse", version=1, key_hex=VECTOR_MASTER_KEY, by=clerk)
    settings.ONECARD_KEK = OTHER_KEK

    with pytest.raises(KeysUnavailable) as exc:
        purse_master_key(1)
    assert exc.value.code == "keys_unavailable"
    assert exc.value.status == 503


def test_a_version_that_was_never_imported_is_unknown(purse_key) -> None:
    with pytest.raises(KeyVersionUnknown) as exc:
        purse_master_key(2)
    assert exc.value.code == "unknown_key_version"


def test_the_same_version_cannot_be_imported_twice(clerk, purse_key) -> None:
    with pytest.raises(KeyVersionExists) as exc:
        key_import(purpose="purse", version=1, key_hex="ff" * 16, by=clerk)

    assert exc.value.code == "key_version_exists"
    assert StoredKey.objects.count() == 1
    assert AuditEvent.objects.filter(action="key.import").count() == 1
    assert purse_master_key(1) == bytes.fromhex(VECTOR_MASTER_KEY)


@pytest.mark.parametrize("key_hex, version", [("00" * 15, 1), ("00" * 17, 1), ("00" * 16, 0),
                                              ("00" * 16, 256)])
def test_a_key_of_the_wrong_size_or_version_is_refused(clerk, key_hex: str, version: int) -> None:
    with pytest.raises(ValueError):
        key_import(purpose="purse", version=version, key_hex=key_hex, by=clerk)
    assert not StoredKey.objects.exists()


def test_new_cards_get_the_newest_key_version(clerk, purse_key) -> None:
    assert make_card(by=clerk).key_version == 1

    key_import(purpose="purse", version=2, key_hex="11" * 16, by=clerk)

    assert current_purse_key_version() == 2
    card = make_card(by=clerk)
    assert card.key_version == 2
    assert card_key(card) == crypto.derive_card_key(bytes.fromhex("11" * 16), card.uid,
                                                    card.card_no)


def test_a_card_key_is_derived_from_the_master_key_uid_and_card_number(clerk, purse_key) -> None:
    vector = CARD_KEYS[0]
    card = make_card(by=clerk, uid=vector["uid"].upper())

    assert card.uid == vector["uid"]
    assert card_key(card) == crypto.derive_card_key(
        bytes.fromhex(vector["master_key"]), vector["uid"], card.card_no
    )


@pytest.mark.parametrize("vector", CARD_KEYS, ids=[v["card_no"] for v in CARD_KEYS])
def test_the_vector_cards_get_the_vector_card_keys(clerk, purse_key, vector) -> None:
    assert vector["master_key"] == VECTOR_MASTER_KEY
    card = make_card(by=clerk, cardholder=make_cardholder(by=clerk), uid=vector["uid"])
    # card_no is assigned by the server; force the vector's number onto the row.
    Card.objects.filter(pk=card.pk).update(card_no=vector["card_no"])
    card.refresh_from_db()

    assert card.key_version == vector["key_version"]
    assert card_key(card).hex() == vector["card_key"]
