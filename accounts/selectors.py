"""Reads of the accounts app used by more than one caller (API, admin, commands, other apps)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import CharField, Count, F, Q, QuerySet, Sum, Value
from django.utils.translation import gettext as _

from accounts.ledger_accounts import cash_drawer_account
from accounts.models import (
    LIVE_STATUSES,
    PURSE_ACCOUNT_KIND,
    BlacklistAction,
    BlacklistCounter,
    BlacklistVersion,
    Card,
    Cardholder,
    CardholderStatus,
    CardStatus,
    Entry,
    LedgerAccount,
    LoadStatus,
    Merchant,
    OrgUnit,
    PendingLoad,
    Posting,
    Purse,
    StoredKey,
)
from core.errors import NotFound


def cardholder_get(number: str) -> Cardholder:
    holder = Cardholder.objects.select_related("org_unit").filter(number=number).first()
    if holder is None:
        raise NotFound(_("No cardholder %(n)s.") % {"n": number})
    return holder


def cardholder_for_user(user: Any) -> Cardholder | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Cardholder.objects.filter(user=user).first()


def card_get(card_no: str, *, cardholder: Cardholder | None = None) -> Card:
    """The card with this number; with `cardholder`, only if it is theirs (else 404)."""
    qs = Card.objects.select_related("cardholder")
    if cardholder is not None:
        qs = qs.filter(cardholder=cardholder)
    card = qs.filter(card_no=card_no).first()
    if card is None:
        raise NotFound(_("No card %(c)s.") % {"c": card_no})
    return card


def cardholders_by_number(numbers: Collection[str]) -> dict[str, Cardholder]:
    """Cardholders by number in one query; numbers not found are simply absent."""
    return {h.number: h for h in Cardholder.objects.filter(number__in=set(numbers))}


def org_units_by_code(codes: Collection[str]) -> dict[str, OrgUnit]:
    return {u.code: u for u in OrgUnit.objects.filter(code__in=set(codes))}


def org_unit_choices() -> list[tuple[str, str]]:
    """(code, name) of every org unit, by code: what a department filter offers."""
    return list(OrgUnit.objects.order_by("code").values_list("code", "name"))


def org_unit_parents() -> dict[int, int | None]:
    """Every org unit's id with its parent's (a small table): the tree, read once."""
    return dict(OrgUnit.objects.values_list("id", "parent_id"))


def org_unit_chain(unit_id: int, parents: dict[int, int | None] | None = None) -> list[int]:
    """The unit's id and the ids of the units above it, nearest first. `parents` is the
    tree already read (org_unit_parents), else it is read now."""
    parents = org_unit_parents() if parents is None else parents
    chain: list[int] = []
    at: int | None = unit_id
    while at is not None and at not in chain:  # a loop would be bad data, not a hang
        chain.append(at)
        at = parents.get(at)
    return chain


def org_unit_ancestry() -> dict[int, list[int]]:
    """Each org unit's id with the ids of the units above it, itself first (the tree is
    a small table, read once)."""
    parents = org_unit_parents()
    return {unit: org_unit_chain(unit, parents) for unit in parents}


def org_units_below(unit_ids: Collection[int]) -> set[int]:
    """The units and every unit under them."""
    wanted = set(unit_ids)
    return {unit for unit, chain in org_unit_ancestry().items() if wanted & set(chain)}


def cardholder_ids_in_org_units(unit_ids: Collection[int]) -> set[int]:
    """The holders placed directly in these units (callers expand a unit to the units
    below it first)."""
    if not unit_ids:
        return set()
    return set(Cardholder.objects.filter(org_unit_id__in=unit_ids).values_list("id", flat=True))


def cardholder_org_units(holder_ids: Collection[int]) -> dict[int, int]:
    """Each of these holders' org unit, for those placed in one."""
    return dict(Cardholder.objects.filter(id__in=holder_ids, org_unit__isnull=False)
                .values_list("id", "org_unit_id"))


def _usable(cards: QuerySet[Card]) -> QuerySet[Card]:
    # The one definition of a card that may open a door or badge: active, unlisted, and
    # held by an active holder.
    return cards.filter(status=CardStatus.ACTIVE, blacklisted=False,
                        cardholder__status=CardholderStatus.ACTIVE)


def cards_usable(holder_ids: Collection[int]) -> dict[int, str]:
    """The card each of these holders may badge with (see `_usable`), by holder id."""
    return dict(_usable(Card.objects.filter(cardholder_id__in=holder_ids))
                .values_list("cardholder_id", "card_no"))


def card_usable(card_no: str) -> tuple[Card | None, bool]:
    """The card with this number (its holder read with it), and whether it may badge."""
    card = Card.objects.select_related("cardholder").filter(card_no=card_no).first()
    if card is None:
        return None, False
    return card, _usable(Card.objects.filter(pk=card.pk)).exists()


def cardholder_numbers_of_cards(card_nos: Collection[str]) -> dict[str, str]:
    """Each card's holder number, by card number."""
    return dict(Card.objects.filter(card_no__in=set(card_nos))
                .values_list("card_no", "cardholder__number"))


def merchant_by_code(code: str) -> Merchant | None:
    return Merchant.objects.filter(code=code).first()


def key_stored(purpose: str) -> bool:
    """Whether any key for this purpose has been imported."""
    return StoredKey.objects.filter(purpose=purpose).exists()


def pending_load_sources() -> QuerySet[PendingLoad]:
    """Pending loads as a query not yet run, for another app to embed (a subquery by
    `load_id` for a record's load source)."""
    return PendingLoad.objects.all()


def cards_of_holders(holder_ids: Collection[int]) -> dict[int, tuple[int, bool]]:
    """Every card these holders ever had (replaced and lost ones too): card id ->
    (holder id, whether the card is live, i.e. active)."""
    return {pk: (holder, status == CardStatus.ACTIVE) for pk, holder, status in
            Card.objects.filter(cardholder_id__in=holder_ids)
            .values_list("pk", "cardholder_id", "status")}


def holders_of_cards(card_ids: Collection[int]) -> dict[int, int]:
    """Card id -> holder id."""
    return dict(Card.objects.filter(pk__in=card_ids).values_list("pk", "cardholder_id"))


def cardholder_locked(holder: Cardholder) -> Cardholder:
    """The holder re-read under its row lock: what serialises two writes about one holder
    in an app above (two leave requests checked for overlap, say)."""
    return Cardholder.objects.select_for_update(no_key=True).get(pk=holder.pk)


def card_locked(card: Card) -> Card:
    """The card re-read under its row lock (the lock order's second step), so that what
    is read of it cannot change until the caller's transaction ends. FOR UPDATE: the
    strongest lock, taken by every change of the card's status, so it waits for the
    ingest's balance locks and for `card_held`."""
    return (Card.objects.select_for_update(of=("self",))
            .select_related("cardholder").get(pk=card.pk))


def card_held(card: Card) -> Card:
    """The card re-read under FOR KEY SHARE (the lock order's second step): its status
    and holder cannot change until the caller's transaction ends (`card_locked` waits),
    while the ingest may still move its card balances (FOR NO KEY UPDATE does not
    conflict). For a top-up, which reads the card's status and writes nothing on it:
    it does not queue behind the terminal batches that hold the card."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT status, cardholder_id FROM accounts_card WHERE id = %s "
                        "FOR KEY SHARE", [card.pk])
            row = cur.fetchone()
        # What a top-up decides by, as the lock sees it: unchanged since the caller read
        # the card (nearly always), the card as read will do, one round trip fewer.
        if row is not None and row == (card.status, card.cardholder_id) and \
                Card.cardholder.is_cached(card):
            return card
    return Card.objects.select_related("cardholder").get(pk=card.pk)


def card_by_number_query(card_no: str) -> QuerySet[Card]:
    """The card with this number as a query, not yet run: an app above embeds it in
    its own (a subquery) so that one round trip reads both."""
    return Card.objects.filter(card_no=card_no)


class CardKeys(NamedTuple):
    """What a record's TAC check needs of its card: its id, number and UID."""

    pk: int
    card_no: str
    uid: str


def cards_by_number(card_nos: set[str]) -> dict[str, CardKeys]:
    """Cards by number in one query (terminal records name cards by card_no), as plain
    rows: a batch names hundreds of cards, and model instances for them cost more
    Python than the query itself."""
    if not card_nos:
        return {}
    rows = Card.objects.filter(card_no__in=card_nos).order_by().values_list("pk", "card_no", "uid")
    return {row[1]: CardKeys(*row) for row in rows}


def cards_by_id(card_ids: set[int]) -> dict[int, Card]:
    return {c.pk: c for c in Card.objects.filter(pk__in=card_ids)}


def blacklist_state_at(card_id: int, at: dt.datetime) -> int | None:
    """The version that put the card on the blacklist, if it was listed at `at`."""
    last = (BlacklistVersion.objects.filter(card_id=card_id, at__lte=at)
            .order_by("-version").values_list("version", "action").first())
    if last is None or last[1] != BlacklistAction.ADD:
        return None
    return int(last[0])


def card_live_for(cardholder: Cardholder) -> Card | None:
    return cardholder.cards.filter(status__in=LIVE_STATUSES).first()


# A holder purse's ledger account kind -> its purse ("purse_main" -> "main").
_PURSE_OF_KIND: dict[str, str] = {str(kind): str(purse)
                                  for purse, kind in PURSE_ACCOUNT_KIND.items()}


def _purse_accounts(cardholder_id: int) -> QuerySet[LedgerAccount]:
    return LedgerAccount.objects.filter(cardholder_id=cardholder_id,
                                        kind__in=_PURSE_OF_KIND).order_by()


def _waiting_loads(card: Card) -> QuerySet[Any, Any]:
    """The card's pending loads summed per purse (`purse`, `total`)."""
    return (PendingLoad.objects.filter(card=card, status=LoadStatus.PENDING).order_by()
            .values("purse").annotate(total=Sum("amount")))


def purse_balances(cardholder: Cardholder) -> dict[str, int]:
    balances = {p.value: 0 for p in Purse}
    for kind, balance in _purse_accounts(cardholder.pk).values_list("kind", "balance"):
        balances[_PURSE_OF_KIND[kind]] = balance
    return balances


def card_balances(card: Card) -> dict[str, dict[str, int]]:
    """Per purse: `account` (the holder's ledger balance, shown on the live card only,
    since the money follows the holder), `card` (what accepted records say is on the
    card) and `pending` (loads not yet written to it)."""
    # Both figures in one round trip (a clerk's top-up answers with them).
    waiting = (_waiting_loads(card).annotate(what=Value("pending", output_field=CharField()))
               .values_list("what", "purse", "total"))
    held: QuerySet[Any, Any] = (
        _purse_accounts(card.cardholder_id)
        .annotate(what=Value("account", output_field=CharField()))
        .values_list("what", "kind", "balance"))
    pending = {p.value: 0 for p in Purse}
    accounts = {p.value: 0 for p in Purse}
    for what, name, amount in waiting.union(held, all=True):
        if what == "pending":
            pending[name] = int(amount)
        elif card.is_live:
            accounts[_PURSE_OF_KIND[name]] = int(amount)
    return {
        p.value: {
            "account": accounts[p.value],
            "card": card.card_balance(p.value),
            "pending": pending[p.value],
        }
        for p in Purse
    }


def card_pending_loads(card: Card) -> QuerySet[PendingLoad]:
    return PendingLoad.objects.filter(card=card, status=LoadStatus.PENDING).order_by("id")


def card_postings(
    card: Card, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> QuerySet[Posting]:
    """Postings that touched this card's holder purses on behalf of this card, newest first."""
    qs = Posting.objects.filter(Q(card=card) | Q(loads__card=card)).distinct()
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.prefetch_related("entries__account").order_by("-created_at", "-id")


# --- Blacklist -------------------------------------------------------------------------


@dataclass
class BlacklistAnswer:
    version: int
    full: bool
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "full": self.full, "add": self.add, "remove": self.remove}


def blacklist_version() -> int:
    counter = BlacklistCounter.objects.filter(id=1).first()
    return counter.version if counter else 0


def blacklist_full() -> BlacklistAnswer:
    version = blacklist_version()
    cards = list(
        Card.objects.filter(blacklisted=True).order_by("card_no").values_list("card_no", flat=True)
    )
    return BlacklistAnswer(version=version, full=True, add=cards)


def blacklist_oldest_retained() -> int:
    oldest = BlacklistVersion.objects.order_by("version").values_list("version", flat=True).first()
    return oldest or 1


def blacklist_delta(since: int) -> BlacklistAnswer:
    """The changes after version `since`, folded to each card's last state; a full list
    when `since` is 0, ahead of the server, or older than the retained history."""
    current = blacklist_version()
    if since <= 0 or since > current or since < blacklist_oldest_retained() - 1:
        return blacklist_full()
    last_action: dict[str, str] = {}
    rows = (
        BlacklistVersion.objects.filter(version__gt=since, version__lte=current)
        .order_by("version")
        .values_list("card_no", "action")
    )
    for card_no, action in rows:
        last_action[card_no] = action
    return BlacklistAnswer(
        version=current,
        full=False,
        add=sorted(c for c, a in last_action.items() if a == BlacklistAction.ADD),
        remove=sorted(c for c, a in last_action.items() if a == BlacklistAction.REMOVE),
    )


# --- Ledger checks ------------------------------------------------------------------


class BreachRule(StrEnum):
    """The ledger invariants `ledger_check` verifies."""

    TRIAL_BALANCE = "trial_balance"  # all entries sum to zero
    POSTING_BALANCED = "posting_balanced"  # each posting sums to zero, two entries or more
    ACCOUNT_EQUALS_ENTRIES = "account_equals_entries"  # cached balance = sum of its entries
    PURSE_BOUNDS = "purse_bounds"  # 0 <= purse <= its maximum
    # For a live card: the holder's account = card + pending. Not a breach of the books
    # themselves: terminals report money already moved on the card, and the nightly
    # reconciliation raises it as a card_db_imbalance exception.
    ACCOUNT_EQUALS_CARD_PLUS_PENDING = "account_equals_card_plus_pending"


@dataclass(frozen=True)
class LedgerBreach:
    """One invariant that does not hold, with the figures that break it. Which fields
    are set depends on the rule:

    - trial_balance: `entries` (their sum);
    - posting_balanced: `posting_id`, `entries` (its sum), `entry_count`;
    - account_equals_entries: `account_code`, `balance`, `entries`;
    - purse_bounds: `account_code`, `balance`, `max_balance`;
    - account_equals_card_plus_pending: `card_no`, `purse`, `balance` (the holder's
      purse account), `on_card`, `pending`; it expects `balance == on_card + pending`.
    """

    rule: BreachRule
    account_code: str = ""
    posting_id: int | None = None
    card_no: str = ""
    purse: str = ""
    balance: int | None = None
    entries: int | None = None
    entry_count: int | None = None
    max_balance: int | None = None
    on_card: int | None = None
    pending: int | None = None

    @property
    def hard(self) -> bool:
        """A breach of the books themselves (an error), not a card awaiting reconciliation."""
        return self.rule != BreachRule.ACCOUNT_EQUALS_CARD_PLUS_PENDING

    @property
    def expected(self) -> int | None:
        """What the account should hold: card + pending (the card rule only)."""
        if self.on_card is None or self.pending is None:
            return None
        return self.on_card + self.pending

    @property
    def subject(self) -> str:
        """What the breach is about, for people: `ledger`, `posting 12`, an account code
        or `card 20260001 main`."""
        if self.rule == BreachRule.TRIAL_BALANCE:
            return "ledger"
        if self.rule == BreachRule.POSTING_BALANCED:
            return f"posting {self.posting_id}"
        if self.rule == BreachRule.ACCOUNT_EQUALS_CARD_PLUS_PENDING:
            return f"card {self.card_no} {self.purse}"
        return self.account_code

    @property
    def detail(self) -> str:
        """The figures, for people."""
        if self.rule == BreachRule.TRIAL_BALANCE:
            return f"entries sum to {self.entries}"
        if self.rule == BreachRule.POSTING_BALANCED:
            return f"sum {self.entries}, {self.entry_count} entries"
        if self.rule == BreachRule.ACCOUNT_EQUALS_ENTRIES:
            return f"balance {self.balance}, entries {self.entries}"
        if self.rule == BreachRule.PURSE_BOUNDS:
            return f"balance {self.balance}"
        return f"account {self.balance} != card {self.on_card} + pending {self.pending}"

    def as_dict(self) -> dict[str, Any]:
        """JSON for storing and answering: the rule, subject and detail, and the figures set."""
        figures = {k: v for k, v in asdict(self).items() if k != "rule" and v not in (None, "")}
        return {"rule": str(self.rule), "subject": self.subject, "detail": self.detail,
                **figures}


def ledger_check() -> list[LedgerBreach]:
    """Every ledger invariant, read from the database: an empty list means all hold."""
    breaches: list[LedgerBreach] = []
    total = Entry.objects.aggregate(t=Sum("amount"))["t"] or 0
    if total != 0:
        breaches.append(LedgerBreach(BreachRule.TRIAL_BALANCE, entries=total))
    for p in (
        Entry.objects.values("posting_id")
        .annotate(s=Sum("amount"), n=Count("id"))
        .filter(~Q(s=0) | Q(n__lt=2))
    ):
        breaches.append(LedgerBreach(BreachRule.POSTING_BALANCED, posting_id=p["posting_id"],
                                     entries=p["s"], entry_count=p["n"]))
    sums = dict(
        Entry.objects.values("account_id").annotate(s=Sum("amount")).values_list("account_id", "s")
    )
    for acc in LedgerAccount.objects.all().only("id", "code", "balance", "kind"):
        if acc.balance != sums.get(acc.id, 0):
            breaches.append(LedgerBreach(BreachRule.ACCOUNT_EQUALS_ENTRIES, account_code=acc.code,
                                         balance=acc.balance, entries=sums.get(acc.id, 0)))
    for acc in LedgerAccount.objects.filter(kind__in=PURSE_ACCOUNT_KIND.values()).filter(
        Q(balance__lt=0) | Q(balance__gt=F("max_balance"))
    ):
        breaches.append(LedgerBreach(BreachRule.PURSE_BOUNDS, account_code=acc.code,
                                     balance=acc.balance, max_balance=acc.max_balance))
    breaches += _cards_against_accounts()
    return breaches


@dataclass
class DrawerMovements:
    held: int  # cash the books say the drawer holds now
    cash_in: int  # taken since `since`
    cash_out: int  # paid out since `since`


def cash_drawer_movements(user: Any, since: dt.datetime) -> DrawerMovements:
    """A clerk's drawer (credit-positive: cash held is the negative of its balance)."""
    account = LedgerAccount.objects.filter(code=cash_drawer_account(user)).first()
    if account is None:
        return DrawerMovements(0, 0, 0)
    entries = Entry.objects.filter(account=account, posting__created_at__gte=since)
    taken = entries.filter(amount__lt=0).aggregate(t=Sum("amount"))["t"] or 0
    paid = entries.filter(amount__gt=0).aggregate(t=Sum("amount"))["t"] or 0
    return DrawerMovements(held=-account.balance, cash_in=-int(taken), cash_out=int(paid))


def _cards_against_accounts() -> list[LedgerBreach]:
    """account = card + pending for every live card, in three grouped queries (the
    nightly check runs over every card)."""
    kinds = {str(kind): str(purse) for purse, kind in PURSE_ACCOUNT_KIND.items()}
    accounts: dict[tuple[int, str], int] = {
        (holder, kinds[kind]): balance
        for holder, kind, balance in LedgerAccount.objects.filter(
            kind__in=kinds, cardholder__isnull=False
        ).values_list("cardholder_id", "kind", "balance")
    }
    pending: dict[tuple[int, str], int] = {
        (card, purse): int(total)
        for card, purse, total in PendingLoad.objects.filter(
            status=LoadStatus.PENDING, card__status__in=LIVE_STATUSES
        ).values("card_id", "purse").annotate(t=Sum("amount")).values_list("card_id", "purse", "t")
    }
    breaches = []
    live = Card.objects.filter(status__in=LIVE_STATUSES).values_list(
        "pk", "card_no", "cardholder_id", "card_main", "card_subsidy")
    for pk, card_no, holder, card_main, card_subsidy in live.iterator(chunk_size=5000):
        for purse, on_card in ((Purse.MAIN.value, card_main), (Purse.SUBSIDY.value, card_subsidy)):
            account = accounts.get((holder, purse), 0)
            waiting = pending.get((pk, purse), 0)
            if account != on_card + waiting:
                breaches.append(LedgerBreach(
                    BreachRule.ACCOUNT_EQUALS_CARD_PLUS_PENDING, card_no=card_no, purse=purse,
                    balance=account, on_card=on_card, pending=waiting))
    return breaches
