"""A day at the card office counter, in the console (Django admin)."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client

from accounts.models import (
    AuditEvent,
    Card,
    Cardholder,
    CardStatus,
    LedgerAccount,
    LoadStatus,
    OrgUnit,
    PendingLoad,
)
from accounts.selectors import card_balances, ledger_check, purse_balances
from accounts.services import (
    card_report_loss,
    card_top_up,
    org_unit_ensure,
    subsidy_batch_create,
)
from tests.factories import StaffFactory, make_card, make_cardholder

PASSWORD = "pw-staff-123"  # what StaffFactory sets



@pytest.fixture
def desk(db, clerk) -> Client:
    """The clerk, logged in to the console with the card office's permissions."""
    call_command("create_role_groups", stdout=io.StringIO())
    clerk.is_staff = True
    clerk.save()
    client = Client()
    assert client.login(username=clerk.username, password=PASSWORD)
    return client


def console_user(role: str) -> Client:
    call_command("create_role_groups", stdout=io.StringIO())
    user = StaffFactory(role=role, is_staff=True)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def op_url(card: Card, slug: str) -> str:
    return f"/admin/accounts/card/{card.pk}/do/{slug}/"


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_clerk_finds_a_cardholder_by_number_and_a_card_by_its_uid(desk, clerk):
    zhang = make_cardholder(by=clerk, number="S2026001", name="张伟")
    make_cardholder(by=clerk, number="S2026002", name="李娜")
    card = make_card(by=clerk, cardholder=zhang, uid="04a1b2c3")

    found = desk.get("/admin/accounts/cardholder/", {"q": "S2026001"})
    assert found.status_code == 200
    assert "张伟" in found.text and "李娜" not in found.text

    by_card_uid = desk.get("/admin/accounts/cardholder/", {"q": "04A1B2C3"})
    assert "张伟" in by_card_uid.text and "李娜" not in by_card_uid.text

    cards = desk.get("/admin/accounts/card/", {"q": "04A1B2C3"})
    assert card.card_no in cards.text
    assert list(cards.context["cl"].result_list) == [card]


def test_clerk_sees_a_cards_balances_and_the_buttons_that_fit_its_status(desk, clerk):
    card = make_card(by=clerk, deposit=2000)

    page = desk.get(f"/admin/accounts/card/{card.pk}/change/")

    assert page.status_code == 200
    assert "¥20.00" in page.text  # the deposit
    assert op_url(card, "report-loss") in page.text
    assert op_url(card, "top-up") in page.text
    assert op_url(card, "unlock") not in page.text  # an active card is not locked
    assert 'name="_save"' not in page.text  # nothing is edited in place


def test_clerk_reports_a_card_lost_from_its_page(desk, clerk):
    card = make_card(by=clerk)

    response = desk.post(op_url(card, "report-loss"))

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == CardStatus.LOST
    assert card.blacklisted
    event = AuditEvent.objects.get(action="card.report_loss")
    assert (event.actor, event.channel) == (clerk, "admin")


def test_clerk_takes_cash_for_a_top_up(desk, clerk):
    card = make_card(by=clerk)

    response = desk.post(op_url(card, "top-up"), {
        "amount": "50.00", "purse": "main", "method": "cash", "reference": "R-1"})

    assert response.status_code == 302
    assert card_balances(card)["main"] == {"account": 5000, "card": 0, "pending": 5000}
    assert "¥50.00" in shown_messages(response)[0]
    drawer = LedgerAccount.objects.get(code=f"cash_drawer:{clerk.pk}")
    assert drawer.balance == -5000


def test_clerk_replaces_a_lost_card_and_the_money_follows(desk, clerk):
    card = make_card(by=clerk, deposit=2000)
    desk.post(op_url(card, "top-up"), {"amount": "30", "purse": "main", "method": "cash"})
    desk.post(op_url(card, "report-loss"))

    response = desk.post(op_url(card, "replace"), {"uid": "0A0B0C0D"})

    card.refresh_from_db()
    new = card.replaced_by
    assert new is not None
    assert card.status == CardStatus.REPLACED
    assert response["Location"] == f"/admin/accounts/card/{new.pk}/change/"
    assert (new.uid, new.status, new.deposit) == ("0a0b0c0d", CardStatus.ACTIVE, 2000)
    assert card_balances(new)["main"] == {"account": 3000, "card": 0, "pending": 3000}
    assert ledger_check() == []


def test_clerk_cancels_a_card_and_sees_the_refund(desk, clerk):
    card = make_card(by=clerk, deposit=2000)
    desk.post(op_url(card, "top-up"), {"amount": "50", "purse": "main", "method": "cash"})

    response = desk.post(op_url(card, "cancel"), {"refund_method": "cash"})

    card.refresh_from_db()
    assert card.status == CardStatus.CANCELLED
    assert purse_balances(card.cardholder)["main"] == 0
    message = shown_messages(response)[-1]
    assert "¥50.00" in message and "¥20.00" in message and "= ¥70.00" in message
    assert PendingLoad.objects.get(card=card).status == LoadStatus.VOIDED
    assert ledger_check() == []


def test_clerk_freezes_with_a_reason_and_unfreezes(desk, clerk):
    card = make_card(by=clerk)

    without_reason = desk.post(op_url(card, "freeze"), {"reason": ""})
    assert without_reason.status_code == 200  # the form again, with its error
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE

    desk.post(op_url(card, "freeze"), {"reason": "disciplinary hold"})
    card.refresh_from_db()
    assert card.status == CardStatus.FROZEN
    frozen = AuditEvent.objects.get(action="card.freeze").after
    assert frozen is not None and frozen["reason"] == "disciplinary hold"

    desk.post(op_url(card, "unfreeze"), {"reason": ""})
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_a_refused_operation_shows_a_message_not_a_server_error(desk, clerk):
    card = make_card(by=clerk)

    response = desk.post(op_url(card, "unlock"), follow=True)

    assert response.status_code == 200
    assert any("cannot be unlocked" in m for m in shown_messages(response))
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


def test_a_top_up_beyond_the_purse_limit_is_refused_with_a_message(desk, clerk, settings):
    settings.ONECARD_MAX_BALANCE = 10_000
    card = make_card(by=clerk)

    response = desk.post(op_url(card, "top-up"),
                         {"amount": "100.01", "purse": "main", "method": "cash"})

    assert response.status_code == 200
    assert shown_messages(response)
    assert purse_balances(card.cardholder)["main"] == 0


def test_clerk_reports_several_cards_lost_from_the_list(desk, clerk):
    cards = [make_card(by=clerk) for _ in range(2)]
    desk.post(op_url(cards[1], "report-loss"))

    response = desk.post("/admin/accounts/card/", {
        "action": "report_loss_selected", "_selected_action": [c.pk for c in cards]})

    assert response.status_code == 302
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in cards])} == {"lost"}
    texts = shown_messages(response)
    assert any("1 card reported lost" in t for t in texts)
    assert any(cards[1].card_no in t for t in texts)  # the one already lost is named


def test_clerk_freezes_several_cards_after_giving_a_reason(desk, clerk):
    cards = [make_card(by=clerk) for _ in range(2)]
    selected = {"action": "freeze_selected", "_selected_action": [c.pk for c in cards]}

    asked = desk.post("/admin/accounts/card/", selected)
    assert asked.status_code == 200 and 'name="reason"' in asked.text

    desk.post("/admin/accounts/card/", {**selected, "apply": "yes", "reason": "audit"})
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in cards])} == {"frozen"}


def test_clerk_adds_a_cardholder_and_issues_a_card_from_their_page(desk, clerk):
    response = desk.post("/admin/accounts/cardholder/add/", {
        "number": "S2026050", "name": "陈晨", "kind": "student", "org_unit": "",
        "valid_until": "2030-07-01", "phone": "", "email": "",
        "cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302
    holder = Cardholder.objects.get(number="S2026050")
    assert AuditEvent.objects.get(action="cardholder.create").channel == "admin"
    assert LedgerAccount.objects.filter(cardholder=holder).count() == 2  # purses made too

    page = desk.get(f"/admin/accounts/cardholder/{holder.pk}/change/")
    issue_url = f"/admin/accounts/cardholder/{holder.pk}/do/issue-card/"
    assert issue_url in page.text
    desk.post(issue_url, {"uid": "04A1B2C3D4", "deposit": "20.00"})

    card = holder.cards.get()
    assert (card.uid, card.deposit, card.status) == ("04a1b2c3d4", 2000, CardStatus.ACTIVE)
    again = desk.post(issue_url, {"uid": "04a1b2c3d5", "deposit": "20.00"})
    assert again.status_code == 200
    assert any("already has a card" in m for m in shown_messages(again))


def test_clerk_corrects_a_cardholder_through_the_service(desk, clerk):
    holder = make_cardholder(by=clerk, number="S2026060", name="刘洋")

    response = desk.post(f"/admin/accounts/cardholder/{holder.pk}/change/", {
        "name": "刘阳", "kind": "student", "org_unit": holder.org_unit_id, "status": "active",
        "valid_until": "", "phone": "13800000000", "email": "",
        "cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0",
    })

    assert response.status_code == 302
    holder.refresh_from_db()
    assert (holder.name, holder.phone) == ("刘阳", "13800000000")
    event = AuditEvent.objects.get(action="cardholder.update")
    assert event.channel == "admin"
    assert event.before and event.before["name"] == "刘洋"
    assert event.after and event.after["name"] == "刘阳"


def test_a_duplicate_number_is_a_form_error(desk, clerk):
    make_cardholder(by=clerk, number="S2026070")

    response = desk.post("/admin/accounts/cardholder/add/", {
        "number": "S2026070", "name": "X", "kind": "student",
        "cards-TOTAL_FORMS": "0", "cards-INITIAL_FORMS": "0",
    })

    assert response.status_code == 200
    assert Cardholder.objects.filter(number="S2026070").count() == 1


def test_a_card_cannot_be_edited_or_deleted_in_place(desk, clerk):
    card = make_card(by=clerk)

    assert desk.post(f"/admin/accounts/card/{card.pk}/change/",
                     {"status": "cancelled"}).status_code == 403
    assert desk.get(f"/admin/accounts/card/{card.pk}/delete/").status_code == 403
    assert desk.get("/admin/accounts/card/add/").status_code == 403


def test_finance_may_look_at_cards_but_not_act_on_them(db, clerk):
    card = make_card(by=clerk)
    finance = console_user("finance")

    assert finance.get(f"/admin/accounts/card/{card.pk}/change/").status_code == 200
    assert finance.post(op_url(card, "report-loss")).status_code == 403
    card.refresh_from_db()
    assert card.status == CardStatus.ACTIVE


@pytest.mark.parametrize("model", [
    "ledgeraccount", "posting", "entry", "auditevent", "blacklistversion", "pendingload",
    "subsidybatch", "storedkey",
])
def test_ledger_and_audit_records_are_read_only(db, clerk, purse_key, model):
    card = make_card(by=clerk, deposit=2000)
    card_top_up(card=card, amount=1000, method="cash", by=clerk)
    subsidy_batch_create(name="meal subsidy", purse="subsidy", by=clerk,
                         entries=[{"cardholder": card.cardholder.number, "amount": 500}])
    card_report_loss(card=card, by=clerk)
    auditor = console_user("auditor")

    listing = auditor.get(f"/admin/accounts/{model}/")
    assert listing.status_code == 200
    assert f"/admin/accounts/{model}/add/" not in listing.text
    assert auditor.get(f"/admin/accounts/{model}/add/").status_code == 403
    first = listing.context["cl"].result_list[0]
    assert auditor.get(f"/admin/accounts/{model}/{first.pk}/delete/").status_code == 403
    detail = auditor.get(f"/admin/accounts/{model}/{first.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text


def test_the_key_store_page_never_shows_the_wrapped_key(db, purse_key):
    admin_client = console_user("admin")

    page = admin_client.get(f"/admin/accounts/storedkey/{purse_key.pk}/change/")

    assert page.status_code == 200
    assert "wrapped" not in page.text.lower()
    assert bytes(purse_key.wrapped).hex() not in page.text


def test_the_console_says_whose_it_is(desk):
    assert "OneCard 一卡通" in desk.get("/admin/").text


def test_clerk_moves_a_department_under_a_faculty_through_the_service(desk, clerk):
    science = org_unit_ensure(code="SCI", name="Faculty of Science", kind="school", by=clerk)
    response = desk.post("/admin/accounts/orgunit/add/", {
        "code": "PHY", "name": "Physics", "kind": "department", "parent": ""})
    assert response.status_code == 302
    physics = OrgUnit.objects.get(code="PHY")

    response = desk.post(f"/admin/accounts/orgunit/{physics.pk}/change/", {
        "name": "Physics", "parent": science.pk})

    assert response.status_code == 302
    physics.refresh_from_db()
    assert physics.parent == science
    assert AuditEvent.objects.get(action="org_unit.update").channel == "admin"

    refused = desk.post(f"/admin/accounts/orgunit/{science.pk}/change/", {
        "name": "Faculty of Science", "parent": physics.pk}, follow=True)
    science.refresh_from_db()
    assert science.parent is None
    assert any("cannot be placed under" in m for m in shown_messages(refused))
