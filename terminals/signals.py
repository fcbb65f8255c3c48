"""Signals the terminals app sends so the apps above it (access, attendance) can react
without terminals importing them (docs/ARCHITECTURE.md, Layers). Each is sent inside
the transaction that stores what it reports.

- `terminal_registered(sender=Terminal, terminal)`: a terminal was registered (a door
  controller's doors are made from it: `<terminal_id>-1..N`).
- `records_accepted(sender=Terminal, terminal, records)`: records of a batch were
  accepted; `records` is a list of `(terminal_seq, type)`, in the order sent.
- `heartbeat_received(sender=Terminal, terminal, report, at, previous_faults)`: a
  terminal's heartbeat (its versions, queue and `faults`), already validated and
  stored; `previous_faults` is what its heartbeat before this one reported.
"""

from __future__ import annotations

from django.dispatch import Signal

terminal_registered = Signal()
records_accepted = Signal()
heartbeat_received = Signal()
