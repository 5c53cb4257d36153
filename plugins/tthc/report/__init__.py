"""The monthly report of one reporting unit, in four jobs, one module each.

- ``context``: metric rows, configuration and operator inputs become the values the template
  writes: every figure in Vietnamese format, every case of a sentence in the words of the phrase
  file (``tthc.phrases``), whole-paragraph choices as flags. Testable without Word.
- ``chart``: the annex chart, drawn the same for the same data (Pillow, DejaVu Sans).
- ``document``: the clerk's template (``include/templates/bao-cao-thang.docx``) filled, byte-stable.
- ``pdf``: the PDF through headless LibreOffice (one instance kept per host, or one per conversion), optional.

The wording lives in the template and its phrase file, the documents cited, the recipient, the
signer and the distribution in the configuration: none needs a code change (``docs/report.md``).
Heavy libraries (docxtpl, Pillow) are imported inside the functions that need them, so the DAG
processor can import this package cheaply.
"""

from tthc.report.context import COUNT_KEYS, FEEDBACK_KEYS, LEVELS, RATE_KEYS, build_context
from tthc.report.document import normalise_package, render_documents, render_report
from tthc.report.pdf import PDF_TIMEOUT_SECONDS, SCRATCH_PREFIX, convert_to_pdf, find_soffice, pdf_bytes

__all__ = [
    "COUNT_KEYS",
    "FEEDBACK_KEYS",
    "LEVELS",
    "PDF_TIMEOUT_SECONDS",
    "RATE_KEYS",
    "SCRATCH_PREFIX",
    "build_context",
    "convert_to_pdf",
    "find_soffice",
    "normalise_package",
    "pdf_bytes",
    "render_documents",
    "render_report",
]
