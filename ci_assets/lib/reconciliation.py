"""One reconciliation for every ingest: received = accepted + duplicate + rejected + ignored.

- received: every input the step read (a record, a message, a document, a row of a dump);
- accepted: stored by this run;
- duplicate: received but already stored, or repeated within the run, so not stored again;
- rejected: quarantined with its reason (lib/quarantine.py);
- ignored: read and deliberately not stored (a message without a status, a file gone since it
  was listed, a series without a point), each system saying which in its own detail.

Every ingesting asset reports the five keys in its metadata and carries the asset check
`reconciles`, which fails when the sum does not hold; a system's own counts ride along under
their own names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

CHECK = "reconciles"
KEYS = ("received", "accepted", "duplicate", "rejected", "ignored")


@dataclasses.dataclass
class Tally:
    received: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    ignored: int = 0

    @property
    def balanced(self) -> bool:
        return self.received == self.accepted + self.duplicate + self.rejected + self.ignored

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, k) + getattr(other, k) for k in KEYS))

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in KEYS}

    @classmethod
    def total(cls, tallies: Iterable[Tally]) -> Tally:
        out = cls()
        for tally in tallies:
            out = out + tally
        return out


# A run in these states never recorded its materializations: what it stored is nobody's yet.
_UNREPORTED = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


def unreported_runs(instance: dg.DagsterInstance, run_ids: Iterable[str | None], current_run_id: str) -> set[str]:
    """Of the runs that stored rows a run now finds already stored, those whose materializations will
    never count them: this run itself (an earlier attempt of its step) and runs that failed or were
    canceled (killed after the write, before recording it; run monitoring marks them failed). Their
    rows are `accepted` by the run that finds them, not `duplicate`, so a crash leaves true numbers.
    A run that succeeded, is still going, or is unknown to the instance reported (or will report) its own."""
    found = {current_run_id} if current_run_id in set(run_ids) else set()
    for run_id in set(run_ids) - {None, current_run_id}:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in _UNREPORTED:
            found.add(run_id)
    return found


def check_spec(asset_key: dg.AssetKey | Iterable[str]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK,
        asset=dg.AssetKey(asset_key) if not isinstance(asset_key, dg.AssetKey) else asset_key,
        description="Every input is accounted for: received = accepted + duplicate + rejected + ignored.",
    )


def metadata(tally: Tally, detail: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The five keys, then the system's own counts."""
    return {**tally.as_dict(), **(detail or {})}


def check_result(
    asset_key: dg.AssetKey | Iterable[str], tally: Tally, parts: Mapping[str, Tally] | None = None
) -> dg.AssetCheckResult:
    """`reconciles` for the run's total; `parts` (per exchange, per partition, ...) must balance too."""
    unbalanced = sorted(name for name, part in (parts or {}).items() if not part.balanced)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(asset_key) if not isinstance(asset_key, dg.AssetKey) else asset_key,
        check_name=CHECK,
        passed=tally.balanced and not unbalanced,
        metadata={**tally.as_dict(), "unbalanced": unbalanced},
    )
