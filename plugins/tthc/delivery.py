"""The mail that delivers a unit's final report to its office, the province's office in copy.

Why here, without Airflow: what the mail says and carries (recipients, subject, the .docx and the .pdf) is
the report's business and is tested on plain values; sending it over an SMTP connection is the glue's
(``tthc_airflow.sign_off.send_report``). Nothing is composed for a unit without ``deliver_to``
(``office_inputs`` in ``include/config/pipeline.yaml``), the bundled default: a run never needs a mail server
unless one is configured.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tthc.district_month import DistrictMonth

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class ReportMail:
    """A unit's final report as a mail: recipients, copy, subject, HTML body, attachments (name, bytes)."""

    unit_code: str
    to: list[str]
    cc: list[str]
    subject: str
    html: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def month_words(period: Any) -> tuple[str, str]:
    """How the office's mails and Required Actions name a period: ("tháng 11/2023", "kỳ 15/10/2023 – 14/11/2023")."""
    return (f"tháng {period.month:02d}/{period.year}",
            f"kỳ {period.start_date:%d/%m/%Y} – {(period.end_date - _DAY):%d/%m/%Y}")


class DeliveryError(Exception):
    """The final report cannot be delivered (not final, no .docx): nothing was sent."""


def report_mail(month: DistrictMonth, final: dict[str, Any] | None) -> ReportMail | None:
    """The mail delivering the unit's final report (``final``: its marker, ``tthc.pipeline.final_record``).

    None when the unit has no ``deliver_to``. A report that is not final raises ``DeliveryError``; one without
    its PDF (no LibreOffice on the worker) goes with the .docx alone, the body and ``warnings`` say so.
    """
    unit, period = month.unit, month.period
    settings = month.config.office_inputs.for_unit(unit.code)
    if not settings.deliver_to:
        return None
    if not final:
        raise DeliveryError(f"district {unit.code}, period {period.name}: the report is not final (a draft, or none): "
                            "nothing is sent")
    files = month.files.report_set
    attachments: list[tuple[str, bytes]] = []
    warnings: list[str] = []
    for kind in ("docx", "pdf"):
        path = files[kind]
        if path.exists():
            attachments.append((path.name, path.read_bytes()))
        elif kind == "docx":
            raise DeliveryError(f"district {unit.code}, period {period.name}: no report at {path}: nothing is sent")
        else:
            warnings.append(f"no PDF of the report ({path.name}): the mail carries the .docx alone")
    month_text, window = month_words(period)
    subject = f"Báo cáo cải cách thủ tục hành chính {month_text}: {unit.name}"
    approved = final.get("approved_by") or {}
    if final.get("signed_off"):
        status = (f"Báo cáo đã được {html.escape(str(approved.get('name') or approved.get('id') or ''))} "
                  f"phê duyệt lúc {html.escape(str(final.get('approved_at') or ''))}.")
    else:
        status = "Báo cáo được lập tự động từ dữ liệu của Hệ thống thông tin giải quyết thủ tục hành chính."
    names = "".join(f"<li>{html.escape(name)}</li>" for name, _ in attachments)
    body = (f"<p>Kính gửi {html.escape(unit.name)},</p>"
            f"<p>Gửi kèm báo cáo kết quả cải cách thủ tục hành chính {month_text} "
            f"({window}). {status}</p>"
            f"<p>Tệp đính kèm:</p><ul>{names}</ul>"
            f"{'<p>Chưa có bản PDF của báo cáo.</p>' if warnings else ''}")
    return ReportMail(unit.code, list(settings.deliver_to), list(settings.deliver_cc), subject, body, attachments,
                      warnings)

