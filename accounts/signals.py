"""Signals the accounts app sends so the apps above it can react without accounts
importing them (docs/ARCHITECTURE.md, Layers).

Both are sent inside the transaction that makes the change, after the rows are saved:
a receiver's writes (access lists revoking a lost card) commit or roll back with it.

- `card_status_changed(sender=Card, card, action)`: a card was issued, or its status or
  listed state changed: `issue`, `report_loss`, `unlock`, `freeze`, `unfreeze`,
  `replace` (sent for the old card and then, as `issue`, for the new one), `cancel`,
  `expire`, `suspect_clone`.
- `cardholder_changed(sender=Cardholder, cardholder, fields)`: a holder's org unit or
  status changed (`fields` names which: "department", "status").
- `org_unit_changed(sender=OrgUnit, unit, fields, old_parent)`: an org unit was renamed
  or moved (`fields` names which: "name", "parent"); `old_parent` is the unit it was
  under before (None: it was at the top). The holders of the unit and of every unit
  below it moved with it.
"""

from __future__ import annotations

from django.dispatch import Signal

card_status_changed = Signal()
cardholder_changed = Signal()
org_unit_changed = Signal()
