"""Vietnamese presentation of numbers and dates, as the report writes them (``docs/metrics.md``, Decree 30/2020).

Why one module: a report mixes figures from several computations, and a reader notices at once a
``71.26%`` beside a ``55,49%`` or a ``5 phản ánh`` beside a ``05 hồ sơ``. Every figure of the
report goes through these functions, so the conventions live in one place:

- decimal comma and two decimals for a rate (``71,26%``), a whole number without decimals
  (``100%``, ``50%``): the Vietnamese way of writing "đạt 100%";
- ``.`` between thousands (``12.345``) and two digits below ten (``05 phản ánh``);
- dates ``13/7/2023`` in running text, without padding, and ``ngày 15 tháng 8 năm 2023`` in full.

Rates arrive already rounded half-up to two places (``docs/metrics.md``: never round twice); the
rounding here only brings a float (a configured target) to the same two places.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ABSENT = "không phát sinh"  # a rate whose denominator is 0: no case arose
_TWO_PLACES = Decimal("0.01")


def _decimal(value: Decimal | float | int) -> Decimal:
    # str() first: Decimal(71.26) would carry the float's binary error into the rounding.
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number.quantize(_TWO_PLACES, rounding=ROUND_HALF_UP)


def _group(digits: str) -> str:
    """Thousands separated by ``.``: ``12345`` -> ``12.345``."""
    head = len(digits) % 3 or 3
    parts = [digits[:head], *(digits[i : i + 3] for i in range(head, len(digits), 3))]
    return ".".join(parts)


def fmt_decimal(value: Decimal | float | int) -> str:
    """A number with decimal comma and two decimals, a whole number without: ``71,26``, ``100``, ``95,50``.

    Used for rates in table cells (the ``%`` is in the column heading) and for changes in
    percentage points.
    """
    number = _decimal(value)
    sign = "-" if number < 0 else ""
    number = abs(number)
    whole, fraction = divmod(number, 1)
    text = _group(str(int(whole)))
    if fraction:
        text += "," + f"{number:.2f}".split(".")[1]
    return sign + text


def fmt_rate(value: Decimal | float | int | None, absent: str = ABSENT) -> str:
    """A rate in percent: ``71,26%``, ``100%``, ``95,50%``; ``absent`` (``không phát sinh``) for None."""
    if value is None:
        return absent
    return fmt_decimal(value) + "%"


def fmt_count(value: int) -> str:
    """A count: two digits below ten (``05``), ``.`` between thousands (``12.345``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a count must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"a count cannot be negative: {value}")
    return f"{value:02d}" if value < 10 else _group(str(value))


def fmt_date(value: date) -> str:
    """A date in running text, without padding: ``13/7/2023``."""
    return f"{value.day}/{value.month}/{value.year}"


def fmt_month(month: int, *, issue_date: bool = False) -> str:
    """A month number; in the date of issue of a document (Decree 30/2020) January and February are ``01``, ``02``."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not between 1 and 12")
    return f"{month:02d}" if issue_date and month < 3 else str(month)


def fmt_long_date(value: date, *, issue_date: bool = False) -> str:
    """A date written in full: ``ngày 15 tháng 8 năm 2023``.

    With ``issue_date`` it follows Decree 30/2020 for the date of issue of a document: days below
    ten and the months January and February take a leading zero (``ngày 05 tháng 02 năm 2024``).
    """
    day = f"{value.day:02d}" if issue_date and value.day < 10 else str(value.day)
    return f"ngày {day} tháng {fmt_month(value.month, issue_date=issue_date)} năm {value.year}"
