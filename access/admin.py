"""The security office's console (Django admin): areas, doors, schedules with their
windows, holidays, access groups with their members, visitor grants, lockdowns, door
events and alarms.

As everywhere in the house, the console only collects the officer's input and calls
`access.services` (or `access.alarms`), exactly as the API does, so every change is
audited and reaches the controllers' lists; a `DomainError` becomes an error message.
Nothing is deleted here but holidays (through their service): doors come and go with
their controllers, and events, alarms and the lists' bookkeeping are read-only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from access import services
from access.alarms import alarm_acknowledge
from access.models import (
    AccessAlarm,
    AccessEvent,
    AccessGroup,
    AccessGroupMember,
    AccessGroupOrgUnit,
    AccessListChange,
    Area,
    ControllerListVersion,
    Door,
    Lockdown,
    Schedule,
    ScheduleWindow,
    VisitorGrant,
)
from access.services import WindowSpec
from core.admin import ReadOnlyAdmin, ServiceAdmin, each, untouched
from core.models import Holiday

CHANNEL = "admin"
WEEKDAYS = [(str(d), label) for d, label in enumerate(
    (gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"),
     gettext_lazy("Fri"), gettext_lazy("Sat"), gettext_lazy("Sun")), start=1)]


def _code(obj: Any) -> str | None:
    return obj.code if obj is not None else None


# --- Areas and doors ------------------------------------------------------------------------


@admin.register(Area)
class AreaAdmin(ServiceAdmin):
    list_display = ("code", "name", "antipassback", "door_count")
    search_fields = ("code", "name")
    fields = ("code", "name", "antipassback")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Area]:
        return super().get_queryset(request).annotate(door_total=Count("doors"))

    @admin.display(description=gettext_lazy("doors"), ordering="door_total")
    def door_count(self, area: Area) -> int:
        return getattr(area, "door_total", 0)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj else ()

    def save_model(self, request: HttpRequest, obj: Area, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        if change:
            services.area_update(area=obj, name=data["name"], antipassback=data["antipassback"],
                                 by=request.user, channel=CHANNEL)
            return
        self.adopt(obj, services.area_create(code=data["code"], name=data["name"],
                                             antipassback=data["antipassback"],
                                             by=request.user, channel=CHANNEL))


@admin.register(Door)
class DoorAdmin(ServiceAdmin):
    list_display = ("id", "name", "controller", "area", "direction", "unlock_schedule",
                    "first_card_group")
    list_filter = ("area", "direction")
    list_select_related = ("controller", "area", "unlock_schedule", "first_card_group")
    search_fields = ("id", "name", "controller__terminal_id")
    fields = ("id", "controller", "number", "name", "area", "direction", "unlock_schedule",
              "first_card_group")
    readonly_fields = ("id", "controller", "number")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # doors are made with their controller (register_terminal --doors N)

    def save_model(self, request: HttpRequest, obj: Door, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        changes = {name: _code(data[name]) if name in ("area", "unlock_schedule",
                                                       "first_card_group") else data[name]
                   for name in form.changed_data}
        if "direction" in changes:
            changes["direction"] = changes["direction"] or None  # the form's blank is "none"
        if changes:
            services.door_update(door=obj, by=request.user, channel=CHANNEL, **changes)


# --- Schedules and holidays -----------------------------------------------------------------


class WindowForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("weekdays"), choices=WEEKDAYS, coerce=int,
        widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ScheduleWindow
        fields = ("weekdays", "start", "end")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["weekdays"].initial = [str(d) for d in self.instance.weekdays]


class WindowInline(admin.TabularInline):
    model = ScheduleWindow
    form = WindowForm
    extra = 1
    verbose_name = gettext_lazy("window (an end at or before the start crosses midnight)")


def _window_specs(formsets: Sequence[Any]) -> list[WindowSpec]:
    specs = []
    for formset in formsets:
        if formset.model is not ScheduleWindow:
            continue
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("weekdays"):
                continue
            specs.append(WindowSpec(days=data["weekdays"], start=data["start"],
                                    end=data["end"]))
    return specs


@admin.register(Schedule)
class ScheduleAdmin(ServiceAdmin):
    list_display = ("code", "name", "holidays", "updated_at")
    search_fields = ("code", "name")
    fields = ("code", "name", "holidays")
    inlines = (WindowInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj else ()

    def save_model(self, request: HttpRequest, obj: Schedule, form: forms.ModelForm,
                   change: bool) -> None:
        """Written with its windows, in save_related: a schedule has at least one."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any,
                     change: bool) -> None:
        data, windows = form.cleaned_data, _window_specs(formsets)
        untouched(formsets)
        if change:
            services.schedule_update(schedule=form.instance, name=data["name"],
                                     holidays=data["holidays"], windows=windows,
                                     by=request.user, channel=CHANNEL)
            return
        self.adopt(form.instance, services.schedule_create(
            code=data["code"], name=data["name"], holidays=data["holidays"], windows=windows,
            by=request.user, channel=CHANNEL))


@admin.register(Holiday)
class HolidayAdmin(ServiceAdmin):
    list_display = ("date", "name", "created_at")
    date_hierarchy = "date"
    fields = ("date", "name")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a wrong holiday is deleted and made again

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("core.delete_holiday")

    def save_model(self, request: HttpRequest, obj: Holiday, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        self.adopt(obj, services.holiday_create(date=data["date"], name=data["name"],
                                                by=request.user, channel=CHANNEL))

    def delete_model(self, request: HttpRequest, obj: Holiday) -> None:
        services.holiday_delete(holiday=obj, by=request.user, channel=CHANNEL)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Holiday]) -> None:
        for holiday in queryset.order_by("date"):
            services.holiday_delete(holiday=holiday, by=request.user, channel=CHANNEL)


# --- Access groups --------------------------------------------------------------------------


class MembershipInline(admin.TabularInline):
    """A row removed here is a membership the group's service ends, not a delete: whoever
    may change the group may remove its rows."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("access.change_accessgroup")


class MemberInline(MembershipInline):
    model = AccessGroupMember
    fields = ("cardholder", "added_at")
    readonly_fields = ("added_at",)
    autocomplete_fields = ("cardholder",)
    extra = 1


class OrgUnitInline(MembershipInline):
    model = AccessGroupOrgUnit
    fields = ("org_unit", "added_at")
    readonly_fields = ("added_at",)
    extra = 0
    verbose_name = gettext_lazy("org unit (every holder in it and the units below)")


def _membership(formsets: Sequence[Any], model: type, field: str,
                key: Callable[[Any], str]) -> tuple[list[str], list[str]]:
    """What the officer added and removed in one inline: (add, remove) by key."""
    add: list[str] = []
    remove: list[str] = []
    for formset in formsets:
        if formset.model is not model:
            continue
        for form in formset.forms:
            data = getattr(form, "cleaned_data", None) or {}
            # form.instance already holds the new value; the row's own is in `initial`.
            old = (form.fields[field].queryset.filter(pk=form.initial.get(field)).first()
                   if form.instance.pk else None)
            old_key = key(old) if old is not None else None
            new = data.get(field)
            if data.get("DELETE"):
                if old_key:
                    remove.append(old_key)
            elif new is not None and key(new) != old_key:
                add.append(key(new))
                if old_key:
                    remove.append(old_key)
    return add, remove


@admin.register(AccessGroup)
class AccessGroupAdmin(ServiceAdmin):
    list_display = ("code", "name", "schedule", "member_count", "updated_at")
    list_select_related = ("schedule",)
    search_fields = ("code", "name")
    fields = ("code", "name", "schedule", "doors")
    filter_horizontal = ("doors",)
    inlines = (MemberInline, OrgUnitInline)

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessGroup]:
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="member_total")
    def member_count(self, group: AccessGroup) -> int:
        return getattr(group, "member_total", 0)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("code",) if obj else ()

    def save_model(self, request: HttpRequest, obj: AccessGroup, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        doors = [d.pk for d in data["doors"]]
        if change:
            services.group_update(group=obj, name=data["name"], schedule=data["schedule"].code,
                                  doors=doors, by=request.user, channel=CHANNEL)
            return
        self.adopt(obj, services.group_create(code=data["code"], name=data["name"],
                                              schedule=data["schedule"].code, doors=doors,
                                              by=request.user, channel=CHANNEL))

    def save_related(self, request: HttpRequest, form: Any, formsets: Any,
                     change: bool) -> None:
        untouched(formsets)
        group = AccessGroup.objects.get(pk=form.instance.pk)
        add, remove = _membership(formsets, AccessGroupMember, "cardholder", lambda h: h.number)
        if add or remove:
            done = services.group_members_change(group=group, add=add, remove=remove,
                                                 by=request.user, channel=CHANNEL)
            self.message_user(request, _("Members added: %(a)s; removed: %(r)s.") % {
                "a": ", ".join(done["added"]) or "-", "r": ", ".join(done["removed"]) or "-"})
        add, remove = _membership(formsets, AccessGroupOrgUnit, "org_unit", lambda u: u.code)
        if add or remove:
            services.group_org_units_change(group=group, add=add, remove=remove,
                                            by=request.user, channel=CHANNEL)


# --- Visitors and lockdowns -----------------------------------------------------------------


VISITOR_FIELDS = ("cardholder", "doors", "valid_from", "valid_to", "note")
LOCKDOWN_FIELDS = ("area", "mode", "except_group", "reason")


@admin.register(VisitorGrant)
class VisitorGrantAdmin(ServiceAdmin):
    list_display = ("id", "cardholder", "valid_from", "valid_to", "revoked_at", "note",
                    "created_by")
    list_select_related = ("cardholder", "created_by")
    list_filter = ("revoked_at",)
    search_fields = ("cardholder__number", "cardholder__name", "note")
    fields = VISITOR_FIELDS
    autocomplete_fields = ("cardholder",)
    filter_horizontal = ("doors",)
    actions = ("revoke_selected",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*VISITOR_FIELDS, "revoked_at", "created_by") if obj else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*VISITOR_FIELDS, "revoked_at", "created_by") if obj else VISITOR_FIELDS

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A grant is not edited: it is revoked and a new one made. The list still offers
        # the revoke action to those who may change grants.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: VisitorGrant, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        self.adopt(obj, services.visitor_grant_create(
            cardholder=data["cardholder"].number, doors=[d.pk for d in data["doors"]],
            valid_from=data["valid_from"], valid_to=data["valid_to"], note=data["note"],
            by=request.user, channel=CHANNEL))

    @admin.action(description=gettext_lazy("Revoke the selected visitor grants"),
                  permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[VisitorGrant]) -> None:
        each(self, request, queryset,
                  lambda g: services.visitor_grant_revoke(grant=g, by=request.user,
                                                          channel=CHANNEL),
                  lambda n: ngettext("%(n)d visitor grant revoked.",
                                     "%(n)d visitor grants revoked.", n))


@admin.register(Lockdown)
class LockdownAdmin(ServiceAdmin):
    list_display = ("id", "area", "mode", "except_group", "reason", "started_at",
                    "started_by", "ended_at", "ended_by")
    list_select_related = ("area", "except_group", "started_by", "ended_by")
    list_filter = ("mode", "area")
    fields = LOCKDOWN_FIELDS
    actions = ("end_selected",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return (*LOCKDOWN_FIELDS, "started_at", "started_by", "ended_at", "ended_by") if obj \
            else LOCKDOWN_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.get_fields(request, obj) if obj else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Lockdown, form: forms.ModelForm,
                   change: bool) -> None:
        data = form.cleaned_data
        self.adopt(obj, services.lockdown_start(
            area=data["area"].code, mode=data["mode"], except_group=_code(data["except_group"]),
            reason=data["reason"], by=request.user, channel=CHANNEL))

    @admin.action(description=gettext_lazy("End the selected lockdowns"),
                  permissions=["change"])
    def end_selected(self, request: HttpRequest, queryset: QuerySet[Lockdown]) -> None:
        each(self, request, queryset,
                  lambda lockdown: services.lockdown_end(lockdown=lockdown, by=request.user,
                                                         channel=CHANNEL),
                  lambda n: ngettext("%(n)d lockdown ended.", "%(n)d lockdowns ended.", n))


# --- Events, alarms and the lists' bookkeeping: read-only -----------------------------------


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = ("ts", "door", "area", "cardholder", "card_no", "granted", "reason",
                    "direction", "list_version_held", "flag_reason")
    list_filter = ("granted", "flagged", "flag_reason", "reason", "direction", "area")
    list_select_related = ("door", "area", "cardholder")
    search_fields = ("card_no", "cardholder__number", "cardholder__name", "door__id")
    date_hierarchy = "ts"


class AcknowledgeForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), max_length=255, required=False,
                           help_text=gettext_lazy("What you found or did."))


@admin.register(AccessAlarm)
class AccessAlarmAdmin(ReadOnlyAdmin):
    list_display = ("raised_at", "controller", "door_number", "kind", "message", "status",
                    "acknowledged_by", "acknowledged_at", "note")
    list_filter = ("status", "kind")
    list_select_related = ("controller", "acknowledged_by")
    search_fields = ("controller__terminal_id", "message", "note")
    actions = ("acknowledge_selected",)

    def has_acknowledge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("access.change_accessalarm")

    @admin.action(description=gettext_lazy("Acknowledge the selected alarms"),
                  permissions=["acknowledge"])
    def acknowledge_selected(self, request: HttpRequest,
                             queryset: QuerySet[AccessAlarm]) -> TemplateResponse | None:
        form = AcknowledgeForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            note = form.cleaned_data["note"]
            each(self, request, queryset,
                 lambda a: alarm_acknowledge(alarm=a, by=request.user, note=note,
                                             channel=CHANNEL),
                 lambda n: ngettext("%(n)d alarm acknowledged.",
                                    "%(n)d alarms acknowledged.", n))
            return None
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "queryset": queryset, "action": "acknowledge_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": _("Acknowledge the selected alarms"),
        }
        return TemplateResponse(request, "admin/onecard/bulk_operation.html", context)


@admin.register(ControllerListVersion)
class ControllerListVersionAdmin(ReadOnlyAdmin):
    list_display = ("controller", "version", "applied", "pruned_through", "updated_at")
    list_select_related = ("controller",)
    search_fields = ("controller__terminal_id",)

    @admin.display(description=gettext_lazy("version applied (last heartbeat)"))
    def applied(self, row: ControllerListVersion) -> int:
        return row.controller.access_list_version


@admin.register(AccessListChange)
class AccessListChangeAdmin(ReadOnlyAdmin):
    list_display = ("controller", "version", "kind", "card_no", "at")
    list_filter = ("kind",)
    list_select_related = ("controller",)
    search_fields = ("controller__terminal_id", "card_no")
