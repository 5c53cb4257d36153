"""The report as a .docx: the clerk's template filled with the context, byte-stable.

Why its own module: filling the template is the only step that touches Word's format. It escapes
every value (an ``&`` in "LĐVP.HĐND&UBND" would corrupt the file), refuses an unknown placeholder
(a template edited with a typo fails the run instead of printing a hole), and fixes everything
Word and python-docx would otherwise stamp with "now", so a rerun that changes no figure changes
no byte.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tthc.report import pdf
from tthc.report.chart import CHART_WIDTH_MM
from tthc.storage import atomic_write_bytes


def _fixed_moment(context: Mapping[str, Any]) -> datetime:
    meta = context.get("meta") or {}
    if meta.get("document_date"):
        return datetime.combine(date.fromisoformat(meta["document_date"]), datetime.min.time())
    return datetime(1980, 1, 1)


def normalise_package(data: bytes, moment: datetime) -> bytes:
    """A .docx package rewritten with fixed zip timestamps and attributes (python-docx stamps entries with "now").

    Entry order and contents are kept, so Word and LibreOffice read the same document.
    """
    stamp = (max(moment.year, 1980), moment.month, moment.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()


def render_report(template_path: Path, context: dict, out_path: Path) -> Path:
    """Fill the template with ``context`` and write the .docx atomically; same context, same bytes.

    ``out_path`` is a ``pathlib.Path`` or any path-like object of ``tthc.storage`` (object storage
    when workers run on several hosts); it is returned as given.

    Values are XML-escaped (docxtpl's default is not to: an ``&`` in "LĐVP.HĐND&UBND" would corrupt
    the file) and an unknown placeholder is an error rather than a blank: a template edited with a
    typo must fail the run, not print a report with a hole in it.
    """
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage
    from jinja2 import Environment, StrictUndefined

    template = DocxTemplate(str(template_path))
    template.init_docx()
    props = template.docx.core_properties
    # docxtpl renders these properties as Jinja too; they are set below from ``meta``, so a brace a
    # clerk left in File > Properties must not break the run.
    props.author = props.comments = props.identifier = props.language = props.subject = props.title = ""
    values = dict(context)
    # The picture's paragraph ends the document and stays, empty, when there is no chart.
    values["chart"] = (InlineImage(template, io.BytesIO(values["chart"]), width=Mm(CHART_WIDTH_MM))
                       if values.get("chart") else "")
    template.render(values, jinja_env=Environment(undefined=StrictUndefined, autoescape=True), autoescape=True)

    moment = _fixed_moment(context)
    meta = context.get("meta") or {}
    props.author = props.last_modified_by = meta.get("author", "")
    props.title = meta.get("title", "")
    props.subject = meta.get("subject", "")
    props.comments = props.keywords = props.category = props.identifier = ""
    props.language = "vi-VN"
    props.revision = 1
    props.created = props.modified = props.last_printed = moment

    buffer = io.BytesIO()
    template.save(buffer)
    out_path = Path(out_path) if isinstance(out_path, str) else out_path
    atomic_write_bytes(out_path, normalise_package(buffer.getvalue(), moment))
    return out_path



def render_documents(template_path: Path, context: dict, name: str,
                     timeout: float = pdf.PDF_TIMEOUT_SECONDS) -> tuple[bytes, bytes | None]:
    """The report as .docx bytes and its PDF's bytes (None without LibreOffice), made in a scratch folder.

    Why bytes and not files in the reports folder: a report set (.docx, .pdf, evidence) is published
    by its caller only when every part of it exists, so a failed or killed conversion never leaves a
    new .docx beside an old PDF. ``name`` is the .docx's file name (LibreOffice names the PDF after it).
    """
    with pdf.scratch_folder() as work:
        source = render_report(template_path, context, work / name)
        docx = source.read_bytes()
        executable = pdf.find_soffice()
        if executable is None:
            return docx, None
        return docx, pdf.convert_in_folder(work, source, executable, timeout)
