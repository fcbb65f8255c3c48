"""`load_demo`: a small campus to click through, the same on every machine.

An organisation tree, ~50 cardholders with cards and money, three merchants, a few
terminals, one staff user per role (password `onecard-<role>`, with a token) and a few
portal logins. Everything goes through the services, in one transaction. A second run
finds the demo school and only prints the logins again.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from rest_framework.authtoken.models import Token

from accounts import services
from accounts.errors import KeysUnavailable
from accounts.keys import kek_get, key_import
from accounts.models import (
    Cardholder,
    CardholderKind,
    KeyPurpose,
    OrgUnit,
    OrgUnitKind,
    Purse,
    StoredKey,
    TopUpMethod,
)
from attendance.demo import demo_attendance
from core.roles import Role
from onecard.staff import role_groups_ensure, staff_user_ensure
from terminals.models import TerminalKind
from terminals.services import terminal_register

SEED = 2026
CHANNEL = "command"
SCHOOL = ("DEMO", "示范大学")  # its presence marks the demo as loaded
DEPARTMENTS = [
    ("CS", "计算机学院", [("CS-2301", "计算机2301班"), ("CS-2302", "计算机2302班")]),
    ("MATH", "数学学院", [("MATH-2301", "数学2301班"), ("MATH-2302", "数学2302班")]),
    ("ECON", "经济学院", [("ECON-2301", "经济2301班"), ("ECON-2302", "经济2302班")]),
]
STUDENTS_PER_CLASS = 7
STAFF_COUNT = 8
DEPOSIT = 2000
TOP_UPS = (5000, 10000, 20000, 30000)
SUBSIDY = ("2026年秋季伙食补贴", 15000)
MERCHANTS = [("C1", "第一食堂", 0), ("C2", "第二食堂", 50), ("SHOP", "校园超市", 100)]
TERMINALS: list[tuple[str, str, str | None, int]] = [
    (TerminalKind.POS, "第一食堂 1号窗口", "C1", 0),
    (TerminalKind.POS, "第二食堂 1号窗口", "C2", 0),
    (TerminalKind.POS, "校园超市 收银台", "SHOP", 0),
    (TerminalKind.KIOSK, "图书馆 自助圈存机", None, 0),
    (TerminalKind.DOOR, "实验楼 门禁控制器", None, 2),
    (TerminalKind.ATTENDANCE, "行政楼 考勤机", None, 0),
]
# The purse master key of the protocol's test vectors (vectors.json), so a virtual
# card personalised against the demo behaves like the examples in the spec.
VECTOR_MASTER_KEY = "000102030405060708090a0b0c0d0e0f"
HOLDER_PASSWORD = "onecard-holder"
PORTAL_HOLDERS = ("S2026001", "S2026002", "T001")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN_NAMES = ("伟", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明",
               "超", "秀英", "华", "平", "刚", "桂英", "丽", "强", "芳", "婷", "鹏", "雪",
               "浩然", "晨", "宇轩", "欣怡", "子涵", "思远", "佳琪")


def staff_password(role: str) -> str:
    return f"onecard-{role}"


@dataclass
class Person:
    number: str
    name: str
    kind: str
    department: str
    valid_until: dt.date | None
    phone: str
    email: str


def demo_people(rng: random.Random) -> list[Person]:
    """The demo's cardholders, the same list for the same seed."""
    names = ["张伟", "李娜"]
    while len(names) < len(DEPARTMENTS) * 2 * STUDENTS_PER_CLASS + STAFF_COUNT:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        if name not in names:
            names.append(name)
    people: list[Person] = []
    classes = [code for _d, _n, units in DEPARTMENTS for code, _cn in units]
    for i in range(len(classes) * STUDENTS_PER_CLASS):
        number = f"S2026{i + 1:03d}"
        people.append(Person(number, names[i], CardholderKind.STUDENT,
                             classes[i // STUDENTS_PER_CLASS], dt.date(2030, 7, 1),
                             f"138{rng.randrange(10**8):08d}", ""))
    for j in range(STAFF_COUNT):
        number = f"T{j + 1:03d}"
        people.append(Person(number, names[len(people)], CardholderKind.STAFF,
                             DEPARTMENTS[j % len(DEPARTMENTS)][0], None,
                             f"139{rng.randrange(10**8):08d}", f"{number.lower()}@demo.edu.cn"))
    return people


class Command(BaseCommand):
    help = "Load the demo campus (idempotent) and print the logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--simulate-seconds", type=float, default=8.0,
            help="run the terminal fleet simulator this long for a day of records (0: none)",
        )

    def _simulate(self, seconds: float) -> None:
        """A few canteen POS and a kiosk trade over HTTP with this server, and a door
        controller decides cards at its doors from its access list, so the demo shows
        accepted records, postings, door events and a lost card refused at the till."""
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from access.simulation import security_office
        from onecard.wsgi import application
        from terminals.simulator import SimulationOptions, run_simulation

        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            summary = run_simulation(SimulationOptions(
                server=f"http://127.0.0.1:{server.server_port}", pos=3, kiosks=1, cards=20,
                door_controllers=1, seconds=seconds, batch=100, seed=2026, lost_cards=1,
                sync_every=1.0, pause=0.02, door_pause=0.1, access_changes=2,
                log=lambda line: self.stderr.write(line),
            ), security_office)
        finally:
            server.shutdown()
        self.stdout.write(_("Simulated terminals: %(n)d records accepted, balances %(ok)s.") % {
            "n": summary.statuses.get("accepted", 0),
            "ok": _("match") if not summary.mismatches else _("DO NOT match"),
        })
        self.stdout.write(_(
            "Simulated door controller: %(n)d cards decided offline, %(granted)d let in; "
            "%(compared)d decisions checked against the server, %(differ)d differ.") % {
            "n": summary.door_decisions, "granted": summary.door_granted,
            "compared": summary.door_compared, "differ": len(summary.door_disagreements)})

    def handle(self, *args: Any, **options: Any) -> None:
        role_groups_ensure()
        if OrgUnit.objects.filter(code=SCHOOL[0]).exists():
            self.stdout.write(_("The demo data is already loaded; nothing was changed."))
            kek_note = self._kek_prepare(create=False)
        else:
            kek_note = self._kek_prepare(create=True)
            keys_ok = self._keys_usable()
            with transaction.atomic():
                self._load(keys_ok)
            if keys_ok and options["simulate_seconds"]:
                self._simulate(options["simulate_seconds"])
            if not keys_ok:
                self.stdout.write(_(
                    "No usable KEK: the purse key and the terminals were not loaded. Set "
                    "ONECARD_KEK (64 hex characters) or ONECARD_KEK_FILE and load again on an "
                    "empty database."
                ))
        if kek_note:
            self.stdout.write(kek_note)
        self._print_logins()

    # --- key material -------------------------------------------------------------

    def _kek_prepare(self, *, create: bool) -> str:
        """Without a configured KEK, make one in a file (the demo only) and use it; the
        returned note tells how to hand it to the server."""
        if settings.ONECARD_KEK:
            return ""
        configured = bool(settings.ONECARD_KEK_FILE)
        path = Path(settings.ONECARD_KEK_FILE or Path(settings.BASE_DIR) / "var" / "kek.hex")
        if not create and not path.exists():
            return ""
        created = not path.exists()
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        settings.ONECARD_KEK_FILE = str(path)
        shown = os.path.relpath(path)
        if configured:
            return (_("Wrote a new demo KEK to %(path)s (ONECARD_KEK_FILE).") % {"path": shown}
                    if created else "")
        made = _("Wrote a new demo KEK to %(path)s. ") % {"path": shown} if created else ""
        return made + _("The server needs it too: export ONECARD_KEK_FILE=%(path)s "
                        "before `manage.py runserver`.") % {"path": shown}

    def _keys_usable(self) -> bool:
        try:
            kek_get()
        except KeysUnavailable as exc:
            self.stderr.write(exc.message)
            return False
        return True

    # --- the data -----------------------------------------------------------------

    def _load(self, keys_ok: bool) -> None:
        rng = random.Random(SEED)
        for role in Role:
            staff_user_ensure(username=role.value, role=role.value,
                              password=staff_password(role.value),
                              superuser=role == Role.ADMIN, channel=CHANNEL)
        clerk = get_user_model().objects.get(username=Role.CARD_OFFICE.value)
        if keys_ok and not StoredKey.objects.filter(purpose=KeyPurpose.PURSE, version=1).exists():
            key_import(purpose=KeyPurpose.PURSE, version=1, key_hex=VECTOR_MASTER_KEY, by=clerk,
                       channel=CHANNEL)
        self._org_tree(clerk)
        for code, name, fee in MERCHANTS:
            services.merchant_create(code=code, name=name, fee_rate_bp=fee, by=clerk,
                                     channel=CHANNEL)
        people = demo_people(rng)
        for person in people:
            self._holder_with_money(person, clerk, rng)
        services.subsidy_batch_create(
            name=SUBSIDY[0], purse=Purse.SUBSIDY, by=clerk, channel=CHANNEL,
            entries=[{"cardholder": p.number, "amount": SUBSIDY[1]}
                     for p in people if p.kind == CardholderKind.STUDENT],
        )
        lost = Cardholder.objects.get(number=people[-STAFF_COUNT - 1].number).cards.get()
        services.card_report_loss(card=lost, by=clerk, channel=CHANNEL)
        for number in PORTAL_HOLDERS:
            services.cardholder_set_password(cardholder=Cardholder.objects.get(number=number),
                                             password=HOLDER_PASSWORD, by=clerk, channel=CHANNEL)
        self.stdout.write(_("Loaded %(holders)d cardholders with cards, %(merchants)d "
                            "merchants.") % {"holders": len(people), "merchants": len(MERCHANTS)})
        if keys_ok:
            clock = self._terminals(clerk)
            staff = {p.number: Cardholder.objects.get(number=p.number).cards.get().card_no
                     for p in people if p.kind == CardholderKind.STAFF}
            hr = get_user_model().objects.get(username=Role.HR.value)
            days = demo_attendance(by=hr, clock=clock, staff=staff, rng=rng,
                                   today=timezone.localdate(), channel=CHANNEL)
            self.stdout.write(_("Attendance: %(n)d daily results of %(staff)d staff "
                                "computed.") % {"n": days, "staff": len(staff)})

    def _org_tree(self, by: Any) -> None:
        school = services.org_unit_ensure(code=SCHOOL[0], name=SCHOOL[1], kind=OrgUnitKind.SCHOOL,
                                          by=by, channel=CHANNEL)
        for code, name, classes in DEPARTMENTS:
            department = services.org_unit_ensure(code=code, name=name, parent=school, by=by,
                                                  kind=OrgUnitKind.DEPARTMENT, channel=CHANNEL)
            for class_code, class_name in classes:
                services.org_unit_ensure(code=class_code, name=class_name, parent=department,
                                         kind=OrgUnitKind.CLASS, by=by, channel=CHANNEL)

    def _holder_with_money(self, person: Person, clerk: Any, rng: random.Random) -> None:
        holder = services.cardholder_create(
            number=person.number, name=person.name, kind=person.kind,
            department=person.department, valid_until=person.valid_until, phone=person.phone,
            email=person.email, by=clerk, channel=CHANNEL,
        )
        card = services.card_issue(cardholder=holder, uid=f"{rng.getrandbits(32):08x}",
                                   deposit=DEPOSIT, by=clerk, channel=CHANNEL)
        services.card_top_up(card=card, amount=rng.choice(TOP_UPS), method=TopUpMethod.CASH,
                             reference=f"demo {person.number}", by=clerk, channel=CHANNEL)
        if rng.random() < 0.3:
            services.card_top_up(card=card, amount=rng.choice(TOP_UPS), method=TopUpMethod.BANK,
                                 reference=f"demo bank {person.number}", by=clerk,
                                 channel=CHANNEL)

    def _terminals(self, by: Any) -> Any:
        """Register the demo's terminals; returns the attendance clock."""
        self.stdout.write("\n" + _("Terminals (the secrets are shown only this once):"))
        rows = [(_("terminal_id"), _("kind"), _("name"), _("secret"))]
        clock = None
        for kind, name, merchant, doors in TERMINALS:
            terminal, secret = terminal_register(kind=kind, name=name, merchant_code=merchant,
                                                 doors=doors, by=by, channel=CHANNEL)
            rows.append((terminal.terminal_id, kind, name, secret))
            if kind == TerminalKind.ATTENDANCE:
                clock = terminal
        self._table(rows)
        return clock

    # --- output -------------------------------------------------------------------

    def _print_logins(self) -> None:
        User = get_user_model()
        rows = [(_("role"), _("username"), _("password"), _("token"))]
        for role in Role:
            user = User.objects.filter(username=role.value).first()
            if user is None:
                continue
            token, _created = Token.objects.get_or_create(user=user)
            rows.append((role.value, role.value, staff_password(role.value), token.key))
        self.stdout.write("\n" + _("Staff logins (console and API token):"))
        self._table(rows)
        self.stdout.write("\n" + _("Portal logins (cardholder number / password):"))
        holders = Cardholder.objects.filter(number__in=PORTAL_HOLDERS).order_by("number")
        self._table([(_("number"), pgettext("person", "name"), _("password")),
                     *[(h.number, h.name, HOLDER_PASSWORD) for h in holders]])
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"  # make demo passes PORT
        self.stdout.write("\n" + _("Console: %(url)s") % {"url": f"{base}/admin/"}
                          + "\n" + _("API docs: %(url)s") % {"url": f"{base}/api/docs/"})

    def _table(self, rows: Sequence[Sequence[str]]) -> None:
        widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)]
            self.stdout.write("  " + "  ".join(cells).rstrip())


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
