"""`python -m terminals.station --server URL --token TOKEN [--reader NAME] COMMAND`.

Commands: readers, read, issue, load, replace, cancel. Exit codes: 0 done, 1 failed
(the message says why and what to do), 2 wrong usage, 3 the card differs from the
records and the clerk must confirm (--accept-difference).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from terminals.client.apdu import CardError
from terminals.client.http import TerminalClient
from terminals.client.i18n import language, message
from terminals.client.queue import RecordQueue
from terminals.client.terminal import IssuerTerminal
from terminals.station import messages as _messages  # noqa: F401  (registers the texts)
from terminals.station.desk import SW_MEANING, Station
from terminals.station.office import Office
from terminals.station.pcsc import DeskReader, StationError

NEEDS_SERVER = {"read", "issue", "load", "replace", "cancel"}


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="python -m terminals.station",
                                description="OneCard issuing station (card office desk).")
    p.add_argument("--server", default=env("ONECARD_SERVER"),
                   help="OneCard server URL (env ONECARD_SERVER)")
    p.add_argument("--token", default=env("ONECARD_TOKEN"),
                   help="the clerk's API token, role card_office (env ONECARD_TOKEN)")
    p.add_argument("--reader", default=env("ONECARD_READER"),
                   help="part of the PC/SC reader's name (default: the first reader)")
    p.add_argument("--terminal-id", default=env("ONECARD_TERMINAL_ID"),
                   help="this desk's registered issuer terminal, for loads")
    p.add_argument("--secret", default=env("ONECARD_TERMINAL_SECRET"),
                   help="that terminal's secret, 64 hex characters")
    p.add_argument("--queue", default=env("ONECARD_STATION_QUEUE"),
                   help="the desk's durable record queue (default "
                        "~/.onecard/station-<terminal id>.sqlite3)")
    p.add_argument("--wait", type=float, default=120,
                   help="seconds to wait for a new card on the reader (default 120)")
    p.add_argument("--lang", default=None, help="zh-hans or en (default: from the locale)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("readers", help="list readers and whether a card is on each")
    sub.add_parser("read", help="the card beside the server's view of it")
    issue = sub.add_parser("issue", help="issue, personalise and load a blank card")
    issue.add_argument("--cardholder", required=True, help="the cardholder's number")
    issue.add_argument("--deposit", type=int, default=0, help="card deposit in fen")
    issue.add_argument("--deposit-method", default="cash", choices=["cash", "bank", "online"])
    sub.add_parser("load", help="write the card's pending loads to it")
    replace = sub.add_parser("replace", help="replace a card (read the old one first)")
    replace.add_argument("--card", help="the old card's number (default: the card on the reader)")
    replace.add_argument("--without-old-card", action="store_true",
                         help="the holder no longer has the old card")
    replace.add_argument("--accept-difference", action="store_true",
                         help="go on although the old card differs from the records")
    cancel = sub.add_parser("cancel", help="cancel a card and refund it (read it first)")
    cancel.add_argument("--card", help="the card's number (default: the card on the reader)")
    cancel.add_argument("--refund-method", default="cash", choices=["cash", "bank"])
    cancel.add_argument("--without-card", action="store_true",
                        help="the holder no longer has the card")
    cancel.add_argument("--accept-difference", action="store_true",
                        help="go on although the card differs from the records")
    return p


def _terminal(args: argparse.Namespace) -> IssuerTerminal | None:
    if not (args.terminal_id and args.secret and args.server):
        return None
    path = Path(args.queue or Path.home() / ".onecard" / f"station-{args.terminal_id}.sqlite3")
    path.parent.mkdir(parents=True, exist_ok=True)
    client = TerminalClient(args.server, args.terminal_id, args.secret)
    return IssuerTerminal(client, RecordQueue(path))


def run(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    lang = language(args.lang)
    if args.command in NEEDS_SERVER and not (args.server and args.token):
        p.error("--server and --token (or ONECARD_SERVER and ONECARD_TOKEN) are required")
    terminal = _terminal(args)
    office = Office(args.server, args.token, lang=lang) if args.server and args.token else None
    station = Station(office=office, reader=DeskReader(args.reader), lang=lang,
                      terminal=terminal, wait_seconds=args.wait)
    try:
        if args.command == "readers":
            return station.readers()
        if args.command == "read":
            return station.read()
        if args.command == "issue":
            return station.issue(cardholder=args.cardholder, deposit=args.deposit,
                                 deposit_method=args.deposit_method)
        if args.command == "load":
            return station.load()
        if args.command == "replace":
            return station.replace(card_no=args.card, without_old_card=args.without_old_card,
                                   accept_difference=args.accept_difference)
        return station.cancel(card_no=args.card, refund_method=args.refund_method,
                              without_card=args.without_card,
                              accept_difference=args.accept_difference)
    except StationError as exc:
        print(exc.text(lang), file=sys.stderr, flush=True)
        return exc.exit_code
    except CardError as exc:
        meaning = SW_MEANING.get(exc.sw, "")  # type: ignore[call-overload]
        print(message("card_refused", lang, sw=f"{exc.sw:04X}", meaning=meaning),
              file=sys.stderr, flush=True)
        return 1
    finally:
        if terminal is not None:
            terminal.queue.close()


if __name__ == "__main__":
    sys.exit(run())
