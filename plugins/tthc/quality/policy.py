"""The policy: what the findings of one source mean for the district's report.

- ``block``: the district gets no report; its task fails with a message naming the source system,
  the check and its expectations, the count, a few offending ids and what to fix.
- ``warn``: the report is produced; the finding is in the task's warnings (run summary) and in the
  report's evidence file.
- ``quarantine``: the failing records are set aside (quarantine file), excluded from the metrics and
  counted in the evidence and the warnings, as long as the source's quarantined records stay within
  ``quality.quarantine_limit``; above it, or when the records cannot be named, the district is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tthc.quality import BLOCK, QUARANTINE, WARN
from tthc.quality.checks import RERUN, SYSTEMS
from tthc.quality.runner import Finding

SAMPLE_IDS = 5
# Said wherever a block is explained (the failed task's message, the results page): where the policy is set
# and how to rerun.
POLICY_HINT = ("Severities and quarantine limits: section 'quality' of include/config/pipeline.yaml. "
               f"After the fix, {RERUN}.")
NOUNS = {"dossiers": "dossier(s)", "feedback": "feedback item(s)", "inputs": "input file(s)", "metrics": "fact(s)"}


@dataclass
class SourceOutcome:
    """What the policy decided for one source of one district and period."""

    source: str
    records: int
    quarantine_limit: int
    findings: list[Finding] = field(default_factory=list)
    quarantined_ids: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)  # one sentence per reason the district is blocked
    warnings: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.blocking)

    def to_dict(self, max_ids: int | None = 1000) -> dict[str, Any]:
        return {
            "source": self.source,
            "system": SYSTEMS[self.source],
            "records": self.records,
            "quarantine_limit": self.quarantine_limit,
            "quarantined": len(self.quarantined_ids),
            "quarantined_ids": self.quarantined_ids,
            "blocked": self.blocked,
            "blocking": self.blocking,
            "warnings": self.warnings,
            "findings": [f.to_dict(max_ids) for f in self.findings],
        }


def sample(ids: list[str], limit: int = SAMPLE_IDS) -> str:
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _what(finding: Finding) -> str:
    return f"{finding.source}.{finding.check} ({finding.rule}; {'; '.join(finding.expectations[:3])})"


def _failure(finding: Finding, records: int, noun: str) -> str:
    """``7 of 4659 dossier(s), e.g. a, b fail check ...`` or, for a table-level check, what it observed."""
    if finding.ids:
        return f"{len(finding.ids)} of {records} {noun}, e.g. {sample(finding.ids)} fail check {_what(finding)}"
    return f"check {_what(finding)} failed: {'; '.join(finding.observed[:3]) or 'no details'}"


def decide(source: str, found: list[Finding], records: int, quarantine_limit: int) -> SourceOutcome:
    """Apply the severities (already on each finding) and the quarantine limit to one source's findings."""
    outcome = SourceOutcome(source, records, quarantine_limit, findings=found)
    system, noun = SYSTEMS[source], NOUNS[source]
    to_quarantine: list[Finding] = []
    for finding in found:
        if finding.severity == BLOCK or (finding.severity == QUARANTINE and not finding.record_level):
            finding.outcome = "blocked"
            why = "" if finding.severity == BLOCK else " (quarantine needs the failing records named)"
            outcome.blocking.append(f"{system}: {_failure(finding, records, noun)}{why}. Fix: {finding.fix}")
        elif finding.severity == QUARANTINE:
            to_quarantine.append(finding)
        elif finding.severity == WARN:
            finding.outcome = "warned"
            outcome.warnings.append(f"{system}: {_failure(finding, records, noun)}; kept (severity warn)")
    ids = sorted({i for finding in to_quarantine for i in finding.ids})
    if ids and len(ids) > quarantine_limit:
        for finding in to_quarantine:
            finding.outcome = "blocked"
        per_check = "; ".join(f"{f.check}: {len(f.ids)} (e.g. {sample(f.ids, 3)})" for f in to_quarantine)
        outcome.blocking.append(
            f"{system}: {len(ids)} of {records} {noun} fail quarantinable checks ({per_check}), more than the "
            f"{quarantine_limit} that may be set aside (quality.quarantine_max_share / quarantine_max_records / "
            f"quarantine_min_records). Fix: {to_quarantine[0].fix}")
    elif ids:
        for finding in to_quarantine:
            finding.outcome = "quarantined"
        outcome.quarantined_ids = ids
        per_check = ", ".join(f"{f.check} {len(f.ids)}" for f in to_quarantine)
        outcome.warnings.append(f"{system}: {len(ids)} of {records} {noun} quarantined, excluded from the "
                                f"metrics ({per_check}; e.g. {sample(ids)})")
    return outcome


def block_message(unit_code: str, unit_name: str, period_name: str, outcomes: list[SourceOutcome],
                  where: str) -> str:
    """The failed task's message: every blocking reason, where the results are, how the policy is set.

    The first line holds the first reason whole, since UIs and logs often show only that line.
    """
    reasons = [reason for outcome in outcomes for reason in outcome.blocking]
    more = f" (and {len(reasons) - 1} more blocking finding(s) below)" if len(reasons) > 1 else ""
    lines = [f"data quality blocks the report of {unit_name} ({unit_code}) for {period_name}{more}: {reasons[0]}"]
    lines += [f"  - {reason}" for reason in reasons[1:]]
    lines.append(f"  Quality results: {where}. {POLICY_HINT}")
    return "\n".join(lines)
