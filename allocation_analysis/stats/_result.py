"""The common result type of every disparity test (docs/methods.md §3)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ResultSet", "TestResult"]


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
        return self.groups[0] if self.groups else None

    @property
    def compared(self) -> str | None:
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

    def _repr_html_(self) -> str:
        def fmt(x: Any) -> str:
            if isinstance(x, float):
                return "NaN" if math.isnan(x) else f"{x:.4g}"
            return html.escape(str(x))

        rows = [
            ("méthode", self.method),
            ("groupes", " vs ".join(reversed(self.groups))),
            (self.estimate_name or "estimation", self.estimate),
            (f"IC {100 * (1 - self.alpha):.0f} %", f"[{fmt(self.ci_low)} ; {fmt(self.ci_high)}]"),
            ("statistique", self.statistic),
            ("ddl", self.df),
            ("p-valeur", self.p_value),
            ("n", self.n),
        ]
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows)
        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        warn_html = f"<ul>{warn}</ul>" if warn else ""
        return (
            f"<div><strong>{html.escape(self.name)}</strong><table>{body}</table>{warn_html}</div>"
        )


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

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False)
