"""HR's month report as a spreadsheet, in the language of the request: one row per
holder with the month's totals (attendance.selectors.month_report)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from attendance.models import LeaveKind, OvertimeKindChoice
from core.files import xlsx_table


def month_report_xlsx(report: dict[str, Any]) -> bytes:
    leave_kinds = [LeaveKind(k) for k in LeaveKind.values]
    overtime = [OvertimeKindChoice.WORKDAY, OvertimeKindChoice.REST_DAY,
                OvertimeKindChoice.HOLIDAY]
    headers = [_("Cardholder number"), _("Holder name"), _("Rostered days"), _("Days worked"),
               _("Late (times)"), _("Late (minutes)"), _("Early leave (times)"),
               _("Early leave (minutes)"), _("Absent (days)"), _("Missing punch (days)"),
               _("Worked (hours)"),
               *[_("%(kind)s (days)") % {"kind": k.label} for k in leave_kinds],
               *[_("%(kind)s (hours)") % {"kind": k.label} for k in leave_kinds],
               *[_("Overtime, %(kind)s (hours)") % {"kind": OvertimeKindChoice(k).label}
                 for k in overtime]]
    rows = ([h["cardholder"], h["name"], h["rostered_days"], h["days_worked"], h["late_count"],
             h["late_minutes"], h["early_count"], h["early_minutes"], h["absent_days"],
             h["missing_punch_days"], round(h["worked_minutes"] / 60, 2),
             *[h["leave_days"][k.value] for k in leave_kinds],
             *[round(h["leave_minutes"][k.value] / 60, 2) for k in leave_kinds],
             *[round(h["overtime_minutes"][k] / 60, 2) for k in overtime]]
            for h in report["holders"])
    facts = [(_("Month"), report["month"]),
             (_("Department"), report["department"] or _("All departments")),
             (_("Holders"), str(report["count"]))]
    widths = (16, 16, *([12] * (len(headers) - 2)))
    return xlsx_table(_("Monthly attendance"), facts, headers, rows, widths)
