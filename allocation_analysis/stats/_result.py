"""The common result type of every disparity test (docs/methods.md §3).

A test returns a :class:`TestResult` when one comparison is asked (``compared``
given) and a :class:`ResultSet` when several are (``compared=None``: every level
other than the reference), whatever the data hold. Both have a short ``repr``,
a French :meth:`~TestResult.summary`, a French HTML display for JupyterLab and a
plain-language :meth:`~TestResult.sentence_fr`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ResultSet", "TestResult", "package_results"]


@dataclass(frozen=True)
class TestResult:
    """Result of one statistical test or estimate.

    Unpacks as ``statistic, p_value`` so that ``stat, p = test(...)`` works.

    Attributes
    ----------
    name : str
        Short identifier of the test (e.g. ``"cmh"``).
    method : str
        Human-readable description of the method actually used.
    statistic : float
        Test statistic (NaN when the method has none).
    df : float
        Degrees of freedom (NaN when not applicable).
    p_value : float
        Two-sided p-value.
    estimate : float
        Effect estimate (odds ratio, hazard ratio, difference …).
    estimate_name : str
        What ``estimate`` is, e.g. ``"odds_ratio"``.
    ci_low, ci_high : float
        Confidence interval of ``estimate``.
    n : int
        Number of observations the result rests on.
    groups : tuple of str
        ``(reference, compared)``.
    warnings : tuple of str
        Plain-language warnings (degenerate input, underpowered, separation …).
    details : mapping
        Method-specific extras (per-stratum tables, contributions, curves …).
    alpha : float
        Level of the confidence interval (``1 - alpha``).
    """

    __test__ = False  # not a pytest test class

    name: str
    method: str
    statistic: float = math.nan
    df: float = math.nan
    p_value: float = math.nan
    estimate: float = math.nan
    estimate_name: str = ""
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    groups: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(str(g) for g in self.groups))
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))

    def __iter__(self) -> Iterator[float]:
        yield self.statistic
        yield self.p_value

    @property
    def reference(self) -> str | None:
        """The reference group (first of ``groups``), None without groups."""
        return self.groups[0] if self.groups else None

    @property
    def compared(self) -> str | None:
        """The compared group (second of ``groups``), None for fewer than two groups."""
        return self.groups[1] if len(self.groups) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        """Scalar fields as a plain dict (``details`` excluded)."""
        d = asdict(self)
        d.pop("details")
        d["groups"] = list(self.groups)
        d["warnings"] = list(self.warnings)
        d["reference"] = self.reference
        d["compared"] = self.compared
        return d

    def to_frame(self) -> pd.DataFrame:
        """One-row tidy DataFrame of the scalar fields."""
        d = self.to_dict()
        d["groups"] = " vs ".join(reversed(self.groups)) if self.groups else ""
        d["warnings"] = "; ".join(self.warnings)
        return pd.DataFrame([d])

    def with_warnings(self, *extra: str) -> TestResult:
        """A copy with more warnings appended."""
        from dataclasses import replace

        return replace(self, warnings=tuple(self.warnings) + tuple(extra))

    def __repr__(self) -> str:
        parts = [f"{self.name}:"]
        if self.groups:
            parts.append(" vs ".join(reversed(self.groups)))
        if self.estimate_name:
            ci = f" [{self.ci_low:.4g}, {self.ci_high:.4g}]" if not math.isnan(self.ci_low) else ""
            parts.append(f"{self.estimate_name}={self.estimate:.4g}{ci}")
        if not math.isnan(self.p_value):
            parts.append(f"p={self.p_value:.3g}")
        parts.append(f"n={self.n}")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s)")
        if self.details:
            parts.append("details: " + ", ".join(map(str, self.details)))
        return f"<TestResult {' '.join(parts)}>"

    def summary(self) -> str:
        """French plain-text summary: method, groups, estimate, interval, p-value, warnings.

        Numbers are written the French way (decimal comma); a Kaplan–Meier result
        lists its medians. See :func:`allocation_analysis.narrative.result_summary_fr`.
        """
        from allocation_analysis.narrative import result_summary_fr

        return result_summary_fr(self)

    def sentence_fr(self, *, alpha: float | None = None, outcome: str | None = None) -> str:
        """The result in one plain-language French sentence, as the report words it.

        See :func:`allocation_analysis.narrative.result_sentence_fr` for the
        parameters (significance level, question put at the head of the sentence).
        """
        from allocation_analysis.narrative import result_sentence_fr

        return result_sentence_fr(self, alpha=alpha, outcome=outcome)

    def _repr_html_(self) -> str:
        from allocation_analysis.narrative import result_html_fr

        return result_html_fr(self)


@dataclass(frozen=True)
class ResultSet(Sequence[TestResult]):
    """Several results, one per compared level of a multi-level group."""

    results: tuple[TestResult, ...]

    def __getitem__(self, i):  # type: ignore[override]
        return self.results[i]

    def __len__(self) -> int:
        return len(self.results)

    def by_group(self, compared: str) -> TestResult:
        """The result for one compared level."""
        for r in self.results:
            if r.compared == str(compared):
                return r
        raise KeyError(compared)

    def to_frame(self) -> pd.DataFrame:
        """One row per result."""
        if not self.results:
            return pd.DataFrame()
        return pd.concat([r.to_frame() for r in self.results], ignore_index=True)

    def __repr__(self) -> str:
        name = self.results[0].name if self.results else ""
        compared = ", ".join(str(r.compared) for r in self.results)
        return f"<ResultSet {name}: {len(self.results)} comparison(s) ({compared})>"

    def summary(self) -> str:
        """French plain-text summary, one block per comparison (see :meth:`TestResult.summary`)."""
        from allocation_analysis.narrative import result_summary_fr

        return result_summary_fr(self)

    def sentence_fr(self, *, alpha: float | None = None, outcome: str | None = None) -> str:
        """One French sentence per comparison (see :meth:`TestResult.sentence_fr`)."""
        from allocation_analysis.narrative import result_sentence_fr

        return result_sentence_fr(self, alpha=alpha, outcome=outcome)

    def _repr_html_(self) -> str:
        from allocation_analysis.narrative import result_html_fr

        return result_html_fr(self)


def package_results(results: Sequence[TestResult], compared: Any) -> TestResult | ResultSet:
    """The return value of a test: one result when one comparison was asked, else a set.

    Parameters
    ----------
    results : sequence of TestResult
        One result per compared level.
    compared : scalar or None
        The ``compared`` argument of the test: a level asks for one comparison
        (a :class:`TestResult`); ``None`` asks for every level other than the
        reference (a :class:`ResultSet`, even when the data hold a single other
        level), so that the type never depends on the data.
    """
    if compared is not None:
        return results[0]
    return ResultSet(tuple(results))
