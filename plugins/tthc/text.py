"""Text that people type and the pipeline prints in an official letter: cleaned of characters with no place there.

Why: operator inputs (and the report settings of the configuration) are copied into a document that a
chairman signs. Characters nobody sees can still change what the document is: docxtpl turns a form feed
into a page break and ``\\a`` into a new paragraph, a right-to-left override (U+202E) makes Word show
"100%" where the file says something else, a zero-width space splits a word that a search then misses,
and a NUL or a noncharacter makes the XML invalid. Page breaks and paragraphs come from the template;
line breaks stay, as a newline means a line break in the report.

``clean_text`` says whether it removed anything, so a caller can warn naming the field: cleaning a
signed document silently would hide that its source was odd (a copy from a PDF, a hostile run
parameter).
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

# Line and paragraph separators mean a new line; the letter's paragraphs come from the template.
_AS_NEWLINE = {"\u2028", "\u2029", "\u0085"}  # LINE SEPARATOR, PARAGRAPH SEPARATOR, NEXT LINE (C1)
# A tab is a gap between words, never a tab stop in a letter; a vertical tab or a form feed (a page
# boundary copied from a PDF) is removed as a break but still separates the words around it.
_AS_SPACE = {"\t", "\u000b", "\u000c"}
# Named for the record; every character of category Cc (controls) or Cf (invisible formatting) is removed,
# which covers these: bidi embeddings, overrides and isolates, marks, zero-width characters, the BOM.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


_CONTROL_NAMES = {"\0": "NUL", "\a": "BELL", "\b": "BACKSPACE", "\t": "TAB", "\v": "VERTICAL TAB",
                  "\f": "FORM FEED", "\x1b": "ESCAPE", "\x7f": "DELETE", "\x85": "NEXT LINE"}


def _unwanted(char: str) -> bool:
    """True for a character the cleaning removes or replaces (newline and ordinary text stay)."""
    if char == "\n":
        return False
    if char in _AS_NEWLINE or char in _AS_SPACE:
        return True
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Cs"):  # controls (C0, DEL, C1), invisible formatting, lone surrogates
        return True
    code = ord(char)
    # Noncharacters: not allowed in XML 1.0 text (U+FFFE, U+FFFF) or meaningless in a document.
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _replacement(char: str) -> str:
    if char in _AS_NEWLINE:
        return "\n"
    if char in _AS_SPACE:
        return " "
    return ""


def clean_text(value: str) -> tuple[str, bool]:
    """``value`` in NFC without control, bidi or invisible format characters; and whether any was found.

    A tab, vertical tab or form feed becomes a space; a line or paragraph separator (U+2028, U+2029,
    NEL) a newline; every other character of category Cc (C0, DEL, C1), Cf (bidi controls
    U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C; zero-width U+200B-U+200D, U+2060, U+FEFF;
    soft hyphen) or Cs, and the Unicode noncharacters, are removed. Line endings (``\\r\\n``, ``\\r``)
    become ``\\n`` without counting as cleaning: they are how editors and browser forms write a
    newline. NFC normalisation is not counted either (Vietnamese typed with a combining input method
    arrives decomposed). Nothing is stripped: the caller decides about surrounding spaces.
    """
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    if not any(_unwanted(char) for char in text):
        return text, False
    cleaned = "".join(_replacement(char) if _unwanted(char) else char for char in text)
    return unicodedata.normalize("NFC", cleaned), True


def unwanted_characters(value: str) -> list[str]:
    """The distinct characters ``clean_text`` would remove or replace, as ``U+XXXX NAME``, in order of appearance.

    For a warning that tells an operator what to look for in the file ("U+202E RIGHT-TO-LEFT OVERRIDE").
    """
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    found = dict.fromkeys(char for char in text if _unwanted(char))
    return [f"U+{ord(char):04X} {_CONTROL_NAMES.get(char) or unicodedata.name(char, 'CONTROL')}" for char in found]


def clean_tree(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """Every string in a YAML/JSON-like tree cleaned by ``clean_text``; and the dotted paths that were cleaned.

    For configuration and run parameters, whose strings are nested in mappings and lists: the paths
    (``report_defaults.recipient``, ``assessment[1]``) name the fields a warning must name. Keys are
    cleaned too but not reported separately (a key with such a character is an unknown field anyway).
    """
    if isinstance(value, str):
        cleaned, changed = clean_text(value)
        return cleaned, [where or "(value)"] if changed else []
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        paths: list[str] = []
        for key, item in value.items():
            name = clean_text(key)[0] if isinstance(key, str) else key
            out[name], found = clean_tree(item, f"{where}.{name}" if where else str(name))
            paths += found
        return out, paths
    if isinstance(value, list):
        items, paths = [], []
        for i, item in enumerate(value):
            cleaned_item, found = clean_tree(item, f"{where}[{i}]")
            items.append(cleaned_item)
            paths += found
        return items, paths
    return value, []


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """A YAML file people edit (``what``: "configuration file", "phrase file"), every string cleaned.

    One reading for the files whose text reaches a signed document: a missing file, invalid YAML or a
    file that is not UTF-8 raises ``error`` naming ``what`` and the path; each cleaned field gets one
    warning naming it (cleaning silently would hide that the file was odd).
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} not found: {path}") from None
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text: save it as UTF-8 ({exc})") from None
    cleaned, fields = clean_tree(raw)
    for field in fields:
        log.warning("%s %s: field %s contained control or invisible characters: removed", what, path, field)
    return cleaned
