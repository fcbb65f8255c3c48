"""The card office console (Django admin).

Every change goes through `accounts.services`, exactly as the API does: the admin only
collects the clerk's input, calls the service, and turns a `DomainError` into an error
message. Money, status and ledger data are read-only here; the ledger, the audit trail,
the blacklist history and the key store cannot be added to, edited or deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts import selectors, services
from accounts.models import (
    CARD_TRANSITIONS,
    LIVE_STATUSES,
    LOADABLE_STATUSES,
    AuditEvent,
    BlacklistVersion,
    Card,
    Cardholder,
    CardStatus,
    Entry,
    LedgerAccount,
    Merchant,
    OrgUnit,
    PendingLoad,
    Posting,
    Purse,
    StoredKey,
    SubsidyBatch,
    TopUpMethod,
)
from core.admin import ReadOnlyAdmin, ReadOnlyTabularInline
from core.errors import DomainError

CHANNEL = "admin"

admin.site.site_header = "OneCard 一卡通"
admin.site.site_title = "OneCard 一卡通"
admin.site.index_title = gettext_lazy("Card office console")


def yuan(fen: int | None) -> str:
    """Fen as yuan for people: 123456 -> ¥1,234.56."""
    if fen is None:
        return "-"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def _fen(amount: Decimal) -> int:
    return int(amount * 100)


def balances_table(card: Card) -> SafeString:
    rows = selectors.card_balances(card)
    return format_html(
        '<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        _("Purse"), _("Account"), _("On card"), _("Pending"),
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (Purse(purse).label, yuan(b["account"]), yuan(b["card"]), yuan(b["pending"]))
            for purse, b in rows.items()
        )),
    )


# --- Forms of the operations ------------------------------------------------------------


class YuanField(forms.DecimalField):
    def __init__(self, *, minimum: str = "0.01", **kwargs: Any) -> None:
        super().__init__(min_value=Decimal(minimum), max_digits=12, decimal_places=2, **kwargs)


class TopUpForm(forms.Form):
    amount = YuanField(label=gettext_lazy("Amount (yuan)"))
    purse = forms.ChoiceField(label=gettext_lazy("Purse"), choices=Purse.choices,
                              initial=Purse.MAIN)
    method = forms.ChoiceField(label=gettext_lazy("Payment method"), choices=TopUpMethod.choices,
                               initial=TopUpMethod.CASH)
    reference = forms.CharField(label=gettext_lazy("Reference"), max_length=128, required=False,
                                help_text=gettext_lazy("Receipt or bank reference, if any."))


class FreezeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


class UnfreezeForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200, required=False)


class ReplaceForm(forms.Form):
    uid = forms.CharField(label=gettext_lazy("UID of the new card"), max_length=20,
                          help_text=gettext_lazy("4 to 10 bytes in hex, as the reader shows it."))


class CancelForm(forms.Form):
    refund_method = forms.ChoiceField(
        label=gettext_lazy("Refund method"),
        choices=[(TopUpMethod.CASH, TopUpMethod.CASH.label),
                 (TopUpMethod.BANK, TopUpMethod.BANK.label)],
        initial=TopUpMethod.CASH,
    )


class IssueCardForm(forms.Form):
    uid = forms.CharField(label=gettext_lazy("Card UID"), max_length=20,
                          help_text=gettext_lazy("4 to 10 bytes in hex, as the reader shows it."))
    deposit = YuanField(label=gettext_lazy("Deposit (yuan, paid in cash)"), minimum="0",
                        initial=Decimal("20.00"))


class PortalPasswordForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("New portal password"), min_length=8,
                               max_length=128, widget=forms.PasswordInput)


# --- Operations: one service call each, from a button on the object's page -----------


Outcome = tuple[str, models.Model]  # the success message and the object to show next


@dataclass(frozen=True)
class Operation:
    slug: str
    label: Any
    permission: str
    run: Callable[[Any, Any, dict[str, Any]], Outcome]
    form_class: type[forms.Form] | None = None
    applies: Callable[[Any], bool] = lambda obj: True


def _transition(to: str, action: str) -> Callable[[Card], bool]:
    return lambda card: CARD_TRANSITIONS.get((card.status, to)) == action


def _report_loss(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    card = services.card_report_loss(card=card, by=by, channel=CHANNEL)
    return _("Card %(c)s is reported lost and blacklisted.") % {"c": card.card_no}, card


def _unlock(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    card = services.card_unlock(card=card, by=by, channel=CHANNEL)
    return _("Card %(c)s is unlocked and active again.") % {"c": card.card_no}, card


def _freeze(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    card = services.card_freeze(card=card, reason=data["reason"], by=by, channel=CHANNEL)
    return _("Card %(c)s is frozen.") % {"c": card.card_no}, card


def _unfreeze(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    card = services.card_unfreeze(card=card, reason=data.get("reason", ""), by=by,
                                  channel=CHANNEL)
    return _("Card %(c)s is active again.") % {"c": card.card_no}, card


def _top_up(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    load = services.card_top_up(
        card=card, amount=_fen(data["amount"]), purse=data["purse"], method=data["method"],
        reference=data["reference"], by=by, channel=CHANNEL,
    )
    return _("%(amount)s added to the %(purse)s of card %(c)s; it reaches the card at its "
             "next tap on a terminal (load %(load)s).") % {
        "amount": yuan(load.amount), "purse": Purse(load.purse).label, "c": card.card_no,
        "load": load.load_id,
    }, card


def _replace(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    new = services.card_replace(card=card, uid=data["uid"], by=by, channel=CHANNEL)
    return _("Card %(old)s is replaced by card %(new)s; its balance follows as pending "
             "loads.") % {"old": card.card_no, "new": new.card_no}, new


def _cancel(card: Card, by: Any, data: dict[str, Any]) -> Outcome:
    refund = services.card_cancel(card=card, refund_method=data["refund_method"], by=by,
                                  channel=CHANNEL)
    message = _("Card %(c)s is cancelled. Refund (%(method)s): main %(main)s + subsidy "
                "%(subsidy)s + deposit %(deposit)s - fee %(fee)s = %(total)s.") % {
        "c": refund.card_no, "method": TopUpMethod(refund.refund_method).label,
        "main": yuan(refund.main), "subsidy": yuan(refund.subsidy),
        "deposit": yuan(refund.deposit), "fee": yuan(refund.fee), "total": yuan(refund.total),
    }
    if refund.subsidy_recovered:
        message += " " + _("%(s)s of subsidy returned to the subsidy fund.") % {
            "s": yuan(refund.subsidy_recovered)}
    if refund.voided_loads:
        voided = len(refund.voided_loads)
        message += " " + ngettext(
            "%(n)d pending load voided.", "%(n)d pending loads voided.", voided
        ) % {"n": voided}
    return message, Card.objects.get(pk=card.pk)


def _issue_card(holder: Cardholder, by: Any, data: dict[str, Any]) -> Outcome:
    card = services.card_issue(cardholder=holder, uid=data["uid"], deposit=_fen(data["deposit"]),
                               by=by, channel=CHANNEL)
    return _("Card %(c)s issued to %(h)s.") % {"c": card.card_no, "h": holder}, card


def _portal_password(holder: Cardholder, by: Any, data: dict[str, Any]) -> Outcome:
    services.cardholder_set_password(cardholder=holder, password=data["password"], by=by,
                                     channel=CHANNEL)
    return _("The portal password of %(h)s is set.") % {"h": holder}, holder


CHANGE_CARD = "accounts.change_card"
CARD_OPERATIONS = (
    Operation("report-loss", gettext_lazy("Report loss"), CHANGE_CARD, _report_loss,
              applies=_transition(CardStatus.LOST, "report_loss")),
    Operation("unlock", gettext_lazy("Unlock"), CHANGE_CARD, _unlock,
              applies=_transition(CardStatus.ACTIVE, "unlock")),
    Operation("freeze", gettext_lazy("Freeze"), CHANGE_CARD, _freeze, FreezeForm,
              applies=_transition(CardStatus.FROZEN, "freeze")),
    Operation("unfreeze", gettext_lazy("Unfreeze"), CHANGE_CARD, _unfreeze, UnfreezeForm,
              applies=_transition(CardStatus.ACTIVE, "unfreeze")),
    Operation("top-up", gettext_lazy("Top up"), CHANGE_CARD, _top_up, TopUpForm,
              applies=lambda card: card.status in LOADABLE_STATUSES),
    Operation("replace", gettext_lazy("Replace"), CHANGE_CARD, _replace, ReplaceForm,
              applies=_transition(CardStatus.REPLACED, "replace")),
    Operation("cancel", gettext_lazy("Cancel and refund"), CHANGE_CARD, _cancel, CancelForm,
              applies=_transition(CardStatus.CANCELLED, "cancel")),
)
HOLDER_OPERATIONS = (
    Operation("issue-card", gettext_lazy("Issue a card"), "accounts.add_card", _issue_card,
              IssueCardForm, applies=lambda h: not h.cards.filter(status__in=LIVE_STATUSES)
              .exists()),
    Operation("portal-password", gettext_lazy("Set portal password"),
              "accounts.change_cardholder", _portal_password, PortalPasswordForm),
)


class OperationsAdmin(admin.ModelAdmin):
    """Adds `<pk>/do/<slug>/` pages running one `Operation` each, and their buttons."""

    operations: Sequence[Operation] = ()
    change_form_template = "admin/onecard/change_form.html"

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_operation"
        view = self.admin_site.admin_view(self.operation_view)
        return [path("<path:object_id>/do/<slug:slug>/", view, name=name), *super().get_urls()]

    def operation_url(self, obj: models.Model, slug: str) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_operation",
                       args=[quote(obj.pk), slug], current_app=self.admin_site.name)

    def operation_summary(self, obj: Any) -> SafeString:
        return format_html("{}", obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        buttons = [
            {"url": self.operation_url(obj, op.slug), "label": op.label}
            for op in self.operations
            if obj is not None and request.user.has_perm(op.permission) and op.applies(obj)
        ]
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "operations": buttons})

    def operation_view(self, request: HttpRequest, object_id: str, slug: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        op = next((o for o in self.operations if o.slug == slug), None)
        if obj is None or op is None:
            raise Http404
        if not request.user.has_perm(op.permission):
            raise PermissionDenied
        form = op.form_class(request.POST or None) if op.form_class else None
        if request.method == "POST" and (form is None or form.is_valid()):
            try:
                message, shown = op.run(obj, request.user, form.cleaned_data if form else {})
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                if form is None:
                    return HttpResponseRedirect(_change_url(obj))
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(_change_url(shown))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj,
            "title": f"{op.label}: {obj}", "form": form, "operation": op,
            "summary": self.operation_summary(obj), "back_url": _change_url(obj),
            "media": self.media + (form.media if form else forms.Media()),
        }
        return TemplateResponse(request, "admin/onecard/operation.html", context)


class RefusalsShown(admin.ModelAdmin):
    """A form page whose save a service refused (a number taken between the form check and
    the save, a unit moved under itself): the refusal is shown to the officer and nothing
    is kept (the admin's transaction rolls back)."""

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None,
                        ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


def _change_url(obj: models.Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])


# --- Cardholders ---------------------------------------------------------------------


class CardInline(ReadOnlyTabularInline):
    model = Card
    fk_name = "cardholder"
    # Each row is headed by the card number, linked to the card (show_change_link).
    fields = ("uid", "status", "blacklisted", "deposit_yuan", "balances", "issued_at")
    readonly_fields = fields
    show_change_link = True
    ordering = ("-issued_at",)

    @admin.display(description=gettext_lazy("deposit"))
    def deposit_yuan(self, card: Card) -> str:
        return yuan(card.deposit)

    @admin.display(description=gettext_lazy("balances"))
    def balances(self, card: Card) -> SafeString:
        return balances_table(card)


HOLDER_FIELDS = ("number", "name", "kind", "org_unit", "valid_until", "phone", "email")


@admin.register(Cardholder)
class CardholderAdmin(RefusalsShown, OperationsAdmin):
    operations = HOLDER_OPERATIONS
    list_display = ("number", "name", "kind", "org_unit", "status", "live_card")
    list_filter = ("kind", "status", "org_unit")
    search_fields = ("number", "name", "cards__card_no", "cards__uid")
    inlines = (CardInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cardholder]:
        live = Card.objects.filter(status__in=LIVE_STATUSES)
        return super().get_queryset(request).select_related("org_unit").prefetch_related(
            Prefetch("cards", queryset=live, to_attr="live_cards"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return HOLDER_FIELDS
        return (*HOLDER_FIELDS, "status", "portal_login", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("number", "portal_login", "created_at", "updated_at") if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("card in use"))
    def live_card(self, holder: Cardholder) -> str:
        cards = getattr(holder, "live_cards", None) or []
        return ", ".join(f"{c.card_no} ({c.get_status_display()})" for c in cards) or "-"

    @admin.display(description=gettext_lazy("portal login"), boolean=True)
    def portal_login(self, holder: Cardholder) -> bool:
        return bool(holder.user and holder.user.has_usable_password())

    def save_model(self, request: HttpRequest, obj: Cardholder, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        department = data["org_unit"].code if data.get("org_unit") else None
        if not change:
            holder = services.cardholder_create(
                number=data["number"], name=data["name"], kind=data["kind"],
                department=department, valid_until=data["valid_until"], phone=data["phone"],
                email=data["email"], by=request.user, channel=CHANNEL,
            )
            obj.pk, obj.user_id = holder.pk, holder.user_id
            obj._state.adding = False
            return
        changes = {}
        for name in form.changed_data:
            if name == "org_unit":
                changes["department"] = department
            else:
                changes[name] = data[name]
        if changes:
            services.cardholder_update(cardholder=obj, by=request.user, channel=CHANNEL,
                                       **changes)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """The cards inline is read-only: cards change only through their operations."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


    def operation_summary(self, holder: Cardholder) -> SafeString:
        return format_html("<p>{} · {} · {}</p>", holder, holder.get_kind_display(),
                           holder.org_unit or "-")


# --- Cards ---------------------------------------------------------------------------


class BulkReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)


@admin.register(Card)
class CardAdmin(OperationsAdmin):
    operations = CARD_OPERATIONS
    list_display = ("card_no", "uid", "cardholder", "status", "blacklisted", "deposit_yuan",
                    "key_version", "issued_at")
    list_filter = ("status", "blacklisted")
    list_select_related = ("cardholder",)
    search_fields = ("card_no", "uid", "cardholder__number", "cardholder__name")
    fields = ("card_no", "uid", "cardholder", "status", "blacklisted", "suspected_clone",
              "deposit_yuan", "balances", "key_version", "card_seq", "replaced_by",
              "replaces_card", "issued_at", "closed_at")
    readonly_fields = fields
    actions = ("report_loss_selected", "unlock_selected", "freeze_selected",
               "unfreeze_selected")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # cards are issued from the cardholder's page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing is edited in place; operations change cards

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CHANGE_CARD)

    @admin.display(description=gettext_lazy("deposit"))
    def deposit_yuan(self, card: Card) -> str:
        return yuan(card.deposit)

    @admin.display(description=gettext_lazy("balances"))
    def balances(self, card: Card) -> SafeString:
        return balances_table(card)

    @admin.display(description=gettext_lazy("replaces"))
    def replaces_card(self, card: Card) -> Any:
        old = Card.objects.filter(replaced_by=card).first()
        return format_html('<a href="{}">{}</a>', _change_url(old), old) if old else "-"

    def operation_summary(self, card: Card) -> SafeString:
        return format_html("<p>{} · {} · {}</p>{}", card, card.cardholder,
                           card.get_status_display(), balances_table(card))

    def _each(self, request: HttpRequest, queryset: QuerySet[Card],
              run: Callable[[Card], Any], done: Callable[[int], str]) -> None:
        """Run one service per card; `done(n)` is the (plural-aware) success message."""
        succeeded, failed = 0, []
        for card in queryset.order_by("id"):
            try:
                run(card)
                succeeded += 1
            except DomainError as exc:
                failed.append(exc.message)
        if succeeded:
            self.message_user(request, done(succeeded) % {"n": succeeded}, messages.SUCCESS)
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description=gettext_lazy("Report the selected cards lost"),
                  permissions=["operate"])
    def report_loss_selected(self, request: HttpRequest, queryset: QuerySet[Card]) -> None:
        self._each(request, queryset,
                   lambda c: services.card_report_loss(card=c, by=request.user, channel=CHANNEL),
                   lambda n: ngettext("%(n)d card reported lost.",
                                      "%(n)d cards reported lost.", n))

    @admin.action(description=gettext_lazy("Unlock the selected lost cards"),
                  permissions=["operate"])
    def unlock_selected(self, request: HttpRequest, queryset: QuerySet[Card]) -> None:
        self._each(request, queryset,
                   lambda c: services.card_unlock(card=c, by=request.user, channel=CHANNEL),
                   lambda n: ngettext("%(n)d card unlocked.", "%(n)d cards unlocked.", n))

    @admin.action(description=gettext_lazy("Unfreeze the selected cards"),
                  permissions=["operate"])
    def unfreeze_selected(self, request: HttpRequest, queryset: QuerySet[Card]) -> None:
        self._each(request, queryset,
                   lambda c: services.card_unfreeze(card=c, by=request.user, channel=CHANNEL),
                   lambda n: ngettext("%(n)d card unfrozen.", "%(n)d cards unfrozen.", n))

    @admin.action(description=gettext_lazy("Freeze the selected cards"),
                  permissions=["operate"])
    def freeze_selected(self, request: HttpRequest,
                        queryset: QuerySet[Card]) -> TemplateResponse | None:
        form = BulkReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(request, queryset,
                       lambda c: services.card_freeze(card=c, reason=reason, by=request.user,
                                                      channel=CHANNEL),
                       lambda n: ngettext("%(n)d card frozen.", "%(n)d cards frozen.", n))
            return None
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "queryset": queryset, "action": "freeze_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": _("Freeze the selected cards"),
        }
        return TemplateResponse(request, "admin/onecard/bulk_operation.html", context)


# --- Read-only records ------------------------------------------------------------------


@admin.register(OrgUnit)
class OrgUnitAdmin(RefusalsShown):
    """Made, renamed and moved through the services: a move reaches the door lists."""

    list_display = ("code", "name", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    fields = ("code", "name", "kind", "parent")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code", "kind") if obj else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: OrgUnit, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        if change:
            services.org_unit_update(unit=obj, name=data["name"], parent=data["parent"],
                                     by=request.user, channel=CHANNEL)
            return
        unit = services.org_unit_ensure(code=data["code"], name=data["name"], kind=data["kind"],
                                        parent=data["parent"], by=request.user, channel=CHANNEL)
        obj.pk = unit.pk
        obj._state.adding = False


@admin.register(Merchant)
class MerchantAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "fee_rate_bp", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("code", "name")


def account_label(account: LedgerAccount) -> str:
    """The account for people: its kind in the reader's language, then its code. The stored
    `name` is in whatever language the account happened to be created in, so it is not shown."""
    return f"{account.get_kind_display()} · {account.code}"


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "balance_yuan", "cardholder", "merchant", "user")
    list_filter = ("kind",)
    list_select_related = ("cardholder", "merchant", "user")
    search_fields = ("code", "name", "cardholder__number", "merchant__code")
    fields = ("code", "kind", "cardholder", "merchant", "user", "balance_yuan",
              "max_balance_yuan")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("balance"), ordering="balance")
    def balance_yuan(self, account: LedgerAccount) -> str:
        return yuan(account.balance)

    @admin.display(description=gettext_lazy("maximum balance"))
    def max_balance_yuan(self, account: LedgerAccount) -> str:
        return yuan(account.max_balance)


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("ledger_account", "amount_yuan")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entry]:
        return super().get_queryset(request).select_related("account")

    @admin.display(description=gettext_lazy("ledger account"))
    def ledger_account(self, entry: Entry) -> str:
        return account_label(entry.account)

    @admin.display(description=gettext_lazy("amount"))
    def amount_yuan(self, entry: Entry) -> str:
        return yuan(entry.amount)


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    # The memo is stored in English; the kind beside it is shown in the reader's language.
    list_display = ("id", "created_at", "kind_label", "memo", "card", "created_by")
    list_filter = ("kind",)
    list_select_related = ("card", "created_by")
    search_fields = ("idempotency_key", "memo", "card__card_no")
    date_hierarchy = "created_at"
    fields = ("kind_label", "memo", "card", "created_by", "created_at", "idempotency_key")
    readonly_fields = fields
    inlines = (EntryInline,)

    @admin.display(description=gettext_lazy("kind"), ordering="kind")
    def kind_label(self, posting: Posting) -> str:
        # get_kind_display() falls back to the stored value for a kind not (yet) in
        # PostingKind, where the admin's own choices display would show "-".
        return posting.get_kind_display()


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "posting", "posting_memo", "ledger_account", "amount_yuan")
    list_select_related = ("posting", "account")
    search_fields = ("account__code",)

    @admin.display(description=gettext_lazy("memo"))
    def posting_memo(self, entry: Entry) -> str:
        return entry.posting.memo

    @admin.display(description=gettext_lazy("ledger account"), ordering="account__code")
    def ledger_account(self, entry: Entry) -> str:
        return account_label(entry.account)

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_yuan(self, entry: Entry) -> str:
        return yuan(entry.amount)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "channel", "action", "subject_type", "subject_id",
                    "request_id")
    list_filter = ("action", "channel", "subject_type")
    search_fields = ("subject_id", "actor_label", "request_id", "action")
    date_hierarchy = "at"


@admin.register(BlacklistVersion)
class BlacklistVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "card_no", "action", "reason", "at")
    list_filter = ("action", "reason")
    search_fields = ("card_no",)


@admin.register(PendingLoad)
class PendingLoadAdmin(ReadOnlyAdmin):
    list_display = ("load_id", "card", "purse", "amount_yuan", "status", "source", "method",
                    "reference", "created_at")
    list_filter = ("status", "source", "purse")
    list_select_related = ("card",)
    search_fields = ("load_id", "card__card_no", "reference")

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_yuan(self, load: PendingLoad) -> str:
        return yuan(load.amount)


@admin.register(SubsidyBatch)
class SubsidyBatchAdmin(ReadOnlyAdmin):
    list_display = ("name", "purse", "count", "total_yuan", "created_by", "created_at")
    list_filter = ("purse",)
    search_fields = ("name",)

    @admin.display(description=gettext_lazy("total"), ordering="total")
    def total_yuan(self, batch: SubsidyBatch) -> str:
        return yuan(batch.total)


@admin.register(StoredKey)
class StoredKeyAdmin(ReadOnlyAdmin):
    """Which key versions exist, under which KEK; never the wrapped bytes."""

    list_display = ("purpose", "version", "kek_id", "created_at")
    fields = ("purpose", "version", "kek_id", "created_at")
    readonly_fields = fields
