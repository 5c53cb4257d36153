"""The report's variable wording: the phrase file beside the template, read and checked on load.

Why a phrase file: the template (a .docx a clerk edits in Word) holds every fixed sentence and
every choice between whole paragraphs. Some sentences, though, change inside themselves with the
figures ("cấp huyện đạt 71,26%, cấp xã không phát sinh"); writing those choices as Jinja inside a
Word paragraph made runs of a thousand characters no clerk could edit safely. Those pieces live in
a plain-text YAML file instead: one entry per case, in words, with named placeholders such as
``{rate}``. The code picks the case; the file says what the case reads like. See
``docs/report.md`` ("Where the wording lives").

A phrase file is checked when the configuration loads: every case must be there, no unknown one,
and a placeholder must be one of those the case offers, so a typo stops the run with the file, the
entry and what is allowed, never a report with a hole or a stray brace.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tthc.text import read_yaml

# Every section, its cases and the placeholders each case may use. The comments of the bundled
# file (include/templates/bao-cao-thang.phrases.yaml) say when each case is chosen.
_LEVELS = ("district_level", "commune_level")
_CHANGE = ("delta", "previous", "current")
CASES: dict[str, dict[str, tuple[str, ...]]] = {
    "digitization": {
        "on_target": (),
        "below_target": (),
        "same_rate": (*_LEVELS, "rate"),
        "by_level": ("district_level", "district", "commune_level", "commune"),
        "level_rate": ("rate",),
        "level_none": (),
    },
    "inspection": {
        "plan": ("unit_kind", "plan"),
        "no_plan": (),
        "lead": ("unit_kind", "children_kinds", "lead"),
        "lead_own_desk": ("unit_kind", "lead"),
        "no_lead": (),
        "count": ("count",),
        "no_count": (),
        "violations": ("violations", "findings"),
        "no_violations": (),
        "not_reported": (),
    },
    "hotline": {
        "handled_by": ("unit_kind",),
        "handled_by_own_desk": ("unit_kind",),
        "about_procedures": ("count",),
        "none_about_procedures": (),
    },
    "province": {
        "all_units": ("total", "kinds"),
        "some_units": ("reported", "total", "kinds"),
        "rate": ("rate",),
        "no_rate": (),
        "unit_with_figure": ("name", "figure"),
    },
    "change": {
        "received_up": _CHANGE,
        "received_down": _CHANGE,
        "received_same": _CHANGE,
        "on_time_up": _CHANGE,
        "on_time_down": _CHANGE,
        "on_time_same": _CHANGE,
        "on_time_unknown": (),
        "result_digitization_up": _CHANGE,
        "result_digitization_down": _CHANGE,
        "result_digitization_same": _CHANGE,
        "result_digitization_unknown": (),
    },
}


class PhrasesError(ValueError):
    """The phrase file is missing, not YAML, or has a missing, unknown or malformed entry; names file and entry."""


class Phrases:
    """The checked phrases: ``say(section, case, **values)`` gives the filled text."""

    def __init__(self, entries: Mapping[str, Mapping[str, str]], source: str = "phrases") -> None:
        self._entries = {section: dict(cases) for section, cases in entries.items()}
        self.source = source

    def say(self, section: str, case: str, **values: Any) -> str:
        """The phrase of ``section.case`` with its placeholders filled (``values`` may offer more than it uses)."""
        return self._entries[section][case].format_map(values)

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {section: dict(cases) for section, cases in self._entries.items()}


def _placeholders(text: str, where: str) -> list[str]:
    """The names of the ``{...}`` placeholders of ``text``; an error for a brace that is not one."""
    try:
        fields = [field for _, field, spec, conv in string.Formatter().parse(text) if field is not None]
        bad = [field for field in fields if not field.isidentifier()]
    except ValueError as exc:
        raise PhrasesError(f"{where}: {exc} in {text!r}; write a brace that is text as {{{{ or }}}}") from None
    if bad:
        raise PhrasesError(f"{where}: placeholder {{{bad[0]}}} is not a name; placeholders look like {{rate}}")
    return fields


def check_phrases(raw: Any, source: str) -> Phrases:
    """Validate a phrase file's content against ``CASES``; errors name ``source``, the entry and what is allowed."""
    if not isinstance(raw, dict):
        raise PhrasesError(f"{source}: expected sections {', '.join(CASES)}, found {type(raw).__name__}")
    unknown = sorted(set(raw) - set(CASES))
    if unknown:
        raise PhrasesError(f"{source}: unknown section(s) {', '.join(unknown)}; sections are {', '.join(CASES)}")
    for section, cases in CASES.items():
        given = raw.get(section)
        if not isinstance(given, dict):
            raise PhrasesError(f"{source}: section {section} is missing; it has the entries {', '.join(cases)}")
        extra, missing = sorted(set(given) - set(cases)), [case for case in cases if case not in given]
        if extra or missing:
            raise PhrasesError(
                f"{source}: section {section}: " + "; ".join(
                    part for part in (f"unknown entry {', '.join(extra)}" if extra else "",
                                      f"missing entry {', '.join(missing)}" if missing else "") if part)
                + f" (its entries are {', '.join(cases)})")
        for case, allowed in cases.items():
            where, text = f"{source}: {section}.{case}", given[case]
            if text is None:
                text = given[case] = ""  # an empty YAML value: the case writes nothing
            if not isinstance(text, str):
                raise PhrasesError(f"{where}: expected text in quotes, found {text!r}")
            wrong = [name for name in _placeholders(text, where) if name not in allowed]
            if wrong:
                offer = ", ".join(f"{{{name}}}" for name in allowed) or "no placeholder"
                raise PhrasesError(f"{where}: unknown placeholder {{{wrong[0]}}}; this entry may use {offer}")
    return Phrases(raw, source)


def load_phrases(path: Path) -> Phrases:
    """Read and check a phrase file (NFC, control and invisible characters removed, as for the configuration)."""
    return check_phrases(read_yaml(path, "phrase file", PhrasesError), str(path))
