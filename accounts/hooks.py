"""Hooks the accounts app offers the apps above it.

accounts may not import terminals, settlement or the other upper apps (import-linter
layers), yet some of its answers need what they hold. For each such need accounts
names here what it expects; the upper app registers its function from its
`AppConfig.ready()`, and accounts calls whatever is registered (nothing registered:
an empty answer).

- `card_record_source`: a card's accepted terminal records (the terminals app,
  `terminals.selectors.card_records`), for the card history of the operations API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from typing import Any, Generic, Protocol, TypedDict, TypeVar

from django.core.exceptions import ImproperlyConfigured

from accounts.models import Card
from accounts.services.movements import MovementType

# The record types that move a purse (terminal-protocol.md §4): the card office's view
# of a card history asks for these.
PURSE_RECORD_TYPES = tuple(MovementType)


class MerchantRef(TypedDict):
    code: str
    name: str


class CardRecord(TypedDict):
    """One accepted terminal record of a card, as the record source hands it over.
    Fields a type does not carry are None."""

    type: str  # purchase, load, door, punch
    terminal_id: str
    terminal_seq: int
    terminal_name: str
    merchant: MerchantRef | None  # the terminal's merchant (a POS)
    ts: dt.datetime | None  # the terminal's clock; None if beyond what a date can hold
    received_at: dt.datetime
    card_seq: int | None
    purse: str | None
    amount: int | None  # fen, above 0
    balance_before: int | None  # what the card held before, by its own account
    balance_after: int | None
    load_id: str | None
    source: str | None  # loads: top_up, subsidy, replacement, correction, or cash
    posting: int | None  # the ledger posting the record made, if any
    door: int | None
    result: str | None  # door: granted or denied
    reason: str | None  # door: why it was denied
    direction: str | None  # door: entry, exit
    flags: list[str]  # what looked wrong at ingest (for reconciliation), e.g. clock_skew


class CardRecordList(Protocol):
    """A lazy list of records, newest first, as a paginator reads it: counted, then
    sliced for one page (the query runs for that window only)."""

    def count(self) -> int: ...

    def __getitem__(self, window: slice) -> Sequence[CardRecord]: ...


class CardRecordSource(Protocol):
    def __call__(self, card: Card, *, since: dt.datetime | None, until: dt.datetime | None,
                 types: Collection[str] | None) -> CardRecordList: ...


class NoRecords:
    """The answer while no source is registered."""

    def count(self) -> int:
        return 0

    def __getitem__(self, window: slice) -> Sequence[CardRecord]:
        return []


S = TypeVar("S", bound=Callable[..., Any])


class SingleHook(Generic[S]):
    """One registered function. Registering the same one again (ready() run twice) is
    harmless; a second, different one is a configuration error (two record sources could
    not be paged together)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.source: S | None = None

    def register(self, source: S) -> None:
        if self.source is not None and self.source is not source:
            raise ImproperlyConfigured(
                f"{self.name}: {self.source.__module__}.{self.source.__qualname__} is already "
                f"registered; cannot also register {source.__module__}.{source.__qualname__}")
        self.source = source


card_record_source: SingleHook[CardRecordSource] = SingleHook(
    "accounts.hooks.card_record_source")


def card_records(card: Card, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None,
                 types: Collection[str] | None = None) -> CardRecordList:
    """The card's accepted terminal records received in [since, until), newest first;
    `types` limits them (None: every type)."""
    source = card_record_source.source
    if source is None:
        return NoRecords()
    return source(card, since=since, until=until, types=types)
