"""Console bases every app's admin shares: records only the server writes are shown,
never added, edited or deleted by hand (the house rule: writes go through services);
and records a clerk changes, whose console form only collects the input and calls the
app's services (`ServiceAdmin`), as the API does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from core.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records only the server writes: visible, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Consoles whose writes go through services ----------------------------------------


def each(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any],
         run: Callable[[Any], Any], done: Callable[[int], str]) -> None:
    """An action's service call per selected object; `done(n)` is the success message."""
    succeeded, failed = 0, []
    for obj in queryset.order_by("pk"):
        try:
            run(obj)
            succeeded += 1
        except DomainError as exc:
            failed.append(f"{obj}: {exc.message}")
    if succeeded:
        model_admin.message_user(request, done(succeeded) % {"n": succeeded}, messages.SUCCESS)
    for message in failed:
        model_admin.message_user(request, message, messages.ERROR)


def untouched(formsets: Sequence[Any]) -> None:
    """The inlines were read by a service, not saved: nothing for the change message."""
    for formset in formsets:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


class ServiceAdmin(admin.ModelAdmin):
    """Writes go through services (save_model / save_related, overridden per model); a
    refusal by a service is shown to the officer and nothing is kept."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None,
                        ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_related(self, request: HttpRequest, form: Any, formsets: Any,
                     change: bool) -> None:
        """Relations change only through the services (save_model), never directly."""
        untouched(formsets)

    @staticmethod
    def adopt(obj: Any, saved: Any) -> None:
        """Make the admin's unsaved form object the row the service wrote (the admin
        logs and links it next)."""
        for field in saved._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
