"""Security's reports on an area, from door records uploaded by its controllers: who
entered the lab building in a period, and who is inside it now (a muster after an
evacuation), as JSON and as a spreadsheet in zh-hans and in English."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone, translation

from access import reports, services
from access.events import door_records_project_pending
from access.models import Area, Door
from tests.access.door_records import (
    door_controller,
    later,
    passage,
    records_stored_without_events,
    upload,
)
from tests.access.scenario import holder_with_card, officer

pytestmark = pytest.mark.django_db


@dataclass
class Lab:
    area: Area
    t: int  # the first passage
    people: dict[str, Any]  # name -> card


@pytest.fixture
def lab() -> Lab:
    """Door 1 lets people in, door 2 out, door 3 (a side door) is not marked. Li came in
    and stayed; Wang came in and left; Zhao came in twice (once by tailgating out); Chen
    was refused; Sun came in by the side door; Zhou badged in at another building."""
    by = officer()
    ctrl, other = door_controller(doors=3), door_controller(doors=1, name="Library")
    area = services.area_create(code="lab", name="Lab building", by=by)
    for number, direction in ((1, "entry"), (2, "exit"), (3, None)):
        services.door_update(door=Door.objects.get(pk=f"{ctrl.terminal_id}-{number}"),
                             area="lab", direction=direction, name=f"Lab door {number}", by=by)
    people = {name: holder_with_card(number=f"T{i:03d}") for i, name in
              enumerate(("Li", "Wang", "Zhao", "Chen", "Sun", "Zhou"), start=1)}
    t = later()

    def at(card: Any, door: int, offset: int, **kw: Any) -> dict[str, Any]:
        return passage(ctrl, card.card_no, door, t + offset, **kw)

    with records_stored_without_events():
        upload(ctrl,
               at(people["Li"], 1, 0),
               at(people["Wang"], 1, 60), at(people["Wang"], 2, 600),
               at(people["Zhao"], 1, 120), at(people["Zhao"], 1, 900),
               at(people["Chen"], 1, 180, result="denied", reason="not_allowed"),
               at(people["Sun"], 3, 240))
        upload(other, passage(other, people["Zhou"].card_no, 1, t + 300))
        door_records_project_pending()
    return Lab(area=area, t=t, people=people)


def moment(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def test_every_entry_to_the_area_in_the_period_in_order(lab: Lab) -> None:
    report = reports.area_entries_report(lab.area, moment(lab.t), moment(lab.t + 900))
    entries = list(report.rows())

    # Wang's exit and Chen's refusal are no entries; the side door counts as a way in;
    # the period's end is not in it (Zhao's second entry at t + 900).
    assert (report.heading["area"], report.heading["name"], len(entries)) == (
        "lab", "Lab building", 4)
    assert [(e["cardholder"], e["door_name"], e["direction"]) for e in entries] == [
        ("T001", "Lab door 1", "entry"), ("T002", "Lab door 1", "entry"),
        ("T003", "Lab door 1", "entry"), ("T005", "Lab door 3", None)]
    first = entries[0]
    assert first["card_no"] == lab.people["Li"].card_no
    assert dt.datetime.fromisoformat(first["ts"]) == moment(lab.t)


def test_who_is_inside_now_for_a_muster(lab: Lab) -> None:
    inside = list(reports.area_presence_report(lab.area).rows())

    # Wang left; Chen was refused; Sun's side door does not say in or out; Zhou is
    # elsewhere. Zhao is inside since the later entry. The longest inside first.
    assert [(p["cardholder"], dt.datetime.fromisoformat(p["since"])) for p in inside] \
        == [("T001", moment(lab.t)), ("T003", moment(lab.t + 900))]
    assert inside[0]["door"].endswith("-1")


def test_presence_at_an_earlier_moment(lab: Lab) -> None:
    report = reports.area_presence_report(lab.area, moment(lab.t + 300))

    assert [p["cardholder"] for p in report.rows()] == ["T001", "T002", "T003"]


def sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content))
    return [tuple(row) for row in book.active.iter_rows(values_only=True)]


@pytest.mark.parametrize(("language", "title", "headers"), [
    ("en", "Entries to the area",
     ("Time", "Cardholder number", "Holder name", "Card number", "Door id", "Door name",
      "Direction")),
    ("zh-hans", "进入区域记录",
     ("时间", "持卡人编号", "姓名", "卡号", "门编号", "门名称", "方向")),
])
def test_the_entries_spreadsheet_speaks_the_readers_language(
        lab: Lab, language: str, title: str, headers: tuple[str, ...]) -> None:
    with translation.override(language):
        report = reports.area_entries_report(lab.area, moment(lab.t), moment(lab.t + 901))
        rows = sheet_rows(reports.entries_xlsx(report))

    assert rows[0][0] == title
    body = rows[rows.index(headers) + 1:]
    assert len(body) == 5
    assert body[0][:4] == (timezone.localtime(moment(lab.t)).strftime("%Y-%m-%d %H:%M:%S"),
                           "T001", "Test Holder", lab.people["Li"].card_no)


@pytest.mark.parametrize(("language", "headers"), [
    ("en", ("Cardholder number", "Holder name", "Card number", "Inside since",
            "Entered by door", "Door name")),
    ("zh-hans", ("持卡人编号", "姓名", "卡号", "进入时间", "进入门", "门名称")),
])
def test_the_muster_spreadsheet_lists_who_is_inside(lab: Lab, language: str,
                                                     headers: tuple[str, ...]) -> None:
    with translation.override(language):
        rows = sheet_rows(reports.presence_xlsx(reports.area_presence_report(lab.area)))

    at = rows.index(headers)
    assert [r[0] for r in rows[at + 1:]] == ["T001", "T003"]
