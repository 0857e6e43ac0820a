"""Decomposition of a gap in an overall rate along the stages of a funnel.

An allocation is the end of a sequence of nested stages (a demand is
examined, proposed to a commission, ranked first, accepted …). The overall
rate of a group (last stage over all its rows) is the product of its
conditional rates (each stage over the previous one), so the log of the
ratio of the overall rates of two groups is exactly the sum of the logs of
the ratios of their conditional rates: each stage's share of the overall gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    check_dataframe,
    resolve_groups,
)
from allocation_analysis.stats.rates import wilson_interval

__all__ = ["FunnelDecomposition", "funnel_decomposition"]

#: Label of the overall row of :meth:`FunnelDecomposition.to_frame`.
OVERALL = "ensemble"


@dataclass(frozen=True)
class FunnelDecomposition:
    """Stage-by-stage decomposition of the log ratio of two groups' overall rates.

    Attributes
    ----------
    table : DataFrame
        One row per stage, in order: ``stage``; for ``g`` in ``reference``,
        ``compared``: ``base_<g>`` (rows at the previous stage; all the
        group's rows for the first stage), ``n_<g>`` (rows at this stage),
        ``rate_<g> = n_<g> / base_<g>`` (conditional rate, NaN when the base is
        0) and its Wilson interval ``rate_<g>_ci_low``, ``rate_<g>_ci_high``;
        then ``ratio`` (``rate_compared / rate_reference``), ``log_ratio``,
        ``share`` (``log_ratio / overall log_ratio``) and ``share_note`` (why
        ``share`` is NaN, in French; empty otherwise).
    overall : mapping
        The same quantities for the overall rates (last stage over all rows):
        ``base_reference``, ``n_reference``, ``rate_reference``, its interval,
        the same for ``compared``, ``ratio`` and ``log_ratio``.
    groups : tuple of str
        ``(reference, compared)``.
    n : int
        Rows of the two groups.
    warnings : tuple of str
        Plain-language warnings (in French).
    alpha : float
        The Wilson intervals have level ``1 - alpha``.
    """

    table: pd.DataFrame
    overall: Mapping[str, float]
    groups: tuple[str, str]
    n: int
    warnings: tuple[str, ...] = ()
    alpha: float = 0.05

    @property
    def reference(self) -> str:
        return self.groups[0]

    @property
    def compared(self) -> str:
        return self.groups[1]

    @property
    def log_ratio(self) -> float:
        """Log of the ratio of the overall rates, compared / reference."""
        return float(self.overall["log_ratio"])

    def to_frame(self) -> pd.DataFrame:
        """``table`` with a last row ``"ensemble"`` for the overall rates (share 1)."""
        row = {"stage": OVERALL, **self.overall}
        ok = math.isfinite(self.log_ratio) and self.log_ratio != 0
        row["share"] = 1.0 if ok else math.nan
        row["share_note"] = "" if ok else self.table["share_note"].iloc[-1]
        return pd.concat([self.table, pd.DataFrame([row])], ignore_index=True)


def _log_ratio(rate_cmp: float, rate_ref: float) -> float:
    """``log(rate_cmp) - log(rate_ref)``: ±inf for one zero rate, NaN for two or a NaN."""
    if math.isnan(rate_cmp) or math.isnan(rate_ref) or (rate_cmp == 0 and rate_ref == 0):
        return math.nan
    if rate_cmp == 0:
        return -math.inf
    if rate_ref == 0:
        return math.inf
    return math.log(rate_cmp) - math.log(rate_ref)


def _rate(n: int, base: int, alpha: float) -> tuple[float, float, float]:
    if base == 0:
        return math.nan, math.nan, math.nan
    lo, hi = wilson_interval(n, base, alpha=alpha)
    return n / base, lo, hi


def _stage_flags(df: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """The stage columns as nullable floats 0/1, a stage after a 0 set to 0 when missing."""
    flags = pd.DataFrame({s: check_binary(df, s, name="stages") for s in stages}, index=df.index)
    for prev, cur in zip(stages, stages[1:], strict=False):
        not_reached = flags[prev] == 0
        flags.loc[not_reached & flags[cur].isna(), cur] = 0.0
    return flags


def funnel_decomposition(
    df: pd.DataFrame,
    *,
    group: str,
    reference: Any,
    compared: Any,
    stages: Sequence[str],
    alpha: float = 0.05,
) -> FunnelDecomposition:
    """Decompose the gap between two groups' overall rates along nested stages.

    With stages ``1 .. K`` nested (every row that reaches stage ``j`` has
    reached stage ``j - 1``), a group's overall rate ``n_K / N`` (rows
    reaching the last stage over all its rows) is the product of its
    conditional rates ``r_j = n_j / n_{j-1}`` (``n_0 = N``). Hence, for the
    compared (c) and reference (r) groups,

    ``log(R_c / R_r) = sum_j log(r_{c,j} / r_{r,j})``

    exactly, and ``share_j = log(r_{c,j} / r_{r,j}) / log(R_c / R_r)`` is the
    part of the overall gap (on the log scale) that arises at stage ``j``;
    the shares sum to 1 (some may be negative, or above 1, when stages work
    in opposite directions). The conditional rates are the transition
    probabilities of a sequence of continuation decisions [1]_; their Wilson
    intervals [2]_ come from
    :func:`allocation_analysis.stats.rates.wilson_interval`.

    Parameters
    ----------
    df : DataFrame
        One row per unit entering the funnel (demand, candidacy …).
    group : str
        Column of the groups compared.
    reference : scalar
        Reference level of ``group``.
    compared : scalar
        Compared level of ``group``.
    stages : sequence of str
        Binary columns (booleans, 0/1, ``"oui"/"non"``), in the order of the
        funnel, each a subset of the previous one. A missing value at a stage
        after a stage the row did not reach counts as not reached; other rows
        with a missing stage or group are dropped, with a warning.
    alpha : float, default 0.05
        1 - level of the Wilson intervals of the rates.

    Returns
    -------
    FunnelDecomposition
        ``table`` (one row per stage: counts, conditional rates with their
        Wilson intervals for both groups, ``ratio``, ``log_ratio``, ``share``,
        ``share_note``) and ``overall`` (the overall rates, their ratio and
        ``log_ratio``); ``to_frame()`` stacks both.

    Raises
    ------
    ValueError
        For argument errors (unknown column, level, empty or repeated
        ``stages``, a stage that is not binary) and when the stages are not
        nested: some row reaches a stage without having reached the previous
        one (the message gives the number of such rows).

    Notes
    -----
    Shares are NaN, with the reason in ``share_note`` and a warning, when the
    overall log ratio is 0 (equal overall rates: nothing to share out) or is
    not finite, that is when a rate is 0 at some stage (its log is minus
    infinity, and the later stages have no rows) or a group is empty.
    Conditional rates and log ratios are still reported when they are
    defined. The identity is exact in real arithmetic; in floating point the
    sum of the stage log ratios equals the overall log ratio to about 1e-15
    per stage.

    References
    ----------
    .. [1] Mare, R. D. (1980). Social background and school continuation
       decisions. *JASA* 75(370), 295–305.
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22(158), 209–212.
    """
    check_dataframe(df)
    if isinstance(stages, str):
        stages = [stages]
    stages = list(stages)
    if not stages:
        raise ArgumentError("L'argument `stages` doit contenir au moins une colonne.")
    if len(set(stages)) != len(stages):
        dup = sorted({s for s in stages if stages.count(s) > 1})
        raise ArgumentError(f"L'argument `stages` contient des colonnes répétées : {dup}.")
    check_columns(df, group=group, stages=stages)
    if group in stages:
        raise ArgumentError("L'argument `stages` ne doit pas contenir la colonne `group`.")
    alpha = check_alpha(alpha)
    if compared is None:
        raise ArgumentError(
            "L'argument `compared` est obligatoire : indiquer la modalité de "
            f"{group!r} comparée à la référence."
        )
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    ref, cmp = str(reference), levels[0]
    flags = _stage_flags(df, stages)
    for prev, cur in zip(stages, stages[1:], strict=False):
        bad = int(((flags[cur] == 1) & (flags[prev] == 0)).sum())
        if bad:
            raise ArgumentError(
                f"Les étapes de `stages` ne sont pas emboîtées : {bad} ligne(s) ont "
                f"{cur!r} vrai alors que l'étape précédente {prev!r} est fausse. Chaque "
                "étape doit être un sous-ensemble de la précédente (dans l'ordre donné)."
            )
    g_txt = df[group].astype("string")
    in_groups = ((g_txt == ref) | (g_txt == cmp)).fillna(False).to_numpy(dtype=bool)
    flags = flags.loc[in_groups]
    g_txt = g_txt.loc[in_groups]
    warns: list[str] = []
    complete = flags.notna().all(axis=1)
    n_drop = int((~complete).sum())
    if n_drop:
        warns.append(
            f"{n_drop} ligne(s) écartée(s) sur {len(flags)} à cause de valeurs manquantes "
            f"dans les étapes {stages}."
        )
        flags, g_txt = flags.loc[complete], g_txt.loc[complete]
    is_cmp = (g_txt == cmp).to_numpy(dtype=bool)
    F = flags.to_numpy(dtype="float64") == 1.0
    counts = {}
    for label, rows in ((ref, ~is_cmp), (cmp, is_cmp)):
        counts[label] = [int(rows.sum()), *(int(c) for c in F[rows].sum(axis=0))]
    for label in (ref, cmp):
        if counts[label][0] == 0:
            warns.append(f"Le groupe {label!r} n'a aucune observation : taux non définis.")

    def group_cols(label: str, key: str, j_from: int, j_to: int) -> dict[str, float]:
        base, n = counts[label][j_from], counts[label][j_to]
        rate, lo, hi = _rate(n, base, alpha)
        return {
            f"base_{key}": base,
            f"n_{key}": n,
            f"rate_{key}": rate,
            f"rate_{key}_ci_low": lo,
            f"rate_{key}_ci_high": hi,
        }

    def ratios(row: dict[str, Any]) -> None:
        lr = _log_ratio(row["rate_compared"], row["rate_reference"])
        row["log_ratio"] = lr
        row["ratio"] = math.exp(lr) if not math.isnan(lr) else math.nan

    overall = {
        **group_cols(ref, "reference", 0, len(stages)),
        **group_cols(cmp, "compared", 0, len(stages)),
    }
    ratios(overall)
    total = overall["log_ratio"]
    note = ""
    if math.isnan(total) or math.isinf(total):
        zero = [
            f"{lab!r} à l'étape {stages[j - 1]!r}"
            for lab in (ref, cmp)
            for j in range(1, len(stages) + 1)
            if counts[lab][j - 1] > 0 and counts[lab][j] == 0
        ]
        if any(counts[lab][0] == 0 for lab in (ref, cmp)):
            note = "groupe vide : rapport global non défini"
        else:
            note = (
                "taux nul (" + ", ".join(zero) + ") : le logarithme du rapport global est "
                "infini ou non défini"
            )
    elif total == 0:
        note = "taux globaux égaux : rapport logarithmique global nul, rien à répartir"
    if note:
        warns.append(f"Parts des étapes dans l'écart global non définies : {note}.")
    rows = []
    for j, stage in enumerate(stages, start=1):
        row: dict[str, Any] = {
            "stage": stage,
            **group_cols(ref, "reference", j - 1, j),
            **group_cols(cmp, "compared", j - 1, j),
        }
        ratios(row)
        row["share"] = math.nan if note else row["log_ratio"] / total
        row["share_note"] = note
        rows.append(row)
    table = pd.DataFrame(rows)
    order = ["stage"]
    for key in ("reference", "compared"):
        order += [f"base_{key}", f"n_{key}", f"rate_{key}", f"rate_{key}_ci_low"]
        order += [f"rate_{key}_ci_high"]
    order += ["ratio", "log_ratio", "share", "share_note"]
    table = table[order]
    overall = {k: overall[k] for k in order if k in overall}
    return FunnelDecomposition(
        table=table,
        overall=overall,
        groups=(ref, cmp),
        n=int(len(flags)),
        warnings=tuple(warns),
        alpha=alpha,
    )
