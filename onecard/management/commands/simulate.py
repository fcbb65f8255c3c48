"""`simulate --server URL [--pos 10] [--kiosks 2] [--door-controllers 2] [--doors 3]
[--attendance-clocks 2] [--attendance-staff 20] [--attendance-days 14] [--cards 500]
[--minutes 5 | --seconds N] [--offline-rate 0.2] [--duplicate-rate 0.05]
[--batch 500] [--seed S] [--state-dir DIR]`

Sets up cards and terminals as the card office, the door controllers' doors, areas,
schedules and groups as the security office, and the attendance clocks' shifts and
roster as HR (in this process, through the services: `terminals.simulator`,
`access.simulation`, `attendance.simulation`), then plays the terminals against the
server over HTTP only; prints a progress line on stderr every few seconds and a
summary at the end. Exit status 1 when any card's balance on the server differs from
the card's, a door controller decided otherwise than the server with the server's
current list, or a daily attendance result is not what the punches, leave and
corrections make it (the results are read once the recompute task has run, in this
process as the worker would); 2 when no KEK is set.

It lives on the top floor because it puts together `terminals`, `access` and
`attendance`.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from access.simulation import security_office
from accounts.errors import KeysUnavailable
from attendance.simulation import hr_office
from core.errors import DomainError
from terminals.simulator import SimulationOptions, run_simulation


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = ("Run a simulated fleet of POS readers, kiosks and door controllers against a "
            "OneCard server.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--server", required=True, help="base URL, e.g. http://127.0.0.1:8000")
        parser.add_argument("--pos", type=int, default=10)
        parser.add_argument("--kiosks", type=int, default=2)
        parser.add_argument("--door-controllers", type=int, default=2,
                            help="door controllers deciding offline from their access lists")
        parser.add_argument("--doors", type=int, default=3, help="doors per controller")
        parser.add_argument("--attendance-clocks", type=int, default=2,
                            help="attendance clocks punching a small roster's past days "
                                 "(every other one offline for hours of them now and then)")
        parser.add_argument("--attendance-staff", type=int, default=20,
                            help="holders on the clocks' roster (of --cards)")
        parser.add_argument("--attendance-days", type=int, default=14,
                            help="days the clocks punch, ending the day before yesterday")
        parser.add_argument("--cards", type=int, default=500)
        parser.add_argument("--minutes", type=float, default=5.0)
        parser.add_argument("--seconds", type=float, default=None, help="overrides --minutes")
        parser.add_argument("--offline-rate", type=_rate, default=0.2,
                            help="share of the time each POS is offline (outages of 3-15 s)")
        parser.add_argument("--duplicate-rate", type=_rate, default=0.05,
                            help="chance that an uploaded batch is uploaded once more")
        parser.add_argument("--batch", type=int, default=500, help="records per upload (1-1000)")
        parser.add_argument("--lost-cards", type=int, default=None,
                            help="cards reported lost mid-run (default: 1 in 50)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--state-dir", default=None,
                            help="where the terminals keep their queues (default: a temp dir)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["batch"] <= 1000:
            raise CommandError(_("--batch is 1 to 1000."))
        if options["pos"] < 0 or options["kiosks"] < 1 or options["cards"] < 1:
            raise CommandError(_("At least one kiosk and one card; zero or more POS."))
        if options["door_controllers"] < 0 or options["doors"] < 1:
            raise CommandError(_("Zero or more door controllers, of one door or more each."))
        if options["attendance_clocks"] < 0 or options["attendance_staff"] < 1 \
                or not 1 <= options["attendance_days"] <= 62:
            raise CommandError(_("Zero or more attendance clocks, one staff member or more, "
                                 "and 1 to 62 days."))
        seconds = options["seconds"] if options["seconds"] is not None else options["minutes"] * 60
        sim = SimulationOptions(
            server=options["server"], pos=options["pos"], kiosks=options["kiosks"],
            cards=options["cards"], door_controllers=options["door_controllers"],
            doors_per_controller=options["doors"],
            attendance_clocks=options["attendance_clocks"],
            attendance_staff=options["attendance_staff"],
            attendance_days=options["attendance_days"], seconds=seconds,
            offline_rate=options["offline_rate"], duplicate_rate=options["duplicate_rate"],
            batch=options["batch"],
            lost_cards=options["lost_cards"], seed=options["seed"],
            state_dir=options["state_dir"], log=lambda line: self.stderr.write(line),
        )
        try:
            summary = run_simulation(sim, security_office, hr_office)
        except KeysUnavailable as exc:
            self.stderr.write(f"{exc.message} " + _("Set ONECARD_KEK or ONECARD_KEK_FILE."))
            sys.exit(2)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(summary.as_text())
        if not summary.ok:
            sys.exit(1)
