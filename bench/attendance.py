"""Attendance: a month of daily results for --attendance-staff holders, and the
recomputation after a late batch of punches (issue 12 §5), in-process on the bench
database, the way the django-q2 task computes them.

The section starts from empty tables (it flushes the bench database). Set-up, timed
apart: the staff (cardholders with active cards in one department, written in bulk as
the other sections do), a day shift (08:30-17:30, 5 minutes' grace, an hour's break)
for four in five and a night shift across midnight (22:00-06:00) for the rest, Monday
to Friday, weekends off, for last month, through `roster_put` as HR puts it (which marks
every day of it for computing); then the month's punches of two clocks, written in bulk
as accepted `punch` records (most on time, some late, some leaving early, an absence
now and then). Held back from them: the out punch of --attendance-late of those days,
spread over 20 working days, which the late batch brings.

(a) `month_*`: the task's run over the whole month (`pending_days_compute`: every day
    the roster marked, slices of holders, rows written); goal <= 30 s. Checked: one row
    per holder and day of the month, and the held-back days `missing_punch`.
(b) `late_*`: a third clock uploads the held-back punches at once, through the ingest
    (`records_ingest`, in batches of 500, as the clock would: `late_ingest_s`, apart),
    which marks their days; then the task's run (`late_recompute_s`); goal <= 2 s.
    Checked: each of those days has its out punch now (none left `missing_punch`), and
    no other day changed; a second run finds nothing to do.

`--attendance-quick`: 300 staff, 100 late punches; under a minute.

Django is imported inside the functions: `bench/__main__.py` sets it up first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

GOAL_MONTH_S = 30.0
GOAL_LATE_S = 2.0
FILL_CHUNK = 2_000
LATE_BATCH = 500
LATE_DAYS = 20
COLUMNS = ("terminal_id", "terminal_seq", "type", "status", "reason", "detail", "card_no",
           "card_id", "ts", "purse", "load_id", "flags", "content_hash", "raw", "received_at")


@dataclass
class Staff:
    holders: list[tuple[int, str]]  # (id, number)
    cards: list[tuple[int, str]]  # (id, card_no), as holders
    night: set[int]  # indexes on the night shift


@dataclass
class Month:
    first: dt.date
    last: dt.date
    work_days: list[dt.date]
    punches: list[tuple[int, int]] = field(default_factory=list)  # (staff index, ts)
    held_back: list[tuple[int, int, dt.date]] = field(default_factory=list)  # (i, ts, day)


def _last_month() -> tuple[dt.date, dt.date]:
    from django.utils import timezone

    first_this = timezone.localdate().replace(day=1)
    last = first_this - dt.timedelta(days=1)
    return last.replace(day=1), last


def _staff(n: int, rng: random.Random) -> Staff:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from accounts import services
    from accounts.models import Card, Cardholder, CardStatus

    by, _created = get_user_model().objects.get_or_create(username="bench-attendance")
    unit = services.org_unit_ensure(code="BENCH-ATT", name="Bench attendance", by=by,
                                    channel="bench")
    holders: list[tuple[int, str]] = []
    cards: list[tuple[int, str]] = []
    with transaction.atomic():
        for start in range(0, n, FILL_CHUNK):
            count = min(FILL_CHUNK, n - start)
            made = Cardholder.objects.bulk_create(
                [Cardholder(number=f"AT{k:07d}", name=f"Staff {k}", kind="staff", org_unit=unit)
                 for k in range(start, start + count)])
            issued = Card.objects.bulk_create(
                [Card(card_no=f"77{k:08d}", uid=f"a7{k:08x}", cardholder=h,
                      status=CardStatus.ACTIVE, key_version=1)
                 for k, h in enumerate(made, start=start)])
            holders += [(h.pk, h.number) for h in made]
            cards += [(c.pk, c.card_no) for c in issued]
    night = set(rng.sample(range(n), n // 5))
    return Staff(holders, cards, night)


def _roster(staff: Staff, first: dt.date, last: dt.date) -> Any:
    from django.contrib.auth import get_user_model

    from attendance import services

    by = get_user_model().objects.get(username="bench-attendance")
    services.shift_create(code="bench-day", name="Day", start=dt.time(8, 30),
                          end=dt.time(17, 30), grace_minutes=5, break_minutes=60,
                          overtime_after_minutes=30, by=by, channel="bench")
    services.shift_create(code="bench-night", name="Night", start=dt.time(22, 0),
                          end=dt.time(6, 0), grace_minutes=5, break_minutes=30,
                          overtime_after_minutes=30, by=by, channel="bench")
    entries = []
    for i, (_pk, number) in enumerate(staff.holders):
        shift = "bench-night" if i in staff.night else "bench-day"
        entries.append({"cardholder": number, "from": first, "to": last,
                        "weekdays": [1, 2, 3, 4, 5], "shift": shift})
        entries.append({"cardholder": number, "from": first, "to": last,
                        "weekdays": [6, 7], "shift": None})
    services.roster_put(entries=entries, by=by, channel="bench")
    return by


def _month(staff: Staff, first: dt.date, last: dt.date, late: int,
           rng: random.Random) -> Month:
    from attendance.compute import zone

    tz = zone()
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    work = [d for d in days if d.isoweekday() <= 5]
    month = Month(first, last, work)
    late_days = set(work[:LATE_DAYS])
    candidates = [(i, d) for i in range(len(staff.holders)) for d in late_days]
    held = set(rng.sample(candidates, min(late, len(candidates))))
    for i in range(len(staff.holders)):
        start, end = (dt.time(22, 0), dt.time(6, 0)) if i in staff.night else \
            (dt.time(8, 30), dt.time(17, 30))
        for d in work:
            luck = rng.random()
            if luck < 0.02 and (i, d) not in held:
                continue  # absent
            came = dt.datetime.combine(d, start, tz) - dt.timedelta(
                seconds=rng.randrange(0, 1200)) + (
                dt.timedelta(minutes=rng.randrange(6, 60)) if luck > 0.93 else dt.timedelta())
            end_day = d + dt.timedelta(days=1) if end <= start else d
            left = dt.datetime.combine(end_day, end, tz) + dt.timedelta(
                seconds=rng.randrange(0, 1500)) - (
                dt.timedelta(minutes=rng.randrange(10, 90)) if 0.02 < luck < 0.06
                else dt.timedelta())
            month.punches.append((i, int(came.timestamp())))
            if (i, d) in held:
                month.held_back.append((i, int(left.timestamp()), d))
            else:
                month.punches.append((i, int(left.timestamp())))
    month.punches.sort(key=lambda p: p[1])
    return month


def _register(by: Any, name: str) -> Any:
    from terminals.services import terminal_register

    terminal, _secret = terminal_register(kind="attendance", name=name, by=by, channel="bench")
    return terminal


def _rows(staff: Staff, month: Month, clocks: list[Any]) -> Iterator[tuple[Any, ...]]:
    from django.utils import timezone

    now = timezone.now()
    seqs = [0] * len(clocks)
    for n, (i, ts) in enumerate(month.punches):
        k = n % len(clocks)
        seqs[k] += 1
        card_id, card_no = staff.cards[i]
        raw = {"type": "punch", "terminal_seq": seqs[k], "ts": ts, "card_no": card_no}
        text = json.dumps(raw, separators=(",", ":"), sort_keys=True)
        yield (clocks[k].pk, seqs[k], "punch", "accepted", "", "", card_no, card_id, ts, "",
               "", "[]",
               hashlib.sha256(text.encode()).hexdigest(), text, now)


def _write(staff: Staff, month: Month, clocks: list[Any]) -> float:
    from django.db import connection, transaction

    from terminals.models import Terminal

    t0 = time.perf_counter()
    sql = f"COPY terminals_terminalrecord ({', '.join(COLUMNS)}) FROM STDIN"
    with transaction.atomic():
        with connection.cursor() as cur, cur.cursor.copy(sql) as copy:
            for row in _rows(staff, month, clocks):
                copy.write_row(row)
        for k, clock in enumerate(clocks):  # what the clocks uploaded, as the ingest keeps it
            made = len(month.punches[k::len(clocks)])
            Terminal.objects.filter(pk=clock.pk).update(contiguous_seq=made)
    return time.perf_counter() - t0


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def _results() -> dict[tuple[int, dt.date], tuple[Any, ...]]:
    from attendance.models import DayResult

    return {(r[0], r[1]): r[2:] for r in DayResult.objects.values_list(
        "cardholder_id", "date", "status", "first_in", "last_out", "late_minutes",
        "early_minutes", "worked_minutes", "overtime_minutes")}


def run(ctx: Any) -> dict[str, Any]:
    from django.core.management import call_command

    from attendance.compute import pending_days_compute
    from attendance.models import PendingDay
    from terminals.ingest import records_ingest

    args = ctx.args
    quick = args.attendance_quick
    n = 300 if quick else args.attendance_staff
    late = 100 if quick else args.attendance_late
    rng = random.Random(12)
    call_command("flush", interactive=False, verbosity=0)

    first, last = _last_month()
    t0 = time.perf_counter()
    staff = _staff(n, rng)
    staff_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    by = _roster(staff, first, last)
    roster_s = time.perf_counter() - t0
    marked = PendingDay.objects.count()
    month = _month(staff, first, last, late, rng)
    clocks = [_register(by, "Bench clock east"), _register(by, "Bench clock west")]
    write_s = _write(staff, month, clocks)
    _analyze()
    print(f"   {n:,} staff {staff_s:.1f} s; roster for {first:%Y-%m} {roster_s:.1f} s "
          f"({marked:,} days marked); {len(month.punches):,} punches written in "
          f"{write_s:.1f} s", flush=True)

    # (a) the month, as the task computes what the roster marked.
    t0 = time.perf_counter()
    month_days = pending_days_compute()
    month_s = time.perf_counter() - t0
    before = _results()
    days_in_month = (last - first).days + 1
    in_month = {k: v for k, v in before.items() if first <= k[1] <= last}
    holder_ids = [pk for pk, _number in staff.holders]
    held_keys = {(holder_ids[i], d) for i, _ts, d in month.held_back}
    month_ok = (len(in_month) == n * days_in_month
                and all(before[k][0] == "missing_punch" for k in held_keys))
    print(f"   (a) month: {month_days:,} days computed in {month_s:.2f} s "
          f"(goal <= {GOAL_MONTH_S:.0f} s); {len(in_month):,} rows, one per holder and day: "
          f"{'yes' if month_ok else 'NO'}", flush=True)

    # (b) the late batch through the ingest, then the task's run.
    late_clock = _register(by, "Bench clock late")
    records = [{"type": "punch", "terminal_seq": s, "ts": ts,
                "card_no": staff.cards[i][1]}
               for s, (i, ts, _d) in enumerate(sorted(month.held_back, key=lambda h: h[1]),
                                               start=1)]
    t0 = time.perf_counter()
    for start in range(0, len(records), LATE_BATCH):
        records_ingest(terminal=late_clock, records=records[start:start + LATE_BATCH])
    ingest_s = time.perf_counter() - t0
    late_marked = PendingDay.objects.count()
    t0 = time.perf_counter()
    late_days = pending_days_compute()
    late_s = time.perf_counter() - t0
    again = pending_days_compute()
    after = _results()
    fixed = sum(after[k][0] != "missing_punch" and after[k][2] is not None for k in held_keys)
    changed_elsewhere = sum(after.get(k) != v for k, v in before.items() if k not in held_keys)
    late_ok = fixed == len(held_keys) and changed_elsewhere == 0 and again == 0
    print(f"   (b) late batch: {len(records):,} punches over {LATE_DAYS} days ingested in "
          f"{ingest_s:.2f} s, {late_marked:,} days marked; recomputed {late_days:,} days in "
          f"{late_s:.3f} s (goal <= {GOAL_LATE_S:.0f} s); {fixed:,} of {len(held_keys):,} "
          f"days have their out punch now, {changed_elsewhere} other days changed, a second "
          f"run computed {again}", flush=True)
    return {
        "staff": n, "quick": quick, "month": f"{first:%Y-%m}", "setup_staff_s": round(staff_s, 2),
        "setup_roster_s": round(roster_s, 2), "setup_days_marked": marked,
        "setup_punches": len(month.punches), "setup_punches_write_s": round(write_s, 2),
        "month_days_computed": month_days, "month_rows": len(in_month),
        "month_compute_s": round(month_s, 2), "month_goal_s": GOAL_MONTH_S,
        "month_meets_goal": month_s <= GOAL_MONTH_S, "month_rows_as_expected": month_ok,
        "late_punches": len(records), "late_over_days": LATE_DAYS,
        "late_ingest_s": round(ingest_s, 3), "late_days_marked": late_marked,
        "late_days_recomputed": late_days, "late_recompute_s": round(late_s, 3),
        "late_goal_s": GOAL_LATE_S, "late_meets_goal": late_s <= GOAL_LATE_S,
        "late_days_fixed": fixed, "late_other_days_changed": changed_elsewhere,
        "late_second_run_days": again, "late_results_as_expected": late_ok,
    }
