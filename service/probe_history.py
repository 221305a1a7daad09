"""Stored probes compared: the one place the CLI (``probes diff``) and the API (``GET /v1/probes/{a}/diff/{b}``)
read two probes from the store and diff their reports (``probes.probe_diff``)."""

from __future__ import annotations

from framework_advisor.advice import UnknownProbe, UnusableProbe
from framework_advisor.models import ProbeJob
from framework_advisor.probes.probe_diff import ProbeDiff, diff_reports
from framework_advisor.storage import Store


def stored_probe(store: Store | None, probe_id: str) -> ProbeJob:
    """The stored probe ``probe_id``; UnknownProbe when the store does not hold it."""
    probe = store.get_probe(probe_id) if store is not None and probe_id else None
    if probe is None:
        raise UnknownProbe(probe_id)
    return probe


def with_report(probe: ProbeJob) -> ProbeJob:
    """``probe`` when it has a report; UnusableProbe (saying why not) otherwise."""
    if probe.report is None:
        why = f"it is {probe.status}" + (f" ({probe.error})" if probe.error else "")
        raise UnusableProbe(f"probe {probe.id!r} has no report to compare: {why}")
    return probe


def diff_stored(store: Store | None, a_id: str, b_id: str) -> ProbeDiff:
    """What changed from stored probe ``a_id`` to ``b_id``. Both ids are looked up before either report is
    required, so an unknown id is named even when the other probe has no report."""
    a, b = stored_probe(store, a_id), stored_probe(store, b_id)
    a, b = with_report(a), with_report(b)
    return diff_reports(a.id, a.report, b.id, b.report)
