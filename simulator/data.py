"""Deterministic synthetic data of the one-stop dossier system and the hotline 1022 system.

Why it looks the way it does:

- Every record is derived from ``random.Random`` seeded with a stable string such as
  ``"dossiers:87:872:2023-11"`` (never ``hash()``, which is salted per process), so the same
  records come out in every process and on every run, and a test can compute the expected
  metrics independently of the server.
- Generation is per (district, month) and lazy. A window query needs the months it overlaps plus,
  from older months, only the few records that stay open for long (pending forever, or finished
  months later). Those are kept in a small permanent index per district; full months live in a
  bounded LRU cache, so serving twelve districts does not hold millions of records in memory.
- The mix exercises every metric of ``docs/metrics.md``: all statuses 1..10, the three channels,
  early / on-the-due-date / late resolutions, resolutions months later, old dossiers still
  pending (overdue), fee-less procedures, zero fees, online payments, digitization flags and all
  feedback statuses and categories, including months without feedback for small districts.
- Personal data (``ChuHoSo``, ``SoDienThoai``, ``citizen_name``, ``phone``, ``content``) is present
  on every record on purpose: the pipeline must be seen to drop it.

The simulated systems' clock stands at :data:`DATA_NOW` (2027-01-01 00:00 local): nothing in the
data happens at or after it, so dossiers received in the last weeks of 2026 are mostly still open.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_FIRST_DAY",
    "DATA_NOW",
    "DEFAULT_TIMELINE",
    "DEFAULT_UNITS_PATH",
    "FIRST_MONTH",
    "LAST_MONTH",
    "REFORM_DATE",
    "UNITS_2025_PATH",
    "District",
    "Era",
    "Hierarchy",
    "Timeline",
    "Unit",
    "UnitsSource",
    "UnknownDistrictError",
    "default_timeline",
    "dossiers_for",
    "dossiers_in_window",
    "dossiers_received_in_month",
    "feedback_for",
    "feedback_in_window",
    "load_timeline",
    "load_units",
    "single",
]

_REFERENCE = Path(__file__).resolve().parent.parent / "include" / "reference"
#: The hierarchy before the 2025 reform (districts and their communes): what ``load_units()`` loads.
DEFAULT_UNITS_PATH = _REFERENCE / "units-dong-thap-2023.json"
#: The hierarchy after it (communes and wards reporting for themselves to province 82).
UNITS_2025_PATH = _REFERENCE / "units-dong-thap-2025.json"
#: The day the district level ceased to exist: periods ending after it are reported by communes and wards.
REFORM_DATE = date(2025, 7, 1)
#: What the server and the data functions serve by default: the 2023 units, then the 2025 ones.
DEFAULT_TIMELINE: tuple[tuple[date | None, Path], ...] = ((None, DEFAULT_UNITS_PATH), (REFORM_DATE, UNITS_2025_PATH))

#: First and last (year, month) for which records are generated (by ``NgayTiepNhan`` / ``received_at``).
FIRST_MONTH = (2022, 1)
LAST_MONTH = (2026, 12)

#: The simulated systems' "now" (local time): no timestamp in the data is at or after it.
DATA_NOW = datetime(2027, 1, 1)
#: The first day with records.
DATA_FIRST_DAY = date(*FIRST_MONTH, 1)

_DAY = 86_400
_HOUR = 3_600
_FIRST_MI = FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1
_LAST_MI = LAST_MONTH[0] * 12 + LAST_MONTH[1] - 1
_NOW_T = DATA_NOW.toordinal() * _DAY
# A record received in month m is kept in the long-open index when it is still open at the start of
# month m + _LOOKBACK_MONTHS; windows starting later then only need full months from there on.
_LOOKBACK_MONTHS = 3
_MONTH_CACHE_SIZE = 16
_WINDOW_CACHE_SIZE = 12


def _nfc(text: str) -> str:
    """Vietnamese text is served in NFC, whatever the editor saved."""
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------------------------
# Reference hierarchies and the timeline of which one is in force
# --------------------------------------------------------------------------------------------


class UnknownDistrictError(KeyError):
    """The code is not a reporting unit the request may name (the server answers 400 with :attr:`reason`)."""

    def __init__(self, code: str, reason: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason or f"{code!r} is not a reporting unit"

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class Unit:
    """A commune-level unit (5-digit GSO code)."""

    code: str
    name: str


@dataclass(frozen=True)
class District:
    """A reporting unit and the communes under it.

    Before the 2025 reform a district (3-digit GSO code) with its communes; after it a commune or ward
    (5-digit code) with no commune under it, which reports for itself: every dossier it handles has
    its own code as ``MaDonVi``. The class keeps its old name because the data's API speaks of districts.
    """

    code: str
    name: str
    communes: tuple[Unit, ...]

    @property
    def reports_for_itself(self) -> bool:
        """No commune under it: a commune or ward after the 2025 reform."""
        return not self.communes


@dataclass(frozen=True)
class Hierarchy:
    """The province and its reporting units, as loaded from a units JSON file.

    ``first_month`` is the first (year, month) with records: :data:`FIRST_MONTH` for a file served on
    its own, the month a hierarchy comes into force when it is part of a :class:`Timeline` (the
    communes and wards of 2025 did not exist before, so they have no records before it).
    """

    path: str
    province_code: str
    province_name: str
    districts: Mapping[str, District]
    first_month: tuple[int, int] = FIRST_MONTH

    def district(self, code: str) -> District:
        """Return the district or raise :class:`UnknownDistrictError`."""
        try:
            return self.districts[code]
        except KeyError:
            raise UnknownDistrictError(code) from None

    @property
    def two_tier(self) -> bool:
        """Every reporting unit reports for itself: the post-2025 structure (province, then communes and wards)."""
        return all(d.reports_for_itself for d in self.districts.values())

    def accepts(self, code: str) -> bool:
        """``code`` may be asked for: a reporting unit, or (two-tier only, as ``sources.md`` says) the province."""
        return code in self.districts or (self.two_tier and code == self.province_code)

    def is_province(self, code: str) -> bool:
        """``code`` asks for the whole province (every reporting unit), which only a two-tier hierarchy allows."""
        return self.two_tier and code == self.province_code

    def describe(self, code: str) -> str:
        """What ``code`` is in this hierarchy, for error messages: "a district-level unit of Tỉnh X (87)"."""
        where = f"{self.province_name} ({self.province_code})"
        if code == self.province_code:
            return f"the province {where}"
        unit = self.districts.get(code)
        if unit is None:
            return f"not a unit of {where}"
        return f"a {'commune-level' if unit.reports_for_itself else 'district-level'} unit of {where}"

    def served_units(self) -> str:
        """Which codes a request may name, for error messages."""
        where = f"{self.province_name} ({self.province_code})"
        if self.two_tier:
            return f"the communes and wards of {where}, or the province {self.province_code}"
        return f"the district-level units of {where}"


_units_lock = threading.Lock()
_units_cache: dict[tuple[str, tuple[int, int]], Hierarchy] = {}


def _resolve(units_path: str | Path | None) -> str:
    return str(Path(units_path).resolve() if units_path is not None else DEFAULT_UNITS_PATH)


def _code(raw: Any, digits: int) -> bool:
    return isinstance(raw, str) and len(raw) == digits and raw.isdigit()


def load_units(units_path: str | Path | None = None, *, first_month: tuple[int, int] = FIRST_MONTH) -> Hierarchy:
    """Load (once per path and first month) a hierarchy shaped like ``include/reference/units-*.json``.

    The file has ``province.code`` and ``reporting_units``, each either a district (3-digit ``code``)
    with ``children`` (communes, 5-digit ``code``), or, after the 2025 reform, a commune or ward
    (5-digit ``code``) with no children. Anything else in the file is ignored, so the simulator serves
    any province exported by ``scripts/make_units.py``.
    """
    key = _resolve(units_path)
    with _units_lock:
        cached = _units_cache.get((key, first_month))
        if cached is not None:
            return cached
        raw = json.loads(Path(key).read_text(encoding="utf-8"))
        try:
            province = raw["province"]
            units = raw["reporting_units"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{key}: expected keys 'province' and 'reporting_units'") from exc
        districts: dict[str, District] = {}
        for item in units:
            code = str(item["code"])
            children = item.get("children") or []
            if not children:
                # A commune or ward reporting for itself (the 2025 structure).
                if not _code(code, 5):
                    raise ValueError(f"{key}: reporting unit {code!r} has no communes and is not a 5-digit GSO code")
                districts[code] = District(code, _nfc(str(item.get("name", code))), ())
                continue
            if not _code(code, 3):
                raise ValueError(f"{key}: district code {code!r} is not a 3-digit GSO code")
            communes = []
            for child in children:
                ccode = str(child["code"])
                if not _code(ccode, 5):
                    raise ValueError(f"{key}: commune code {ccode!r} of {code} is not a 5-digit GSO code")
                communes.append(Unit(ccode, _nfc(str(child.get("name", ccode)))))
            districts[code] = District(code, _nfc(str(item.get("name", code))), tuple(communes))
        if not districts:
            raise ValueError(f"{key}: no reporting units")
        hierarchy = Hierarchy(key, str(province["code"]), _nfc(str(province.get("name", ""))), districts,
                              max(first_month, FIRST_MONTH))
        _units_cache[(key, first_month)] = hierarchy
        return hierarchy


@dataclass(frozen=True)
class Era:
    """A hierarchy and the days it is in force: ``[valid_from, valid_to)``, None for an open end."""

    valid_from: date | None
    valid_to: date | None
    hierarchy: Hierarchy

    def overlaps(self, start: date, end: date) -> bool:
        """In force on at least one day of ``[start, end)``."""
        return (self.valid_from is None or self.valid_from < end) and (self.valid_to is None or start < self.valid_to)

    def span(self) -> str:
        """"from 2025-07-01", "until 2025-06-30", "from ... until ...", or "always"."""
        parts = []
        if self.valid_from is not None:
            parts.append(f"from {self.valid_from.isoformat()}")
        if self.valid_to is not None:
            parts.append(f"until {date.fromordinal(self.valid_to.toordinal() - 1).isoformat()}")
        return " ".join(parts) or "always"


@dataclass(frozen=True)
class Timeline:
    """Which hierarchy is in force when: the simulator serves the units of the days a window asks for.

    The rule (``simulator/README.md``, "Which units a window may name"): a code is accepted for a
    window when it is a reporting unit (or, two-tier, the province) of a hierarchy in force on at least
    one day of the window that the data covers (:data:`DATA_FIRST_DAY` to the day before
    :data:`DATA_NOW`), and the answer comes from that hierarchy. On a window with no such day (2030,
    say) nothing tells whose units are in force, so every code of the timeline is accepted, as before
    the timeline existed; only dossiers that never finished reach that far.

    Why "some day of the window" rather than the day a period ends: clients ask for windows of any
    length (several years of a district at once), and ``sources.md`` names districts before the
    reform and communes and wards after it, so on a window across 2025-07-01 both are reporting units.
    A period of the pipeline (which belongs to the units in force on its last day) is always accepted.
    """

    eras: tuple[Era, ...]

    def resolve(self, code: str, start: date | None = None, end: date | None = None) -> Hierarchy:
        """The hierarchy that answers for ``code`` over ``[start, end)``, or :class:`UnknownDistrictError`.

        Without a window, the latest hierarchy that knows the code (for whole-history functions).
        """
        holding = [era for era in self.eras if era.hierarchy.accepts(code)]
        if not holding:
            provinces = " or ".join(dict.fromkeys(
                f"{e.hierarchy.province_name} ({e.hierarchy.province_code})" for e in self.eras))
            raise UnknownDistrictError(code, f"unknown district {code!r}: not a reporting unit of {provinces}")
        if start is None or end is None:
            return holding[-1].hierarchy
        lo, hi = max(start, DATA_FIRST_DAY), min(end, DATA_NOW.date())
        if lo >= hi:
            return holding[-1].hierarchy  # no day of the window has data: nothing to tell the units apart
        in_force = [era for era in holding if era.overlaps(lo, hi)]
        if in_force:
            return in_force[-1].hierarchy  # the latest, in force on the window's last day, if several are
        era = holding[-1]
        serving = [e for e in self.eras if e.overlaps(lo, hi)]
        instead = "; ".join(f"{e.hierarchy.served_units()} ({e.span()})" for e in serving) or "none"
        raise UnknownDistrictError(
            code,
            f"district {code!r} is not a reporting unit for [{start.isoformat()}, {end.isoformat()}): it is "
            f"{era.hierarchy.describe(code)}, in force {era.span()}; the units for those dates are {instead}",
        )


_timelines_lock = threading.Lock()
_timelines: dict[tuple[tuple[date | None, str], ...], Timeline] = {}


def load_timeline(spec: Sequence[tuple[date | None, str | Path]] | None = None) -> Timeline:
    """A timeline from ``(valid_from, units file)`` pairs (default :data:`DEFAULT_TIMELINE`), in date order.

    Only the first pair may have no date (in force since always); each date must be the first of a
    month, since records are generated per month and a unit exists from its first month on. Loaded
    once per spec, so its hierarchies (and the generators' caches behind them) are shared.
    """
    pairs = list(DEFAULT_TIMELINE if spec is None else spec)
    key = tuple((valid_from, _resolve(path)) for valid_from, path in pairs)
    with _timelines_lock:
        found = _timelines.get(key)
    if found is None:
        found = _build_timeline(pairs)
        with _timelines_lock:
            found = _timelines.setdefault(key, found)
    return found


def _build_timeline(pairs: list[tuple[date | None, str | Path]]) -> Timeline:
    if not pairs:
        raise ValueError("a timeline needs at least one units file")
    dates = [valid_from for valid_from, _ in pairs]
    if any(d is None for d in dates[1:]):
        raise ValueError("only the first units file of a timeline may have no valid-from date")
    known = [d for d in dates if d is not None]
    if known != sorted(set(known)):
        raise ValueError(f"valid-from dates of a timeline must increase: {[d.isoformat() for d in known]}")
    for d in known:
        if d.day != 1:
            raise ValueError(f"valid-from date {d.isoformat()} is not the first day of a month")
    eras = []
    for i, (valid_from, path) in enumerate(pairs):
        first = FIRST_MONTH if valid_from is None else (valid_from.year, valid_from.month)
        valid_to = pairs[i + 1][0] if i + 1 < len(pairs) else None
        eras.append(Era(valid_from, valid_to, load_units(path, first_month=first)))
    return Timeline(tuple(eras))


def single(hierarchy: Hierarchy) -> Timeline:
    """A timeline of one hierarchy in force always (``--units PATH``, ``units_path=``)."""
    return Timeline((Era(None, None, hierarchy),))


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Procedure:
    code: str
    name: str
    sector_code: str
    sector_name: str
    weight: int
    fee: tuple[int, int] | None  # VND range, None = the procedure has no fee or charge


_S_DD = ("G09-TN01", "Đất đai")
_S_HKD = ("G07-KH02", "Thành lập và hoạt động của hộ kinh doanh")
_S_XD = ("G11-XD03", "Hoạt động xây dựng")
_S_CT = ("G12-TP05", "Chứng thực")
_S_HT = ("G12-TP04", "Hộ tịch")
_S_GD = ("G06-GD01", "Giáo dục và Đào tạo")
_S_BTXH = ("G08-LD07", "Bảo trợ xã hội")
_S_NCC = ("G08-LD08", "Người có công")
_S_LT = ("G05-CT03", "Lưu thông hàng hóa trong nước")


def _proc(code: str, name: str, sector: tuple[str, str], weight: int, fee: tuple[int, int] | None) -> _Procedure:
    return _Procedure(code, _nfc(name), sector[0], _nfc(sector[1]), weight, fee)


# Procedures handled at the district's own one-stop desk (MaDonVi = district code).
_DISTRICT_PROCEDURES = (
    _proc("1.004227", "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác "
          "gắn liền với đất lần đầu", _S_DD, 12, (100_000, 500_000)),
    _proc("2.000889", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
          _S_DD, 18, (50_000, 300_000)),
    _proc("1.005399", "Cung cấp thông tin, dữ liệu đất đai", _S_DD, 5, None),
    _proc("2.000720", "Đăng ký thành lập hộ kinh doanh", _S_HKD, 9, (100_000, 100_000)),
    _proc("1.001612", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", _S_HKD, 5, (100_000, 100_000)),
    _proc("1.009972", "Cấp giấy phép xây dựng nhà ở riêng lẻ", _S_XD, 7, (75_000, 75_000)),
    _proc("2.000908", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam "
          "cấp hoặc chứng nhận", _S_CT, 14, (15_000, 60_000)),
    _proc("1.001766", "Đăng ký khai sinh có yếu tố nước ngoài", _S_HT, 1, (75_000, 75_000)),
    _proc("1.004438", "Chuyển trường đối với học sinh trung học cơ sở", _S_GD, 6, None),
    _proc("1.001776", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng", _S_BTXH, 9, None),
    _proc("1.003005", "Giải quyết chế độ trợ cấp thờ cúng liệt sĩ", _S_NCC, 4, None),
    _proc("2.000633", "Cấp Giấy phép bán lẻ rượu", _S_LT, 3, (200_000, 400_000)),
)

# Procedures handled at a commune's desk (MaDonVi = a commune code).
_COMMUNE_PROCEDURES = (
    _proc("1.001193", "Đăng ký khai sinh", _S_HT, 26, None),
    _proc("1.000894", "Đăng ký kết hôn", _S_HT, 8, None),
    _proc("1.000656", "Đăng ký khai tử", _S_HT, 6, None),
    _proc("1.004873", "Cấp bản sao Trích lục hộ tịch", _S_HT, 8, (15_000, 30_000)),
    _proc("1.004819", "Xác nhận tình trạng hôn nhân", _S_HT, 9, (15_000, 15_000)),
    _proc("2.000908", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của Việt Nam "
          "cấp hoặc chứng nhận", _S_CT, 24, (15_000, 60_000)),
    _proc("2.000815", "Chứng thực chữ ký trong các giấy tờ, văn bản", _S_CT, 10, (20_000, 20_000)),
    _proc("1.001776", "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng", _S_BTXH, 7, None),
)


def _cum(weights: Sequence[float]) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


_DISTRICT_PROC_CUM = _cum([p.weight for p in _DISTRICT_PROCEDURES])
_COMMUNE_PROC_CUM = _cum([p.weight for p in _COMMUNE_PROCEDURES])

_FAMILY = tuple(_nfc(s) for s in (
    "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô", "Hồ", "Dương",
    "Đinh", "Lâm", "Châu", "Tạ",
))
_FAMILY_CUM = _cum([38, 11, 9, 7, 6, 5, 4, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1])
_MIDDLE_M = tuple(_nfc(s) for s in ("Văn", "Minh", "Hoàng", "Quốc", "Hữu", "Thanh", "Công", "Đức", "Tấn"))
_MIDDLE_F = tuple(_nfc(s) for s in ("Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ", "Bích", "Thùy", "Hồng"))
_GIVEN_M = tuple(_nfc(s) for s in (
    "An", "Bình", "Cường", "Dũng", "Hùng", "Khoa", "Long", "Phúc", "Sơn", "Tâm", "Tuấn", "Thành", "Nghĩa", "Lộc",
    "Hiếu", "Trí", "Quang", "Đạt", "Vinh", "Phước",
))
_GIVEN_F = tuple(_nfc(s) for s in (
    "Lan", "Mai", "Hương", "Thảo", "Trang", "Vy", "Yến", "Nhung", "Oanh", "Hạnh", "Linh", "Ngân", "Phương", "Tuyết",
    "Diễm", "Hằng", "Loan", "Nga", "Xuân", "Châu",
))

# Monthly volume factors (Tết falls in January/February; year-end rush in December).
_SEASON = (1.00, 0.78, 1.05, 1.00, 1.02, 1.00, 0.98, 1.02, 1.00, 1.03, 1.05, 1.10)

# Open statuses (accepted, not finished): 2 accepted, 4 in process, 5 supplement requested, 6 awaiting fees.
_OPEN_STATUSES = (2, 4, 5, 6)
_OPEN_CUM = _cum([0.10, 0.60, 0.20, 0.10])

_FB_CHANNELS = ("phone", "zalo", "web", "email", "app")
_FB_CHANNEL_CUM = _cum([0.35, 0.20, 0.20, 0.10, 0.15])
_FB_OTHER_CATEGORIES = (
    "dat_dai", "moi_truong", "giao_thong", "an_ninh_trat_tu", "y_te", "giao_duc", "dien_nuoc", "khac",
)
_FB_OTHER_WEIGHTS = (0.22, 0.14, 0.14, 0.10, 0.08, 0.07, 0.13, 0.12)
_FB_SATISFACTION_CUM = _cum([0.05, 0.08, 0.17, 0.35, 0.35])
_FB_CONTENT = {
    "thu_tuc_hanh_chinh": (
        "Hồ sơ {what} nộp tại {unit} đã quá hạn trên giấy hẹn nhưng chưa có kết quả.",
        "Cán bộ tiếp nhận tại {unit} yêu cầu bổ sung giấy tờ nhiều lần đối với hồ sơ {what}.",
        "Đề nghị hướng dẫn rõ thành phần hồ sơ {what} trên Cổng dịch vụ công.",
    ),
    "dat_dai": (
        "Tranh chấp ranh giới đất với hộ liền kề tại {unit} chưa được giải quyết.",
        "Đề nghị kiểm tra việc san lấp mặt bằng trái phép tại {unit}.",
    ),
    "moi_truong": (
        "Cơ sở chăn nuôi tại {unit} xả nước thải gây ô nhiễm kênh nội đồng.",
        "Rác thải sinh hoạt tồn đọng nhiều ngày chưa được thu gom tại {unit}.",
    ),
    "giao_thong": (
        "Đường giao thông nông thôn tại {unit} xuống cấp, nhiều ổ gà gây nguy hiểm.",
        "Đề nghị lắp đặt biển báo tại ngã ba gần trường học ở {unit}.",
    ),
    "an_ninh_trat_tu": (
        "Tụ tập gây mất trật tự vào ban đêm tại {unit}.",
        "Phản ánh tình trạng đua xe trái phép trên tuyến đường thuộc {unit}.",
    ),
    "y_te": (
        "Trạm y tế {unit} thiếu thuốc điều trị bệnh mãn tính theo bảo hiểm y tế.",
        "Đề nghị phun thuốc phòng chống sốt xuất huyết tại {unit}.",
    ),
    "giao_duc": (
        "Phản ánh việc thu các khoản ngoài quy định tại trường học thuộc {unit}.",
        "Đề nghị sửa chữa phòng học xuống cấp tại điểm trường ở {unit}.",
    ),
    "dien_nuoc": (
        "Nước sinh hoạt tại {unit} bị đục, có mùi, đề nghị kiểm tra chất lượng.",
        "Mất điện thường xuyên không có thông báo trước tại {unit}.",
    ),
    "khac": (
        "Đề nghị hỗ trợ hộ nghèo bị ảnh hưởng do sạt lở bờ sông tại {unit}.",
        "Kiến nghị về việc chi trả chế độ chính sách chậm tại {unit}.",
    ),
}
_FB_CONTENT = {k: tuple(_nfc(t) for t in v) for k, v in _FB_CONTENT.items()}
_FB_WHAT = tuple(_nfc(s) for s in (
    "cấp giấy chứng nhận quyền sử dụng đất", "đăng ký hộ kinh doanh", "cấp giấy phép xây dựng", "đăng ký khai sinh",
    "chứng thực", "trợ cấp xã hội",
))

# --------------------------------------------------------------------------------------------
# Time helpers: a timestamp is an int, ordinal day * 86400 + second of the day (local time).
# --------------------------------------------------------------------------------------------

_day_compact: dict[int, str] = {}
_day_iso: dict[int, str] = {}
# "HHmmss" of every second of the day: formatting is the hot spot of generation, a lookup is cheap.
_SECONDS = [f"{h:02d}{m:02d}{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _ts(t: int) -> str:
    """Format a timestamp as ``yyyyMMddHHmmss`` (the one-stop system's format)."""
    d, s = divmod(t, _DAY)
    ds = _day_compact.get(d)
    if ds is None:
        ds = _day_compact[d] = date.fromordinal(d).strftime("%Y%m%d")
    return ds + _SECONDS[s]


def _iso(t: int) -> str:
    """Format a timestamp as ISO 8601 with the +07:00 offset (the hotline system's format)."""
    d, s = divmod(t, _DAY)
    ds = _day_iso.get(d)
    if ds is None:
        ds = _day_iso[d] = date.fromordinal(d).isoformat()
    h, rem = divmod(s, _HOUR)
    m, sec = divmod(rem, 60)
    return f"{ds}T{h:02d}:{m:02d}:{sec:02d}+07:00"


def _weekday(ordinal: int) -> int:
    """Monday = 0 (``date.fromordinal(1)`` is a Monday)."""
    return (ordinal - 1) % 7


def _add_workdays(ordinal: int, n: int) -> int:
    """Add n working days (Monday to Friday); a Saturday start counts from the next Monday."""
    weeks, rest = divmod(n, 5)
    o = ordinal + 7 * weeks
    while rest:
        o += 1
        if _weekday(o) < 5:
            rest -= 1
    while _weekday(o) >= 5:
        o += 1
    return o


def _mi(year: int, month: int) -> int:
    return year * 12 + month - 1


def _month_start_ordinal(mi: int) -> int:
    year, m0 = divmod(mi, 12)
    return date(year, m0 + 1, 1).toordinal()


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small means of the feedback volumes."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# --------------------------------------------------------------------------------------------
# Per-district generator
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Params:
    """Per-district characteristics, so districts differ the way real ones do."""

    base_volume: float
    district_share: float
    online0: float
    postal: float
    digitized: float
    digitized_result: float
    late_rate: float
    paid_online: float
    commune_cum: tuple[float, ...]
    feedback_rate: float
    feedback_procedures: float


def _params(province: str, district: District) -> _Params:
    rng = random.Random(f"params:{province}:{district.code}")
    n = len(district.communes)
    if not n:
        return _own_desk_params(rng, district)
    factor = rng.uniform(0.9, 1.1)
    return _Params(
        base_volume=(800 + 140 * n) * factor,
        district_share=rng.uniform(0.30, 0.45),
        online0=rng.uniform(0.20, 0.55),
        postal=rng.uniform(0.02, 0.06),
        # A few districts digitize every dossier at intake: their rate must come out exactly 100 %.
        digitized=1.0 if int(district.code) % 4 == 0 else rng.uniform(0.85, 0.99),
        digitized_result=rng.uniform(0.50, 0.90),
        late_rate=rng.uniform(0.02, 0.08),
        paid_online=rng.uniform(0.05, 0.40),
        commune_cum=tuple(_cum([rng.uniform(0.5, 1.5) for _ in district.communes])),
        feedback_rate=max(2.5, (1.1 * n - 4) * rng.uniform(0.85, 1.15)),
        feedback_procedures=rng.uniform(0.10, 0.25),
    )


def _own_desk_params(rng: random.Random, unit: District) -> _Params:
    """A commune or ward reporting for itself (after the 2025 reform): a commune's volume, not a district's.

    A merged commune covers two to four former communes and took over part of the former district
    desk's work, so it receives about 150 to 400 dossiers a month (a former commune here about 130, a
    former district 1,500 to 4,000); province 82's 102 units make about 33,000 a month in 2026, about as
    many as the twelve former districts of 87 here. That keeps a request for the whole province affordable: it
    generates every unit's months since the reform. ``district_share`` is the share of former
    district-level procedures (land, household business, construction...) now handled at its desk;
    every dossier has its own code as ``MaDonVi``. Feedback is 0.8 to 3 a month: many months without any.
    """
    return _Params(
        base_volume=rng.uniform(150, 400),
        district_share=rng.uniform(0.30, 0.45),
        online0=rng.uniform(0.20, 0.55),
        postal=rng.uniform(0.02, 0.06),
        digitized=1.0 if int(unit.code) % 4 == 0 else rng.uniform(0.85, 0.99),
        digitized_result=rng.uniform(0.50, 0.90),
        late_rate=rng.uniform(0.02, 0.08),
        paid_online=rng.uniform(0.05, 0.40),
        commune_cum=(),
        feedback_rate=rng.uniform(0.8, 3.0),
        feedback_procedures=rng.uniform(0.10, 0.25),
    )


class _DistrictData:
    """Generates and indexes one reporting unit's records; thread-safe via a per-unit lock."""

    def __init__(self, hierarchy: Hierarchy, district: District) -> None:
        self.province = hierarchy.province_code
        self.district = district
        # No records before the hierarchy's first month (its units did not exist yet).
        self.first_mi = _mi(*hierarchy.first_month)
        self.params = _params(self.province, district)
        self.lock = threading.RLock()
        # mi -> records received in month mi still open at the start of month mi + _LOOKBACK_MONTHS.
        self.long_open: dict[int, list[dict[str, Any]]] = {}
        self.feedback: dict[int, list[dict[str, Any]]] = {}

    # ---- dossiers ------------------------------------------------------------------------

    def month(self, mi: int) -> list[dict[str, Any]]:
        """All dossiers received in month ``mi``, ordered by ``MaHoSo`` (cached, bounded LRU)."""
        key = (id(self), mi)
        with _month_cache_lock:
            cached = _month_cache.get(key)
            if cached is not None:
                _month_cache.move_to_end(key)
                return cached
        with self.lock:
            with _month_cache_lock:
                cached = _month_cache.get(key)
            if cached is not None:  # another thread generated it while this one waited for the lock
                return cached
            records = self._generate_month(mi)
            if mi not in self.long_open:
                cut = _ts((_month_start_ordinal(mi + _LOOKBACK_MONTHS)) * _DAY)
                self.long_open[mi] = [
                    r for r in records if r["NgayKetThucXuLy"] is None or r["NgayKetThucXuLy"] >= cut
                ]
        with _month_cache_lock:
            _month_cache[key] = records
            _month_cache.move_to_end(key)
            while len(_month_cache) > _MONTH_CACHE_SIZE:
                _month_cache.popitem(last=False)
        return records

    def long_open_of(self, mi: int) -> list[dict[str, Any]]:
        """The long-open records of month ``mi`` (generates the month once if needed)."""
        found = self.long_open.get(mi)
        if found is None:
            self.month(mi)
            found = self.long_open[mi]
        return found

    def _generate_month(self, mi: int) -> list[dict[str, Any]]:
        year, m0 = divmod(mi, 12)
        month = m0 + 1
        p = self.params
        d = self.district
        rng = random.Random(f"dossiers:{self.province}:{d.code}:{year}-{month:02d}")
        r = rng.random

        n_accepted = round(p.base_volume * _SEASON[m0] * (1 + 0.03 * (year - 2022)) * rng.uniform(0.94, 1.06))
        recent = mi >= _LAST_MI - 1
        n_registered = round(n_accepted * (0.015 if recent else 0.003) * rng.uniform(0.7, 1.3))
        n_refused = round(n_accepted * rng.uniform(0.015, 0.03))
        online = min(0.70, p.online0 + 0.035 * (year - 2022))
        postal = p.postal

        first = date(year, month, 1).toordinal()
        nxt = _month_start_ordinal(mi + 1)
        weekdays = [o for o in range(first, nxt) if _weekday(o) < 5]
        saturdays = [o for o in range(first, nxt) if _weekday(o) == 5]

        # 1. Receipt times (kind 0 accepted, 1 registered online only, 2 refused at intake).
        raw: list[tuple[int, int]] = []
        kinds = [0] * n_accepted + [1] * n_registered + [2] * n_refused
        for kind in kinds:
            if saturdays and r() < 0.04:
                day = saturdays[int(r() * len(saturdays))]
                sec = 7 * _HOUR + 1800 + int(r() * 4 * _HOUR)
            else:
                day = weekdays[int(r() * len(weekdays))]
                sec = 7 * _HOUR + int(r() * 4.5 * _HOUR) if r() < 0.6 else 13 * _HOUR + int(r() * 4 * _HOUR)
            raw.append((day * _DAY + sec, kind))
        raw.sort()

        province, dcode = self.province, d.code
        communes = d.communes
        commune_cum = p.commune_cum
        commune_total = commune_cum[-1] if commune_cum else 0.0
        late_rate = p.late_rate
        records: list[dict[str, Any]] = []
        seq = 0
        current_day = -1
        prefix = ""
        for t_recv, kind in raw:
            recv_ord, recv_sec = divmod(t_recv, _DAY)
            if recv_ord != current_day:
                current_day, seq = recv_ord, 0
                prefix = f"H{province}.{dcode}-{_ts(t_recv)[2:8]}-"
            seq += 1

            # Handling unit and procedure.
            if r() < p.district_share:
                unit = dcode
                proc = _DISTRICT_PROCEDURES[bisect.bisect_left(_DISTRICT_PROC_CUM, r() * _DISTRICT_PROC_CUM[-1])]
            else:
                # A unit reporting for itself handles the commune procedures at its own desk too (and
                # draws nothing here, so a district's draws are the same as before such units existed).
                unit = communes[bisect.bisect_left(commune_cum, r() * commune_total)].code if communes else dcode
                proc = _COMMUNE_PROCEDURES[bisect.bisect_left(_COMMUNE_PROC_CUM, r() * _COMMUNE_PROC_CUM[-1])]
            if kind == 1:
                channel = 2
            else:
                x = r()
                channel = 2 if x < online else (3 if x < online + postal else 1)

            due: int | None = None
            end: int | None = None
            ret: int | None = None
            updated = t_recv
            if kind == 1:
                status = 1
            elif kind == 2:
                status = 3
                end = min(t_recv + 600 + int(r() * 3 * _HOUR), recv_ord * _DAY + _DAY - 1)
            else:
                due_ord = _add_workdays(recv_ord, 3 + int(r() * 18))
                due_sec = recv_sec if r() < 0.7 else 17 * _HOUR
                due = due_ord * _DAY + due_sec
                x = r()
                status = 9
                if x < 0.020:  # withdrawn by the applicant
                    status = 7
                    end = t_recv + _HOUR + int(r() * 15 * _DAY)
                elif x < 0.032:  # processing stopped
                    status = 8
                    end = t_recv + _DAY + int(r() * 24 * _DAY)
                elif x < 0.035:  # stuck: never finished
                    end = None
                elif x < 0.041:  # finished months after the due date
                    end = due + (30 + int(r() * 210)) * _DAY + int(r() * 8 * _HOUR)
                elif x < 0.041 + late_rate:  # late: later the same day or days after
                    if r() < 0.25:
                        end = due + 600 + int(r() * 5 * _HOUR)
                    else:
                        end = due + (1 + int(r() * 20)) * _DAY + int(r() * 4 * _HOUR)
                elif x < 0.20 + late_rate:  # on the due date itself, before the due time
                    lo = due_ord * _DAY + 7 * _HOUR
                    end = lo + int(r() * (due - 600 - lo)) if due - 600 > lo else due - 600
                else:  # early: a date before the due date
                    day = recv_ord + int(r() * (due_ord - recv_ord))
                    wd = _weekday(day)
                    if wd >= 5 and day - (wd - 4) >= recv_ord:
                        day -= wd - 4
                    sec = 7 * _HOUR + int(r() * 10 * _HOUR)
                    if day == recv_ord:
                        sec = min(max(sec, recv_sec + 1800), _DAY - 1)
                    end = day * _DAY + sec
                if end is None or end >= _NOW_T:
                    end = None
                    status = _OPEN_STATUSES[bisect.bisect_left(_OPEN_CUM, r())]
                    if status != 2:
                        updated = t_recv + int(r() * min(_NOW_T - 1 - t_recv, 30 * _DAY))
                elif status == 9:
                    ret = end + 600 + int(r() * 5 * _DAY)
                    if ret < _NOW_T and r() < 0.88:
                        status = 10
                    else:
                        ret = None

            if proc.fee is None:
                fee = None
            elif r() < 0.03:
                fee = {"SoTien": 0, "ThanhToanTrucTuyen": False}
            else:
                lo_fee, hi_fee = proc.fee
                amount = lo_fee + 1000 * int(r() * ((hi_fee - lo_fee) // 1000 + 1))
                fee = {"SoTien": amount, "ThanhToanTrucTuyen": r() < p.paid_online}

            if r() < 0.5:
                name = f"{_FAMILY[bisect.bisect_left(_FAMILY_CUM, r() * _FAMILY_CUM[-1])]} " \
                       f"{_MIDDLE_M[int(r() * len(_MIDDLE_M))]} {_GIVEN_M[int(r() * len(_GIVEN_M))]}"
            else:
                name = f"{_FAMILY[bisect.bisect_left(_FAMILY_CUM, r() * _FAMILY_CUM[-1])]} " \
                       f"{_MIDDLE_F[int(r() * len(_MIDDLE_F))]} {_GIVEN_F[int(r() * len(_GIVEN_F))]}"

            finished = status in (9, 10)
            latest = max(updated, end or 0, ret or 0)
            records.append({
                "MaHoSo": f"{prefix}{seq:04d}",
                "MaTTHC": proc.code,
                "TenTTHC": proc.name,
                "MaLinhVuc": proc.sector_code,
                "TenLinhVuc": proc.sector_name,
                "MaDonVi": unit,
                "KenhThucHien": channel,
                "NgayTiepNhan": _ts(t_recv),
                "NgayHenTra": None if due is None else _ts(due),
                "NgayKetThucXuLy": None if end is None else _ts(end),
                "NgayTra": None if ret is None else _ts(ret),
                "TrangThaiHoSo": status,
                "SoHoaHoSo": status != 1 and r() < p.digitized,
                "SoHoaKetQua": (r() < p.digitized_result) if finished else None,
                "LePhi": fee,
                "ChuHoSo": name,
                "SoDienThoai": f"09{int(r() * 100_000_000):08d}",
                "NgayCapNhat": _ts(latest),
            })
        return records

    def window(self, active_from: date, active_to: date) -> list[dict[str, Any]]:
        """Dossiers open at some moment of ``[active_from, active_to)``, ordered by ``MaHoSo``."""
        from_s = f"{active_from.year:04d}{active_from.month:02d}{active_from.day:02d}000000"
        to_s = f"{active_to.year:04d}{active_to.month:02d}{active_to.day:02d}000000"
        from_ord = active_from.toordinal()
        last_mi = min(_LAST_MI, _mi(active_to.year, active_to.month) - (1 if active_to.day == 1 else 0))
        out: list[dict[str, Any]] = []
        for mi in range(self.first_mi, last_mi + 1):
            # Records of month mi received before active_from - ~3 months can only be in the window
            # if they were still open at the start of mi + _LOOKBACK_MONTHS: the index holds them all.
            if _month_start_ordinal(mi + _LOOKBACK_MONTHS) <= from_ord:
                source = self.long_open_of(mi)
            else:
                source = self.month(mi)
            for rec in source:
                end = rec["NgayKetThucXuLy"]
                if rec["NgayTiepNhan"] < to_s and (end is None or end >= from_s):
                    out.append(rec)
        return out

    # ---- feedback ------------------------------------------------------------------------

    def feedback_month(self, mi: int) -> list[dict[str, Any]]:
        """All feedback received in month ``mi``, ordered by ``id`` = by ``received_at`` (cached)."""
        found = self.feedback.get(mi)
        if found is None:
            with self.lock:
                found = self.feedback.get(mi)
                if found is None:
                    found = self.feedback[mi] = self._generate_feedback(mi)
        return found

    def _generate_feedback(self, mi: int) -> list[dict[str, Any]]:
        year, m0 = divmod(mi, 12)
        month = m0 + 1
        p = self.params
        d = self.district
        rng = random.Random(f"feedback:{self.province}:{d.code}:{year}-{month:02d}")
        r = rng.random
        count = _poisson(rng, p.feedback_rate * _SEASON[m0] * rng.uniform(0.7, 1.3))
        first = date(year, month, 1).toordinal()
        n_days = _month_start_ordinal(mi + 1) - first
        times = sorted((first + int(r() * n_days)) * _DAY + 6 * _HOUR + int(r() * 16 * _HOUR) for _ in range(count))
        categories = ("thu_tuc_hanh_chinh", *_FB_OTHER_CATEGORIES)
        cat_cum = _cum([p.feedback_procedures, *(w * (1 - p.feedback_procedures) for w in _FB_OTHER_WEIGHTS)])
        units = (Unit(d.code, d.name), *d.communes)
        items: list[dict[str, Any]] = []
        for seq, t in enumerate(times, start=1):
            category = categories[bisect.bisect_left(cat_cum, r() * cat_cum[-1])]
            unit = units[0] if r() < 0.4 or not d.communes else units[1 + int(r() * (len(units) - 1))]
            due = t + (5 + int(r() * 11)) * _DAY
            x = r()
            answered: int | None = None
            if x < 0.04:
                status = "rejected"
            elif x < 0.10:
                status = "new" if r() < 0.4 else "processing"
            else:
                status = "answered"
                if r() < 0.12:  # answered late
                    answered = due + _HOUR + int(r() * 20 * _DAY)
                else:
                    answered = t + 2 * _HOUR + int(r() * (due - t - 2 * _HOUR))
                if answered >= _NOW_T:
                    status, answered = ("new" if _NOW_T - t < 2 * _DAY else "processing"), None
            satisfaction = None
            if answered is not None and r() < 0.65:
                satisfaction = 1 + bisect.bisect_left(_FB_SATISFACTION_CUM, r() * _FB_SATISFACTION_CUM[-1])
                if answered > due and satisfaction > 2 and r() < 0.5:
                    satisfaction -= 2
            templates = _FB_CONTENT[category]
            content = templates[int(r() * len(templates))].format(
                unit=unit.name, what=_FB_WHAT[int(r() * len(_FB_WHAT))]
            )
            if r() < 0.5:
                name = f"{_FAMILY[bisect.bisect_left(_FAMILY_CUM, r() * _FAMILY_CUM[-1])]} " \
                       f"{_MIDDLE_M[int(r() * len(_MIDDLE_M))]} {_GIVEN_M[int(r() * len(_GIVEN_M))]}"
            else:
                name = f"{_FAMILY[bisect.bisect_left(_FAMILY_CUM, r() * _FAMILY_CUM[-1])]} " \
                       f"{_MIDDLE_F[int(r() * len(_MIDDLE_F))]} {_GIVEN_F[int(r() * len(_GIVEN_F))]}"
            items.append({
                "id": f"PA-{self.province}-{d.code}-{year % 100:02d}{month:02d}-{seq:03d}",
                "received_at": _iso(t),
                "channel": _FB_CHANNELS[bisect.bisect_left(_FB_CHANNEL_CUM, r() * _FB_CHANNEL_CUM[-1])],
                "district_code": d.code,
                "unit_code": unit.code,
                "category": category,
                "status": status,
                "due_at": _iso(due),
                "answered_at": None if answered is None else _iso(answered),
                "satisfaction": satisfaction,
                "citizen_name": name,
                "phone": f"09{int(r() * 100_000_000):08d}",
                "content": content,
            })
        return items

    def feedback_window(self, received_from: date, received_to: date) -> list[dict[str, Any]]:
        """Feedback with ``received_at`` in ``[received_from, received_to)``, ordered by ``id``."""
        from_s = received_from.isoformat() + "T00:00:00"
        to_s = received_to.isoformat() + "T00:00:00"
        first = max(self.first_mi, _mi(received_from.year, received_from.month))
        last = min(_LAST_MI, _mi(received_to.year, received_to.month))
        out: list[dict[str, Any]] = []
        for mi in range(first, last + 1):
            for item in self.feedback_month(mi):
                if from_s <= item["received_at"][:19] < to_s:
                    out.append(item)
        return out


_month_cache_lock = threading.Lock()
_month_cache: OrderedDict[tuple[int, int], list[dict[str, Any]]] = OrderedDict()
_window_cache_lock = threading.Lock()
_WindowKey = tuple[str, int, date, date]
_window_cache: OrderedDict[_WindowKey, list[dict[str, Any]]] = OrderedDict()
_districts_lock = threading.Lock()
_districts: dict[tuple[str, tuple[int, int], str], _DistrictData] = {}

#: Where the units of a call come from: None for :func:`default_timeline`, a units file served on its
#: own (the ``units_path=`` of earlier releases), a loaded :class:`Hierarchy`, or a :class:`Timeline`.
UnitsSource = str | Path | Hierarchy | Timeline | None


def default_timeline() -> Timeline:
    """:data:`DEFAULT_TIMELINE`, loaded once: the 2023 districts, then from 2025-07-01 the 2025 communes and wards."""
    return load_timeline(DEFAULT_TIMELINE)


def _hierarchy_for(code: str, units: UnitsSource, start: date | None = None, end: date | None = None) -> Hierarchy:
    """The hierarchy answering for ``code`` (over ``[start, end)`` when given), or :class:`UnknownDistrictError`."""
    if isinstance(units, Timeline):
        return units.resolve(code, start, end)
    if units is None:
        return default_timeline().resolve(code, start, end)
    hierarchy = units if isinstance(units, Hierarchy) else load_units(units)
    if not hierarchy.accepts(code):
        raise UnknownDistrictError(
            code, f"unknown district {code!r}: not one of {hierarchy.served_units()}")
    return hierarchy


def _unit_data(hierarchy: Hierarchy, code: str) -> _DistrictData:
    district = hierarchy.district(code)
    key = (hierarchy.path, hierarchy.first_month, district.code)
    with _districts_lock:
        found = _districts.get(key)
        if found is None:
            found = _districts[key] = _DistrictData(hierarchy, district)
        return found


def _units_of(hierarchy: Hierarchy, code: str) -> list[_DistrictData]:
    """The generators behind ``code``: its own, or every reporting unit's for the province.

    In code order: a unit's records are ordered by ``MaHoSo`` / ``id``, both of which start with the
    unit's code, and the codes of a two-tier hierarchy have one length, so the concatenation is ordered.
    """
    if hierarchy.is_province(code):
        return [_unit_data(hierarchy, unit) for unit in sorted(hierarchy.districts)]
    return [_unit_data(hierarchy, code)]


def _copy(record: dict[str, Any]) -> dict[str, Any]:
    """A copy the caller may mutate without corrupting the cache (``LePhi`` is the only nested value)."""
    out = dict(record)
    fee = out.get("LePhi")
    if isinstance(fee, dict):
        out["LePhi"] = dict(fee)
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
#
# ``district_code`` is what the contract's ``district`` parameter names: a district (before the
# reform), a commune or ward (after it), or the province of a two-tier hierarchy (all its units).
# ``units_path`` is a :data:`UnitsSource`; by default the timeline of both bundled files.


def dossiers_for(district_code: str, units_path: UnitsSource = None) -> list[dict[str, Any]]:
    """Every dossier of a reporting unit (its own desk and its communes), all generated months, by ``MaHoSo``.

    Full records, personal data included, owned by the caller: filter them by the documented window
    rule to get what the server answers. Takes about a second for a district (about 120,000 to 220,000
    records). Raises :class:`UnknownDistrictError` for an unknown code.
    """
    hierarchy = _hierarchy_for(district_code, units_path)
    # Generated afresh rather than copied from the cache: as fast, and the caller owns the result.
    return [rec for data in _units_of(hierarchy, district_code)
            for mi in range(data.first_mi, _LAST_MI + 1) for rec in data._generate_month(mi)]


def dossiers_received_in_month(
    district_code: str, year: int, month: int, units_path: UnitsSource = None
) -> list[dict[str, Any]]:
    """The dossiers received in one month (cheap: generates that month only), by ``MaHoSo``."""
    hierarchy = _hierarchy_for(district_code, units_path)
    mi = _mi(year, month)
    return [_copy(rec) for data in _units_of(hierarchy, district_code) if data.first_mi <= mi <= _LAST_MI
            for rec in data.month(mi)]


def feedback_for(district_code: str, units_path: UnitsSource = None) -> list[dict[str, Any]]:
    """Every feedback item of a reporting unit, all generated months, ordered by ``id`` (= by ``received_at``
    within one unit)."""
    hierarchy = _hierarchy_for(district_code, units_path)
    return [dict(item) for data in _units_of(hierarchy, district_code)
            for mi in range(data.first_mi, _LAST_MI + 1) for item in data.feedback_month(mi)]


def dossiers_in_window(
    district_code: str, active_from: date, active_to: date, units_path: UnitsSource = None
) -> list[dict[str, Any]]:
    """What ``GET /api/v1/dossiers`` pages through: open at some moment of ``[active_from, active_to)``.

    The code must be one the window may name (:meth:`Timeline.resolve`), as for the server. Returns
    the cached records themselves (the server serializes them without copying): treat them as
    read-only. Results are cached per window, so paging does not refilter.
    """
    hierarchy = _hierarchy_for(district_code, units_path, active_from, active_to)
    units = _units_of(hierarchy, district_code)
    owner = id(units[0]) if len(units) == 1 else id(hierarchy)
    return _cached_window(("dossiers", owner, active_from, active_to),
                          lambda: [rec for data in units for rec in data.window(active_from, active_to)])


def feedback_in_window(
    district_code: str, received_from: date, received_to: date, units_path: UnitsSource = None
) -> list[dict[str, Any]]:
    """What ``GET /api/v2/feedback`` pages through: ``received_at`` in ``[received_from, received_to)``.

    Returns the cached items themselves: treat them as read-only.
    """
    hierarchy = _hierarchy_for(district_code, units_path, received_from, received_to)
    units = _units_of(hierarchy, district_code)
    owner = id(units[0]) if len(units) == 1 else id(hierarchy)
    return _cached_window(("feedback", owner, received_from, received_to),
                          lambda: [item for data in units for item in data.feedback_window(received_from, received_to)])


def _cached_window(key: _WindowKey, compute: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Small LRU of window answers: a client paging through thousands of records asks for one window many times.

    Keys hold ``id()`` of a per-district generator, which lives as long as the process, so ids are never reused.
    """
    with _window_cache_lock:
        found = _window_cache.get(key)
        if found is not None:
            _window_cache.move_to_end(key)
            return found
    found = compute()
    with _window_cache_lock:
        _window_cache[key] = found
        _window_cache.move_to_end(key)
        while len(_window_cache) > _WINDOW_CACHE_SIZE:
            _window_cache.popitem(last=False)
    return found
