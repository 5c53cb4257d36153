"""The policy (block / warn / quarantine and its limit) and the configuration that sets it, without GX."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tthc.config import Quality
from tthc.quality import BLOCK, QUARANTINE, WARN
from tthc.quality.checks import CHECKS, get_check
from tthc.quality.policy import block_message, decide
from tthc.quality.runner import Finding
from tthc.records import HOTLINE, ONE_STOP


def finding(check: str, severity: str, ids: list[str], source: str = "dossiers", observed: list[str] | None = None
            ) -> Finding:
    spec = get_check(source, check)
    return Finding(source, check, severity, spec.rule, spec.fix, bool(ids), [f"expect_something({check})"],
                   ids=sorted(ids), observed=observed or [])


def test_block_names_system_check_expectation_count_ids_and_fix() -> None:
    ids = [f"H87.872-231101-{n:04d}" for n in range(7)]
    outcome = decide("dossiers", [finding("finished_has_due_date", BLOCK, ids)], 4659, 46)
    assert outcome.blocked and outcome.quarantined_ids == [] and outcome.findings[0].outcome == "blocked"
    reason = outcome.blocking[0]
    assert reason.startswith(ONE_STOP)
    assert "7 of 4659 dossier(s)" in reason and "dossiers.finished_has_due_date" in reason
    assert "expect_something(finished_has_due_date)" in reason and get_check(
        "dossiers", "finished_has_due_date").fix in reason
    assert ", ".join(ids[:5]) + " and 2 more" in reason and ids[5] not in reason


def test_warn_keeps_the_records_and_says_so() -> None:
    outcome = decide("feedback", [finding("satisfaction_in_range", WARN, ["PA-1"], "feedback")], 13, 3)
    assert not outcome.blocked and outcome.quarantined_ids == []
    assert outcome.findings[0].outcome == "warned"
    assert outcome.warnings[0].startswith(HOTLINE) and "PA-1" in outcome.warnings[0] and "kept" in outcome.warnings[0]


def test_quarantine_within_the_limit_sets_the_union_of_ids_aside() -> None:
    found = [finding("time_format", QUARANTINE, ["a", "b"]), finding("unit_in_district", QUARANTINE, ["b", "c"])]
    outcome = decide("dossiers", found, 1000, 3)
    assert not outcome.blocked
    assert outcome.quarantined_ids == ["a", "b", "c"]
    assert {f.outcome for f in outcome.findings} == {"quarantined"}
    assert "3 of 1000 dossier(s) quarantined" in outcome.warnings[0]


def test_quarantine_above_the_limit_blocks_the_district() -> None:
    found = [finding("time_format", QUARANTINE, ["a", "b"]), finding("unit_in_district", QUARANTINE, ["c", "d"])]
    outcome = decide("dossiers", found, 100, 3)
    assert outcome.blocked and outcome.quarantined_ids == []
    assert {f.outcome for f in outcome.findings} == {"blocked"}
    assert "4 of 100 dossier(s)" in outcome.blocking[0] and "more than the 3" in outcome.blocking[0]


def test_quarantine_of_records_that_cannot_be_named_blocks() -> None:
    outcome = decide("dossiers", [finding("time_format", QUARANTINE, [], observed=["could not be evaluated: x"])],
                     100, 50)
    assert outcome.blocked and "quarantine needs the failing records named" in outcome.blocking[0]


def test_block_message_lists_every_reason_and_where_to_look() -> None:
    a = decide("dossiers", [finding("id_unique", BLOCK, ["x"])], 10, 3)
    b = decide("feedback", [finding("status_in_set", QUARANTINE, ["1", "2", "3", "4"], "feedback")], 10, 3)
    message = block_message("872", "Huyện Tháp Mười", "2023-11", [a, b], "/data/quality/2023-11/872/index.html")
    first = message.splitlines()[0]
    assert first.startswith("data quality blocks the report of Huyện Tháp Mười (872) for 2023-11 (and 1 more")
    assert ONE_STOP in first and "dossiers.id_unique" in first  # the first line alone says what and where
    assert ONE_STOP in message and HOTLINE in message
    assert "Quality results: /data/quality/2023-11/872/index.html." in message
    assert "include/config/pipeline.yaml" in message


@pytest.mark.parametrize(("settings", "records", "limit"), [
    ({}, 4659, 46),                                   # 1 %
    ({}, 13, 3),                                      # a small source may still set 3 aside
    ({}, 2, 2),                                       # never more than it has
    ({}, 0, 0),
    ({"quarantine_max_records": 10}, 4659, 10),        # an absolute cap
    ({"quarantine_max_share": None}, 50, 50),
    ({"quarantine_max_share": 0.0, "quarantine_min_records": 0}, 4659, 0),  # quarantine nothing: block
])
def test_quarantine_limit(settings: dict, records: int, limit: int) -> None:
    assert Quality(**settings).quarantine_limit(records) == limit


def test_defaults_and_overrides_of_severities() -> None:
    quality = Quality(checks={"dossiers": {"fee_non_negative": "warn"}})
    assert quality.severity("dossiers", "fee_non_negative") == WARN
    assert quality.severity("dossiers", "time_format") == QUARANTINE
    assert quality.severity("dossiers", "volume") == WARN
    assert quality.severity("metrics", "levels_add_up") == BLOCK
    assert all(c.default in c.allowed for c in CHECKS)


@pytest.mark.parametrize(("checks", "expected"), [
    ({"dossiers": {"no_such_check": "block"}}, "unknown check dossiers.no_such_check"),
    ({"dosiers": {"schema": "block"}}, "unknown source 'dosiers'"),
    ({"dossiers": {"time_format": "warn"}}, "not allowed for this check (allowed: block, quarantine)"),
    ({"dossiers": {"schema": "quarantine"}}, "dossiers.schema: severity 'quarantine' is not allowed"),
    ({"metrics": {"levels_add_up": "warn"}}, "metrics.levels_add_up"),
    ({"feedback": {"status_in_set": "ignore"}}, "is not one of block, warn, quarantine"),
])
def test_configuration_rejects_unknown_checks_and_forbidden_severities(checks: dict, expected: str) -> None:
    with pytest.raises(ValidationError, match="checks") as caught:
        Quality(checks=checks)
    assert expected in str(caught.value)


def test_bundled_configuration_lists_every_check_with_its_default() -> None:
    from tthc.config import load_config

    quality = load_config().quality
    listed = {(source, name) for source, checks in quality.checks.items() for name in checks}
    assert listed == {(c.source, c.name) for c in CHECKS}
    assert all(quality.checks[c.source][c.name] == c.default for c in CHECKS)
