"""The card office registers, finds, changes and imports cardholders over the API."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent, Cardholder
from tests.accounts.api.conftest import client_for, code_of
from tests.factories import make_card, make_cardholder

pytestmark = pytest.mark.django_db

NEW_HOLDER = {"number": "S2026100", "name": "Li Si", "kind": "student", "department": "CS"}


def test_clerk_registers_a_student_and_gets_the_cardholder_back(desk: Any, clerk: Any) -> None:
    response = desk.post("/api/v1/cardholders", {**NEW_HOLDER, "valid_until": "2030-07-01",
                                                 "phone": "13800000000", "email": "li@example.edu"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["number"] == "S2026100"
    assert body["name"] == "Li Si"
    assert body["kind"] == "student"
    assert body["department"] == "CS"
    assert body["valid_until"] == "2030-07-01"
    assert body["status"] == "active"
    assert body["cards"] == []
    assert body["balances"] == {"main": 0, "subsidy": 0}
    assert AuditEvent.objects.get(action="cardholder.create", subject_id="S2026100").actor == clerk


def test_registering_the_same_number_twice_answers_duplicate_number(desk: Any) -> None:
    assert desk.post("/api/v1/cardholders", NEW_HOLDER).status_code == 201

    again = desk.post("/api/v1/cardholders", {**NEW_HOLDER, "name": "Someone Else"})

    assert again.status_code == 409
    assert code_of(again) == "duplicate_number"
    assert Cardholder.objects.get(number="S2026100").name == "Li Si"


def test_a_holder_registered_with_a_password_can_log_in_to_the_portal(desk: Any) -> None:
    desk.post("/api/v1/cardholders", {**NEW_HOLDER, "password": "first-pw-123"})

    login = client_for().post("/api/v1/me/login", {"number": "S2026100",
                                                   "password": "first-pw-123"})

    assert login.status_code == 200
    assert login.json()["token"]


@pytest.mark.parametrize("change", [
    {"kind": "teacher"}, {"number": "has space"}, {"email": "not-an-email"},
    {"valid_until": "31/12/2030"}, {"password": "short"}, {"name": ""},
    {"number": "S" * 33},
])
def test_a_bad_registration_is_refused_field_by_field(desk: Any, change: dict[str, Any]) -> None:
    response = desk.post("/api/v1/cardholders", {**NEW_HOLDER, **change})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    assert set(response.json()["error"]["fields"]) == set(change)
    assert not Cardholder.objects.filter(name="Li Si").exists()


def test_clerk_searches_cardholders_by_number_or_name_and_filters_them(clerk: Any,
                                                                       desk: Any) -> None:
    make_cardholder(by=clerk, number="S2026001", name="Zhang San", department="CS")
    make_cardholder(by=clerk, number="S2026002", name="Wang Wu", department="EE")
    make_cardholder(by=clerk, number="T0001", name="Zhang Laoshi", kind="staff",
                    department="CS")

    def numbers(query: str) -> list[str]:
        response = desk.get(f"/api/v1/cardholders{query}")
        assert response.status_code == 200, response.json()
        return [h["number"] for h in response.json()["results"]]

    assert numbers("") == ["S2026001", "S2026002", "T0001"]
    assert numbers("?q=zhang") == ["S2026001", "T0001"]
    assert numbers("?q=2026002") == ["S2026002"]
    assert numbers("?kind=staff") == ["T0001"]
    assert numbers("?department=CS&kind=student") == ["S2026001"]
    assert numbers("?status=left") == []
    assert desk.get("/api/v1/cardholders?page_size=2").json()["count"] == 3
    assert len(desk.get("/api/v1/cardholders?page_size=2").json()["results"]) == 2


def test_an_unknown_filter_value_answers_invalid_request(desk: Any) -> None:
    response = desk.get("/api/v1/cardholders?kind=alien")

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"


def test_clerk_opens_a_cardholder_and_sees_their_cards(clerk: Any, desk: Any) -> None:
    holder = make_cardholder(by=clerk, number="S2026001")
    card = make_card(by=clerk, cardholder=holder)

    response = desk.get("/api/v1/cardholders/S2026001")

    assert response.status_code == 200
    assert [c["card_no"] for c in response.json()["cards"]] == [card.card_no]
    assert response.json()["cards"][0]["status"] == "active"


def test_opening_an_unknown_cardholder_answers_404(desk: Any) -> None:
    response = desk.get("/api/v1/cardholders/NOBODY")

    assert response.status_code == 404
    assert code_of(response) == "not_found"


def test_clerk_corrects_a_cardholder_and_the_change_is_audited(clerk: Any, desk: Any) -> None:
    make_cardholder(by=clerk, number="S2026001", name="Zhang San", department="CS")

    response = desk.patch("/api/v1/cardholders/S2026001",
                          {"name": "Zhang Sanfeng", "department": "EE", "status": "suspended"})

    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "Zhang Sanfeng"
    assert response.json()["department"] == "EE"
    assert response.json()["status"] == "suspended"
    event = AuditEvent.objects.get(action="cardholder.update", subject_id="S2026001")
    assert event.actor == clerk
    assert (event.before or {})["name"] == "Zhang San"


def test_a_change_with_a_field_that_cannot_change_is_refused(clerk: Any, desk: Any) -> None:
    make_cardholder(by=clerk, number="S2026001", name="Zhang San")

    response = desk.patch("/api/v1/cardholders/S2026001", {"number": "S9999999"})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
    assert Cardholder.objects.filter(number="S2026001").exists()


def csv_upload(text: str, name: str = "holders.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_clerk_imports_a_csv_of_new_students(desk: Any) -> None:
    upload = csv_upload("number,name,kind,department\n"
                        "S3001,Chen Yi,student,CS\nS3002,Chen Er,student,EE\n")

    response = desk.post("/api/v1/cardholders/import", {"file": upload}, format="multipart")

    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert Cardholder.objects.filter(number="S3002", org_unit__code="EE").exists()


def test_an_import_retried_with_its_idempotency_key_answers_as_the_first_time(desk: Any) -> None:
    text = "number,name,kind,department\nS3101,Lin Yi,student,CS\n"

    def send(body: str) -> Any:
        return desk.post("/api/v1/cardholders/import", {"file": csv_upload(body)},
                         format="multipart", HTTP_IDEMPOTENCY_KEY="import-2026-09")

    first, again = send(text), send(text)
    other_file = send(text.replace("Lin Yi", "Lin Er"))

    assert first.json() == again.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert code_of(other_file) == "idempotency_key_reused"
    assert Cardholder.objects.get(number="S3101").name == "Lin Yi"
    assert AuditEvent.objects.filter(action__startswith="cardholder.import").count() == 1


def test_clerk_imports_an_xlsx_that_updates_one_holder_and_adds_another(clerk: Any,
                                                                        desk: Any) -> None:
    make_cardholder(by=clerk, number="S3001", name="Old Name", department="CS")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["学号", "姓名", "类别", "部门"])
    sheet.append(["S3001", "New Name", "student", "CS"])
    sheet.append(["S3003", "Chen San", "visitor", ""])
    data = io.BytesIO()
    workbook.save(data)
    upload = SimpleUploadedFile("holders.xlsx", data.getvalue())

    response = desk.post("/api/v1/cardholders/import", {"file": upload}, format="multipart")

    assert response.status_code == 200, response.json()
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 0}
    assert Cardholder.objects.get(number="S3001").name == "New Name"


def test_an_import_with_bad_lines_names_them_and_imports_nothing(desk: Any) -> None:
    upload = csv_upload("number,name,kind\nS3001,Chen Yi,student\nS3002,,student\n"
                        "S3003,Chen San,alien\n")

    response = desk.post("/api/v1/cardholders/import", {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert code_of(response) == "import_failed"
    assert [e["line"] for e in response.json()["error"]["errors"]] == [3, 4]
    assert not Cardholder.objects.filter(number__startswith="S300").exists()


def test_an_import_without_a_file_or_with_a_pdf_is_refused(desk: Any) -> None:
    no_file = desk.post("/api/v1/cardholders/import", {}, format="multipart")
    pdf = desk.post("/api/v1/cardholders/import",
                    {"file": SimpleUploadedFile("x.pdf", b"%PDF-1.4")}, format="multipart")

    assert (no_file.status_code, code_of(no_file)) == (400, "invalid_request")
    assert (pdf.status_code, code_of(pdf)) == (400, "invalid_request")


def test_clerk_sets_a_portal_password_and_the_holder_logs_in_with_it(clerk: Any,
                                                                     desk: Any) -> None:
    make_cardholder(by=clerk, number="S2026001")

    response = desk.post("/api/v1/cardholders/S2026001/password", {"password": "new-pw-2026"})

    assert response.status_code == 204
    login = client_for().post("/api/v1/me/login", {"number": "S2026001",
                                                   "password": "new-pw-2026"})
    assert login.status_code == 200
    assert AuditEvent.objects.filter(action="cardholder.set_password",
                                     subject_id="S2026001", actor=clerk).exists()


def test_a_too_short_portal_password_is_refused(clerk: Any, desk: Any) -> None:
    make_cardholder(by=clerk, number="S2026001")

    response = desk.post("/api/v1/cardholders/S2026001/password", {"password": "1234"})

    assert response.status_code == 400
    assert code_of(response) == "invalid_request"
