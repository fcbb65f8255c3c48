"""Organisation units and cardholders: create, update, set the portal password, and the
all-or-nothing import from a spreadsheet."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import ledger
from accounts.audit import audit_record
from accounts.errors import DuplicateNumber, ImportFailed, OrgUnitCycle
from accounts.models import (
    Cardholder,
    CardholderKind,
    CardholderStatus,
    OrgUnit,
    OrgUnitKind,
    Purse,
)
from accounts.selectors import org_unit_chain
from accounts.signals import cardholder_changed, org_unit_changed
from core.errors import InvalidRequest


def org_unit_ensure(
    *,
    code: str,
    by: Any,
    name: str = "",
    kind: str = OrgUnitKind.DEPARTMENT,
    parent: OrgUnit | None = None,
    channel: str = "api",
) -> OrgUnit:
    unit = OrgUnit.objects.filter(code=code).first()
    if unit is not None:
        return unit
    unit = OrgUnit.objects.create(code=code, name=name or code, kind=kind, parent=parent)
    audit_record(
        action="org_unit.create",
        actor=by,
        subject=unit,
        subject_id=code,
        after={"code": code, "name": unit.name, "kind": kind},
        channel=channel,
    )
    return unit


class _Keep(enum.Enum):
    KEEP = "keep"


# "Leave as it is", where None already means something (a unit with no parent).
KEEP: Final = _Keep.KEEP


def _unit_snapshot(unit: OrgUnit) -> dict[str, Any]:
    return {"code": unit.code, "name": unit.name, "kind": unit.kind,
            "parent": unit.parent.code if unit.parent else None}


@transaction.atomic
def org_unit_update(
    *,
    unit: OrgUnit,
    by: Any,
    name: str | None = None,
    parent: OrgUnit | None | _Keep = KEEP,
    channel: str = "api",
) -> OrgUnit:
    """Rename an org unit, or move it under another (None: to the top). Its holders and
    the units below it go with it; the apps above hear of it (`org_unit_changed`)."""
    if name is not None and not (name.strip() and len(name) <= 100):
        raise InvalidRequest(_("A unit needs a name (at most 100 characters)."), field="name")
    # Lock the unit and the new parent's chain, in id order: two moves that together
    # would close a loop both lock the two units, so the second sees the first's.
    ancestors = org_unit_chain(parent.pk) if isinstance(parent, OrgUnit) else []
    list(OrgUnit.objects.select_for_update().filter(pk__in={unit.pk, *ancestors})
         .order_by("pk").values_list("pk", flat=True))
    unit = OrgUnit.objects.select_related("parent").get(pk=unit.pk)
    if isinstance(parent, OrgUnit) and unit.pk in org_unit_chain(parent.pk):
        raise OrgUnitCycle(
            _("%(unit)s cannot be placed under %(parent)s: it is that unit or one above it.")
            % {"unit": unit.code, "parent": parent.code})
    before, old_parent = _unit_snapshot(unit), unit.parent
    if name is not None:
        unit.name = name
    if not isinstance(parent, _Keep):
        unit.parent = parent
    after = _unit_snapshot(unit)
    fields = [f for f in ("name", "parent") if after[f] != before[f]]
    if not fields:
        return unit
    unit.save(update_fields=fields)
    audit_record(action="org_unit.update", actor=by, subject=unit, subject_id=unit.code,
                 before=before, after=after, channel=channel)
    # Groups by org unit include the units below: a move changes who is in them.
    org_unit_changed.send(sender=OrgUnit, unit=unit, fields=fields, old_parent=old_parent)
    return unit


def _portal_user(number: str, password: str | None) -> Any:
    User = get_user_model()
    user = User(username=f"holder:{number}")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def cardholder_create(
    *,
    number: str,
    name: str,
    kind: str,
    by: Any,
    department: str | None = None,
    valid_until: dt.date | None = None,
    phone: str = "",
    email: str = "",
    password: str | None = None,
    channel: str = "api",
) -> Cardholder:
    if Cardholder.objects.filter(number=number).exists():
        raise DuplicateNumber(
            _("Cardholder number %(number)s already exists.") % {"number": number}
        )
    unit = org_unit_ensure(code=department, by=by, channel=channel) if department else None
    try:
        with transaction.atomic():
            holder = Cardholder.objects.create(
                number=number,
                name=name,
                kind=CardholderKind(kind),
                org_unit=unit,
                valid_until=valid_until,
                phone=phone,
                email=email,
                user=_portal_user(number, password),
            )
    except IntegrityError as exc:  # a concurrent create of the same number
        raise DuplicateNumber() from exc
    for purse in Purse:
        ledger.account_purse(holder, purse)
    audit_record(
        action="cardholder.create",
        actor=by,
        subject=holder,
        channel=channel,
        after=_holder_snapshot(holder),
    )
    return holder


def _holder_snapshot(holder: Cardholder) -> dict[str, Any]:
    return {
        "number": holder.number,
        "name": holder.name,
        "kind": holder.kind,
        "department": holder.org_unit.code if holder.org_unit else None,
        "status": holder.status,
        "valid_until": holder.valid_until.isoformat() if holder.valid_until else None,
        "phone": holder.phone,
        "email": holder.email,
    }


HOLDER_UPDATABLE = ("name", "kind", "department", "status", "valid_until", "phone", "email")


@transaction.atomic
def cardholder_update(
    *, cardholder: Cardholder, by: Any, channel: str = "api", **changes: Any
) -> Cardholder:
    unknown = set(changes) - set(HOLDER_UPDATABLE)
    if unknown:
        raise InvalidRequest(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    holder = Cardholder.objects.select_for_update(no_key=True).get(pk=cardholder.pk)
    before = _holder_snapshot(holder)
    for name, value in changes.items():
        if name == "department":
            holder.org_unit = org_unit_ensure(code=value, by=by, channel=channel) if value else None
        elif name == "kind":
            holder.kind = CardholderKind(value)
        elif name == "status":
            holder.status = CardholderStatus(value)
        else:
            setattr(holder, name, value)
    holder.save()
    after = _holder_snapshot(holder)
    moved = [f for f in ("department", "status") if after[f] != before[f]]
    if moved:  # access groups by org unit, grants of active holders only
        cardholder_changed.send(sender=Cardholder, cardholder=holder, fields=moved)
    if after != before:
        audit_record(
            action="cardholder.update",
            actor=by,
            subject=holder,
            before=before,
            after=after,
            channel=channel,
        )
    return holder


@transaction.atomic
def cardholder_set_password(
    *, cardholder: Cardholder, password: str, by: Any, channel: str = "api"
) -> None:
    user = cardholder.user or _portal_user(cardholder.number, None)
    user.set_password(password)
    user.save(update_fields=["password"])
    if cardholder.user_id is None:
        Cardholder.objects.filter(pk=cardholder.pk).update(user=user)
    audit_record(action="cardholder.set_password", actor=by, subject=cardholder, channel=channel)


@dataclass
class ImportRowError:
    line: int
    message: str


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


IMPORT_COLUMNS = ("number", "name", "kind", "department", "valid_until", "phone", "email")


def _import_row_clean(line: int, raw: dict[str, Any], seen: set[str]) -> dict[str, Any]:
    row = {k: ("" if raw.get(k) is None else str(raw.get(k)).strip()) for k in IMPORT_COLUMNS}
    if isinstance(raw.get("valid_until"), dt.datetime | dt.date):
        value = raw["valid_until"]
        row["valid_until"] = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    problems = []
    if not row["number"] or len(row["number"]) > 32:
        problems.append(_("number is required (at most 32 characters)"))
    elif row["number"] in seen:
        problems.append(_("number %(n)s appears twice in the file") % {"n": row["number"]})
    if not row["name"] or len(row["name"]) > 100:
        problems.append(_("name is required (at most 100 characters)"))
    if row["kind"] not in CardholderKind.values:
        problems.append(_("kind must be one of student, staff, visitor"))
    valid_until = None
    if row["valid_until"]:
        try:
            valid_until = dt.date.fromisoformat(row["valid_until"][:10])
        except ValueError:
            problems.append(_("valid_until must be a date YYYY-MM-DD"))
    if len(row["department"]) > 32:
        problems.append(_("department code is at most 32 characters"))
    if len(row["phone"]) > 32:
        problems.append(_("phone is at most 32 characters"))
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            problems.append(_("email is not a valid address"))
    if any("\x00" in value for value in row.values()):
        problems.append(_("the row contains a NUL character"))
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    seen.add(row["number"])
    return {**row, "valid_until": valid_until, "department": row["department"] or None}


def cardholder_import(
    *,
    rows: Iterable[dict[str, Any]],
    by: Any,
    channel: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Create or update cardholders from rows; every row valid or nothing changes."""
    summary = ImportSummary()
    cleaned: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        try:
            cleaned.append((line, _import_row_clean(line, raw, seen)))
        except ValueError as exc:
            summary.errors.append(ImportRowError(line=line, message=str(exc)))
    if summary.errors:
        raise ImportFailed(errors=[asdict(e) for e in summary.errors])
    with transaction.atomic():
        existing = {h.number: h for h in Cardholder.objects.filter(number__in=seen)}
        for done, (_line, row) in enumerate(cleaned, start=1):
            number = row.pop("number")
            holder = existing.get(number)
            if holder is None:
                cardholder_create(number=number, by=by, channel=channel, **row)
                summary.created += 1
            else:
                before = _holder_snapshot(holder)
                cardholder_update(cardholder=holder, by=by, channel=channel, **row)
                holder.refresh_from_db()
                if _holder_snapshot(holder) == before:
                    summary.unchanged += 1
                else:
                    summary.updated += 1
            if progress:
                progress(done)
        audit_record(
            action="cardholder.import",
            actor=by,
            subject_type="import",
            subject_id=str(len(cleaned)),
            after=summary.as_dict(),
            channel=channel,
        )
    return summary
