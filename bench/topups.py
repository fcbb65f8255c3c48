"""Top-ups through `accounts.services.card_top_up`, as the card office does them.

THREADS clerks work at once, each at their own counter (their own cash drawer) and with
their own database connection, each topping up their own share of many cards, so no row
is hot: what is measured is the cost of one top-up (one transaction: the card lock, a
pending load, a balanced posting, the audit row), not a queue on one lock.

Django is imported inside the functions: `bench/__main__.py` sets it up first.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.figures import ms, quantile

if TYPE_CHECKING:
    from accounts.models import Card

AMOUNT = 100  # fen per top-up: far below the purse maximum however often the bench runs
START_TIMEOUT = 60


def run(ctx: Any) -> dict[str, Any]:
    from accounts.selectors import ledger_check

    args = ctx.args
    t0 = time.perf_counter()
    clerks = _clerks(args.threads)
    cards = _cards(args.cards, clerks[0])
    setup_s = time.perf_counter() - t0

    queries = _queries_per_top_up(cards[:20], clerks[0])
    single = _timed(cards, clerks[:1], seconds=min(3.0, args.seconds))
    many = _timed(cards, clerks, seconds=args.seconds, per_thread=args.per_thread)
    breaches = ledger_check()
    if args.profile:
        _profile(cards, clerks[0], count=300)
    if many["errors"] or breaches:
        ctx.notes.append(f"top-ups: {many['errors']} errors (first: {many['first_error']}); "
                         f"ledger_check: {len(breaches)} breaches")
    return {
        "cards": len(cards),
        "threads": len(clerks),
        "top_ups": many["done"],
        "errors": many["errors"],
        "seconds": round(many["seconds"], 3),
        "top_ups_per_s": round(many["done"] / many["seconds"], 1),
        "latency_p50_ms": many["p50_ms"],
        "latency_p95_ms": many["p95_ms"],
        "latency_p99_ms": many["p99_ms"],
        "one_thread_top_ups_per_s": round(single["done"] / single["seconds"], 1),
        "one_thread_p50_ms": single["p50_ms"],
        "queries_per_top_up": queries,
        "ledger_check_ok": not breaches,
        "setup_s": round(setup_s, 2),
    }


def _clerks(count: int) -> list[Any]:
    from django.contrib.auth import get_user_model

    from accounts import ledger

    User = get_user_model()
    clerks = []
    for i in range(count):
        clerk, _created = User.objects.get_or_create(username=f"bench-clerk-{i + 1}")
        ledger.account_cash_drawer(clerk)  # each counter's drawer exists before the clock
        clerks.append(clerk)
    return clerks


def _cards(count: int, clerk: Any) -> list[Card]:
    from accounts import services
    from accounts.models import Card, Cardholder, CardStatus

    have = Cardholder.objects.filter(number__startswith="BENCH").count()
    for n in range(have + 1, count + 1):
        holder = services.cardholder_create(number=f"BENCH{n:06d}", name=f"Bench holder {n}",
                                            kind="student", by=clerk, channel="bench")
        services.card_issue(cardholder=holder, uid=f"b0{n:06x}", deposit=0, by=clerk,
                            channel="bench")
    return list(Card.objects.filter(status=CardStatus.ACTIVE,
                                    cardholder__number__startswith="BENCH")
                .select_related("cardholder").order_by("id")[:count])


def _top_up(card: Card, clerk: Any) -> None:
    from accounts import services

    services.card_top_up(card=card, amount=AMOUNT, method="cash", by=clerk,
                         reference="bench", channel="bench")


def _timed(cards: list[Card], clerks: list[Any], *, seconds: float,
           per_thread: int | None = None) -> dict[str, Any]:
    """Each clerk's thread tops up its share of the cards, `per_thread` times or else for
    `seconds`; the clock runs from the moment all are connected and released together
    until the last one ends."""
    from django.db import connection, connections

    n = len(clerks)
    barrier = threading.Barrier(n + 1)
    latencies: list[list[float]] = [[] for _ in range(n)]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        mine = cards[i::n]
        try:
            connection.ensure_connection()
            barrier.wait(timeout=START_TIMEOUT)
            deadline = time.perf_counter() + seconds
            j = 0
            while (j < per_thread) if per_thread else (time.perf_counter() < deadline):
                t = time.perf_counter()
                try:
                    _top_up(mine[j % len(mine)], clerks[i])
                except Exception as exc:  # counted and reported, the run goes on
                    errors.append(exc)
                else:
                    latencies[i].append(time.perf_counter() - t)
                j += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=START_TIMEOUT)
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for per in latencies for x in per)
    return {
        "done": len(flat), "errors": len(errors), "seconds": elapsed,
        "first_error": repr(errors[0]) if errors else None,
        "p50_ms": ms(quantile(flat, 0.50)), "p95_ms": ms(quantile(flat, 0.95)),
        "p99_ms": ms(quantile(flat, 0.99)),
    }




def _queries_per_top_up(cards: list[Card], clerk: Any) -> float:
    from django.db import connection

    count = 0

    def counter(execute: Callable[..., Any], *args: Any) -> Any:
        nonlocal count
        count += 1
        return execute(*args)

    with connection.execute_wrapper(counter):
        for card in cards:
            _top_up(card, clerk)
    return round(count / len(cards), 1)


def _profile(cards: list[Card], clerk: Any, *, count: int) -> None:
    """cProfile of `count` single-threaded top-ups: where the time of one goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    for j in range(count):
        _top_up(cards[j % len(cards)], clerk)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    print(out.getvalue())
