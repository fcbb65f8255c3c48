"""Every write of the accounts app. Each service is one transaction that also writes
its audit event; the API, the admin, commands and jobs all call these.

Lock order (shared with `accounts.ledger` and the terminal ingest): cardholder ->
cards by id -> pending loads -> ledger accounts by id -> blacklist counter.

By topic:

- `cardholders`: organisation units, cardholders, their portal password, the import;
- `merchants`: merchants and their payable accounts;
- `cards`: a card's life (issue with its deposit, loss, freeze, replace, cancel with
  its refund, expiry, suspected clones) and the blacklist that follows it;
- `finance`: top-ups, subsidy batches, adjustments, purchase refunds, drawer counts;
- `movements`: the accepted purse records of terminals (purchases and loads).

Import services from here (`from accounts.services import card_top_up`), not from the
topic modules.
"""

from accounts.audit import audit_record
from accounts.ledger_accounts import suspense
from accounts.services.cardholders import (
    HOLDER_UPDATABLE,
    IMPORT_COLUMNS,
    ImportRowError,
    ImportSummary,
    cardholder_create,
    cardholder_import,
    cardholder_set_password,
    cardholder_update,
    org_unit_ensure,
    org_unit_update,
)
from accounts.services.cards import (
    CancelRefund,
    card_cancel,
    card_expire,
    card_freeze,
    card_issue,
    card_replace,
    card_report_loss,
    card_suspect_clone,
    card_unfreeze,
    card_unlock,
)
from accounts.services.finance import (
    SubsidyResult,
    card_top_up,
    cash_difference_post,
    purchase_refund_post,
    purse_adjust,
    subsidy_batch_create,
)
from accounts.services.merchants import merchant_create
from accounts.services.movements import (
    CardMovement,
    MovementOutcome,
    MovementType,
    card_movements_apply,
    card_movements_reserve,
)

# The suspense account's code, as the single module had it (accounts.ledger_accounts
# has every account's code).
SUSPENSE = suspense()

__all__ = [
    "HOLDER_UPDATABLE",
    "IMPORT_COLUMNS",
    "SUSPENSE",
    "CancelRefund",
    "CardMovement",
    "ImportRowError",
    "ImportSummary",
    "MovementOutcome",
    "MovementType",
    "SubsidyResult",
    "audit_record",
    "card_cancel",
    "card_expire",
    "card_freeze",
    "card_issue",
    "card_movements_apply",
    "card_movements_reserve",
    "card_replace",
    "card_report_loss",
    "card_suspect_clone",
    "card_top_up",
    "card_unfreeze",
    "card_unlock",
    "cardholder_create",
    "cardholder_import",
    "cardholder_set_password",
    "cardholder_update",
    "cash_difference_post",
    "merchant_create",
    "org_unit_ensure",
    "org_unit_update",
    "purchase_refund_post",
    "purse_adjust",
    "subsidy_batch_create",
]
