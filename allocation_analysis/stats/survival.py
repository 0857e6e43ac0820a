"""Waiting-time analyses: log-rank, Kaplan–Meier, Cox, cumulative incidence (docs/methods.md §2).

Conventions shared by the functions of this module:

* ``duration`` is the time from filing to the event or to censoring (days);
  ``entry`` (optional, every function) is the delayed-entry time in the same
  units: a row is in the risk set at time ``t`` when ``entry < t <= duration``,
  as in R ``Surv(entry, duration, event)``. The analysis frames of the report
  are left-truncated (a demand filed before the semester is only observed from
  its first day), so their waiting-time analyses always pass ``entry``;
  ignoring it puts demands in risk sets before they were observed and biases
  every comparison between groups that filed at different dates. A row with
  ``duration <= entry`` is a user error: the function raises with the count
  and examples, it never drops the row silently.
* ``event`` is coded as in the analysis frames: ``1`` the event of interest
  (allocation), ``0`` censored; any other code (``2`` = other closing) counts
  as censored for :func:`logrank`, :func:`kaplan_meier` and :func:`cox`, and as
  a competing event for :func:`cumulative_incidence`.
* Rows with a missing value in a used column are dropped with a warning that
  gives their number.

Everything is computed with numpy so that each formula can be checked against
R's ``survival`` and ``cmprsk`` (see ``tests/reference/make_reference_b.R``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import ResultSet, TestResult
from allocation_analysis.stats._separation import column_scales, is_separated
from allocation_analysis.stats._validation import (
    check_alpha,
    check_columns,
    check_dataframe,
    group_levels,
    resolve_groups,
)
from allocation_analysis.stats.regression import (
    _as_controls,
    design_controls,
    drop_degenerate_levels,
    drop_missing,
)
from allocation_analysis.text import fmt_p

__all__ = ["cox", "cumulative_incidence", "kaplan_meier", "logrank"]

logger = logging.getLogger(__name__)

_TOL = math.sqrt(np.finfo(float).eps)


# --------------------------------------------------------------------------- helpers
def _numeric(df: pd.DataFrame, column: str, arg: str) -> np.ndarray:
    s = df[column]
    if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
        raise ArgumentError(
            f"L'argument `{arg}` désigne la colonne {column!r}, qui doit être numérique "
            f"(type trouvé : {s.dtype})."
        )
    return s.to_numpy(dtype="float64")


def _check_durations(t: np.ndarray, arg: str = "duration") -> None:
    if np.any(t < 0):
        raise ArgumentError(f"L'argument `{arg}` désigne une colonne avec des durées négatives.")


def _event_indicator(e: np.ndarray) -> np.ndarray:
    return (e == 1).astype("float64")


def _entry_times(sub: pd.DataFrame, entry: str | None, stop: np.ndarray) -> np.ndarray:
    """Delayed-entry times of the rows (``-inf`` without ``entry``), checked.

    Raises
    ------
    ValueError
        When a row has ``duration <= entry`` (it would never be at risk), with
        their number and up to five row labels.
    """
    if entry is None:
        return np.full(stop.shape, -np.inf)
    start = _numeric(sub, entry, "entry")
    bad = ~(start < stop)
    if bad.any():
        labels = ", ".join(str(v) for v in sub.index[bad][:5])
        raise ArgumentError(
            f"L'argument `entry` désigne la colonne {entry!r} : {int(bad.sum())} ligne(s) ont "
            f"une durée inférieure ou égale à leur entrée (jamais à risque), par exemple les "
            f"lignes {labels}. Le risque court de `entry` (exclu) à `duration` (inclus) : "
            "corrigez ces lignes ou retirez-les avant l'analyse."
        )
    return start


def _at_risk(start: np.ndarray, stop: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Number of rows with ``start < t <= stop`` at each of ``times``."""
    n_in = np.searchsorted(np.sort(start), times, side="left")
    n_out = np.searchsorted(np.sort(stop), times, side="left")
    return (n_in - n_out).astype("float64")


# --------------------------------------------------------------------------- log-rank
def _logrank_stratum(t: np.ndarray, d: np.ndarray, gi: np.ndarray, k: int, start: np.ndarray):
    """Observed, expected and variance matrix of one stratum (k groups).

    Risk sets are ``start < t <= stop`` (counting process).
    """
    ev_times = np.unique(t[d == 1])
    obs = np.zeros(k)
    E = np.zeros(k)
    V = np.zeros((k, k))
    if ev_times.size == 0:
        return obs, E, V
    n_j = np.zeros((ev_times.size, k))
    d_j = np.zeros((ev_times.size, k))
    for j in range(k):
        n_j[:, j] = _at_risk(start[gi == j], t[gi == j], ev_times)
        ej = np.sort(t[(gi == j) & (d == 1)])
        d_j[:, j] = np.searchsorted(ej, ev_times, side="right") - np.searchsorted(
            ej, ev_times, side="left"
        )
    n = n_j.sum(axis=1)
    dd = d_j.sum(axis=1)
    obs = d_j.sum(axis=0)
    E = (dd[:, None] * n_j / n[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(n > 1, dd * (n - dd) / (n - 1), 0.0)
    frac = n_j / n[:, None]
    V = np.einsum("t,tj->j", c, frac) * np.eye(k) - np.einsum("t,tj,tl->jl", c, frac, frac)
    return obs, E, V


def logrank(
    df: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    strata: str | None = None,
    entry: str | None = None,
) -> TestResult:
    """Log-rank test of equal hazards across the levels of ``group``.

    The k-sample statistic ``(obs - E)' V^- (obs - E)`` with ``df = k - 1``, where
    ``obs``/``E`` are observed/expected event counts and ``V`` the hypergeometric
    variance matrix. With ``strata``, ``obs - E`` and ``V`` are summed over the
    strata (R ``survdiff(Surv(t, e) ~ g + strata(s))``). Identical to R
    ``survival::survdiff`` with ``rho = 0``.

    With ``entry`` (delayed entry, left truncation) the risk set at an event
    time ``t`` holds the rows with ``entry < t <= duration``. The statistic is
    then the score test at ``beta = 0`` of the Cox model on counting-process
    data with the *exact* (discrete, conditional-logistic) partial
    likelihood: its score is ``obs - E`` and its information the
    hypergeometric variance, R
    ``coxph(Surv(entry, duration, event) ~ g + strata(s), ties = "exact")$score``
    (``survdiff`` does not accept counting-process data). That tie handling
    is the one for which the score test equals the classical log-rank when
    nobody enters late: Breslow's gives the same score but a variance without
    the ``(n - d) / (n - 1)`` factor, Efron's moves the score too; all agree
    without tied event times.

    Parameters
    ----------
    df : DataFrame
    duration : str
        Time to event or censoring.
    event : str
        1 = event, anything else = censored.
    group : str
        Groups compared (every non-empty level).
    strata : str, optional
        Stratification column.
    entry : str, optional
        Delayed-entry time, in the units of ``duration`` (rows with
        ``duration <= entry`` raise a ``ValueError``).

    Returns
    -------
    TestResult
        ``statistic`` = chi-square, ``df`` = (number of groups with rows) − 1,
        no estimate (``estimate_name=""``); ``details``: ``observed``,
        ``expected`` (per group, summed over strata), ``variance`` (matrix),
        ``n_by_group``, ``n_strata``.

    References
    ----------
    .. [1] Mantel, N. (1966). Evaluation of survival data and two new rank
       order statistics arising in its consideration. *Cancer Chemother. Rep.* 50, 163–170.
    .. [2] Peto, R. and Peto, J. (1972). Asymptotically efficient rank invariant
       test procedures. *JRSS A* 135, 185–207.
    .. [3] Therneau, T. M. (2024). *survival: Survival analysis*, R package, ``survdiff``.
    .. [4] Therneau, T. M. and Grambsch, P. M. (2000). *Modeling Survival
       Data: Extending the Cox Model*, Springer, §3.3 (the log-rank as a score
       test, tied times) and §3.7 (delayed entry).
    .. [5] Klein, J. P. and Moeschberger, M. L. (2003). *Survival Analysis*,
       2nd ed., Springer, §4.6 and §7.3 (left-truncated data).
    """
    check_dataframe(df)
    check_columns(df, duration=duration, event=event, group=group, strata=strata, entry=entry)
    sub, warns = drop_missing(df, [duration, event, group, strata, entry])
    t = _numeric(sub, duration, "duration")
    _check_durations(t)
    start = _entry_times(sub, entry, t)
    d = _event_indicator(_numeric(sub, event, "event"))
    all_levels = group_levels(df, group)
    g_txt = sub[group].astype(str).to_numpy()
    levels = [lv for lv in all_levels if np.any(g_txt == lv)]
    empty = [lv for lv in all_levels if lv not in levels]
    if empty:
        warns.append(f"Groupe(s) sans observation, exclu(s) du test : {empty}.")
    name, method = "logrank", "test du log-rank (Mantel–Haenszel)"
    if strata is not None:
        method += f", stratifié sur {strata!r}"
    if entry is not None:
        method += ", entrée retardée"
    k = len(levels)
    n_by = {lv: int(np.sum(g_txt == lv)) for lv in levels}
    base = dict(name=name, method=method, n=len(sub), groups=tuple(levels), alpha=0.05)
    if k < 2:
        warns.append("Moins de deux groupes avec des observations : test non défini.")
        return TestResult(**base, warnings=tuple(warns), details={"n_by_group": n_by})
    pos = {lv: i for i, lv in enumerate(levels)}
    gi = np.array([pos[v] for v in g_txt], dtype=int)
    obs, E, V = np.zeros(k), np.zeros(k), np.zeros((k, k))
    s_codes = np.zeros(len(sub), dtype=int) if strata is None else pd.factorize(sub[strata])[0]
    n_strata = int(s_codes.max()) + 1 if len(sub) else 0
    single = 0
    for s in range(n_strata):
        m = s_codes == s
        single += int(m.sum() == 1)
        o, e, v = _logrank_stratum(t[m], d[m], gi[m], k, start[m])
        obs += o
        E += e
        V += v
    if single:
        warns.append(
            f"{single} strate(s) ne contiennent qu'une observation et n'apportent rien au test."
        )
    details = {
        "observed": dict(zip(levels, obs.tolist(), strict=True)),
        "expected": dict(zip(levels, E.tolist(), strict=True)),
        "variance": V,
        "n_by_group": n_by,
        "n_strata": n_strata,
    }
    if obs.sum() == 0:
        warns.append("Aucun événement observé : test du log-rank non défini.")
        return TestResult(**base, warnings=tuple(warns), details=details)
    diff = (obs - E)[1:]
    Vr = V[1:, 1:]
    rank = int(np.linalg.matrix_rank(Vr))
    if rank < k - 1:
        warns.append(
            "Matrice de variance singulière (un groupe sans sujet à risque aux temps "
            "d'événement) : inverse généralisée utilisée."
        )
    chi2 = float(diff @ np.linalg.pinv(Vr) @ diff)
    dfree = rank
    p = float(sps.chi2.sf(chi2, dfree)) if dfree > 0 else math.nan
    if dfree == 0:
        warns.append("Variance nulle : test non défini.")
        chi2 = math.nan
    return TestResult(
        **base, statistic=chi2, df=float(dfree), p_value=p, warnings=tuple(warns), details=details
    )


# --------------------------------------------------------------------------- Kaplan–Meier
def _km_table(t: np.ndarray, d: np.ndarray, z: float, start: np.ndarray) -> pd.DataFrame:
    """Kaplan–Meier table at the distinct exit times (events and censorings).

    Numbers at risk are ``#(start < time <= stop)`` (delayed entry).
    """
    times, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=d, minlength=times.size)
    n_all = np.bincount(inv, minlength=times.size).astype(float)
    n_risk = _at_risk(start, t, times)
    surv = np.cumprod(1 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        se_log = np.sqrt(np.cumsum(inc))  # standard error of log S (Greenwood)
        xx = np.where((surv > 0) & (surv < 1), surv, np.nan)
        a = np.log(-np.log(xx))
        b = z * se_log / np.log(xx)
        l1 = np.exp(-np.exp(a + b))
        l2 = np.exp(-np.exp(a - b))
    lower = np.fmin(l1, l2)
    upper = np.fmax(l1, l2)
    return pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk,
            "n_event": n_event,
            "n_censor": n_all - n_event,
            "surv": surv,
            "std_err_log": se_log,
            "lower": lower,
            "upper": upper,
        }
    )


def _first_below(times: np.ndarray, y: np.ndarray, p: float = 0.5) -> float:
    """Quantile rule of R ``quantile.survfit``: first time the curve reaches ``p``;
    when the curve is flat at exactly ``p`` the midpoint to the next drop."""
    ok = np.nonzero(np.nan_to_num(y, nan=2.0) <= p + _TOL)[0]
    if ok.size == 0:
        return math.nan
    i = ok[0]
    if abs(y[i] - p) < _TOL:
        later = np.nonzero(np.nan_to_num(y, nan=2.0) < y[i] - _TOL)[0]
        later = later[later > i]
        if later.size:
            return float((times[i] + times[later[0]]) / 2)
    return float(times[i])


def _km_at(
    table: pd.DataFrame, at: Sequence[float], start: np.ndarray, stop: np.ndarray
) -> pd.DataFrame:
    """Curve values at given times (right-continuous step function).

    Beyond the last observed time of the group the curve is unknown: NaN.
    """
    idx = np.searchsorted(table["time"].to_numpy(), np.asarray(at, dtype=float), side="right") - 1
    cols = ["surv", "lower", "upper", "std_err_log"]
    out = {"time": np.asarray(at, dtype=float)}
    for c in cols:
        v = table[c].to_numpy()
        first = {"surv": 1.0, "std_err_log": 0.0}.get(c, math.nan)
        vals = np.where(idx >= 0, v[np.clip(idx, 0, None)], first)
        out[c] = np.where(out["time"] > stop.max(), math.nan, vals)
    out["n_risk"] = _at_risk(start, stop, out["time"])
    return pd.DataFrame(out)


def kaplan_meier(
    df: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    alpha: float = 0.05,
    times: Sequence[float] | None = None,
    entry: str | None = None,
) -> TestResult:
    """Kaplan–Meier survival curves and median waiting times per group.

    With ``entry`` (delayed entry) the number at risk at ``t`` counts the rows
    with ``entry < t <= duration`` (R ``survfit(Surv(entry, duration, event) ~ g)``);
    curves, Greenwood variances, limits and medians all use it. The curve is
    then conditional on being observed: with few rows entering early it can
    drop steeply at the start, which the warnings flag (fewer than ten rows at
    risk at a step of the curve).

    Pointwise confidence intervals use the log-log transform with Greenwood's
    variance (R ``survfit(..., conf.type = "log-log")``; note R's default is
    ``"log"``). The median and its confidence limits follow
    ``quantile.survfit``: the first time the curve (resp. the lower and the
    upper limit curves) falls to 0.5 or below, the midpoint to the next drop
    when the curve is exactly 0.5 on an interval; NaN when never reached.

    Parameters
    ----------
    df : DataFrame
    duration, event, group : str
        Columns; ``event`` = 1 is the event, anything else censored.
    alpha : float, default 0.05
    times : sequence of float, optional
        Times at which ``details["at_times"]`` reports the curves (NaN after
        the group's last observed time).
    entry : str, optional
        Delayed-entry time, in the units of ``duration`` (rows with
        ``duration <= entry`` raise a ``ValueError``).

    Returns
    -------
    TestResult
        No test (``statistic`` NaN; use :func:`logrank`); ``details``:
        ``curves`` (group → DataFrame with ``time, n_risk, n_event, n_censor,
        surv, std_err_log, lower, upper``), ``medians`` (DataFrame, one row per
        group: ``n, events, median, median_low, median_high``), ``at_times``
        (group → DataFrame) when ``times`` is given.

    References
    ----------
    .. [1] Kaplan, E. L. and Meier, P. (1958). Nonparametric estimation from
       incomplete observations. *JASA* 53, 457–481.
    .. [2] Kalbfleisch, J. D. and Prentice, R. L. (2002). *The Statistical
       Analysis of Failure Time Data*, 2nd ed., Wiley, §1.4 (log-log interval).
    .. [3] Brookmeyer, R. and Crowley, J. (1982). A confidence interval for the
       median survival time. *Biometrics* 38, 29–41.
    .. [4] Tsai, W.-Y., Jewell, N. P. and Wang, M.-C. (1987). A note on the
       product-limit estimator under right censoring and left truncation.
       *Biometrika* 74, 883–886.
    """
    check_dataframe(df)
    check_columns(df, duration=duration, event=event, group=group, entry=entry)
    alpha = check_alpha(alpha)
    z = float(sps.norm.ppf(1 - alpha / 2))
    sub, warns = drop_missing(df, [duration, event, group, entry])
    t = _numeric(sub, duration, "duration")
    _check_durations(t)
    start = _entry_times(sub, entry, t)
    d = _event_indicator(_numeric(sub, event, "event"))
    g_txt = sub[group].astype(str).to_numpy()
    curves, at_times, rows = {}, {}, []
    for lv in group_levels(df, group):
        m = g_txt == lv
        if not m.any():
            warns.append(f"Le groupe {lv!r} n'a aucune observation : pas de courbe.")
            rows.append({"group": lv, "n": 0, "events": 0, "median": math.nan})
            continue
        tab = _km_table(t[m], d[m], z, start[m])
        curves[lv] = tab
        if entry is not None and np.any(tab["n_risk"][tab["n_event"] > 0] < 10):
            warns.append(
                f"Groupe {lv!r} : moins de dix demandes à risque à certains temps "
                "d'événement (entrée retardée) ; la courbe y est imprécise."
            )
        if d[m].sum() == 0:
            warns.append(f"Aucun événement dans le groupe {lv!r} : survie constante à 1.")
        ev = tab[tab["n_event"] > 0]
        tt = ev["time"].to_numpy()
        med = _first_below(tt, ev["surv"].to_numpy())
        if math.isnan(med) and d[m].sum() > 0:
            warns.append(f"Médiane non atteinte dans le groupe {lv!r}.")
        rows.append(
            {
                "group": lv,
                "n": int(m.sum()),
                "events": int(d[m].sum()),
                "median": med,
                "median_low": _first_below(tt, ev["lower"].to_numpy()),
                "median_high": _first_below(tt, ev["upper"].to_numpy()),
            }
        )
        if times is not None:
            at_times[lv] = _km_at(tab, times, start[m], t[m])
    details = {"curves": curves, "medians": pd.DataFrame(rows), "conf_type": "log-log"}
    if times is not None:
        details["at_times"] = at_times
    return TestResult(
        name="kaplan_meier",
        method="estimateur de Kaplan–Meier, IC log-log (Greenwood)"
        + (", entrée retardée" if entry is not None else ""),
        n=len(sub),
        groups=tuple(curves),
        warnings=tuple(warns),
        details=details,
        alpha=alpha,
    )


# --------------------------------------------------------------------------- Cox (Efron)
_BLOCK = 1 << 18  # rows per block of the information matrix products


class _Stratum:
    """Precomputed risk-set structure of one stratum for the Efron partial likelihood."""

    def __init__(
        self, start: np.ndarray, stop: np.ndarray, d: np.ndarray, rows: np.ndarray | slice
    ):
        self.rows = rows
        self.start, self.stop, self.d = start, stop, d
        ev = np.nonzero(d == 1)[0]
        self.ev_times = np.unique(stop[ev])
        m = self.ev_times.size
        self.ev_rows = ev
        self.ev_tidx = np.searchsorted(self.ev_times, stop[ev])
        self.n_dead = np.bincount(self.ev_tidx, minlength=m).astype(float)
        # tie rank of each event within its time (0 … d-1)
        order = np.argsort(self.ev_tidx, kind="stable")
        ranks = np.empty(ev.size, dtype=float)
        first = np.searchsorted(self.ev_tidx[order], np.arange(m))
        ranks[order] = np.arange(ev.size) - np.repeat(first, self.n_dead.astype(int))
        self.frac = ranks / self.n_dead[self.ev_tidx]
        n = stop.size
        # risk-set sums are tail sums in time order: with subjects sorted by
        # stop (start) time, the subjects with stop >= t (start >= t) are the
        # rows from position pos on; pos == n when there are none
        stop_order = np.argsort(stop, kind="stable")
        start_order = np.argsort(start, kind="stable")
        self.pos_stop = np.searchsorted(stop[stop_order], self.ev_times, side="left")
        self.pos_start = np.searchsorted(start[start_order], self.ev_times, side="left")
        in_order = not np.any(stop_order[1:] < stop_order[:-1])
        self.stop_order = None if in_order else stop_order  # None: rows already in order
        self.start_order = start_order
        # without delayed entry nobody has entered after an event time: skip that half
        self.has_entry = bool(np.any(self.pos_start < n))
        # event-time index ranges (start, stop] of every subject
        self.cum_hi = np.searchsorted(self.ev_times, stop, side="right")
        self.cum_lo = np.searchsorted(self.ev_times, start, side="right")

    def _riskset_sums(self, w: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``w`` (or of ``w x``, rows of ``X``) over the risk set at every event time.

        The sorted rows are summed by segments between consecutive read
        positions (``np.add.reduceat``, one pass, no cumulative array) and the
        few segment sums are cumulated from the end; a single ``(n, p)``
        temporary exists at a time, whatever the number of subjects.
        """
        m = self.ev_times.size
        out = np.zeros((m,) if X is None else (m, X.shape[1]))
        halves = [(self.stop_order, self.pos_stop, 1.0)]
        if self.has_entry:
            halves.append((self.start_order, self.pos_start, -1.0))
        for order, pos, sign in halves:
            n = w.size
            ok = pos < n
            if not ok.any():
                continue
            if order is None:  # rows already in increasing time
                f = w if X is None else X * w[:, None]
            elif X is None:
                f = w[order]
            else:
                f = X[order]
                f *= w[order][:, None]
            u = np.unique(pos[ok])
            tail = np.cumsum(np.add.reduceat(f, u, axis=0)[::-1], axis=0)[::-1]
            del f
            out[ok] += sign * tail[np.searchsorted(u, pos[ok])]
        return out

    def pieces(self, X: np.ndarray, beta: np.ndarray):
        """Per event (one row per tied-death rank) Efron quantities.

        Returns the log partial likelihood, the score contribution of each
        event rank ``U`` (``x_i - xbar``), the Efron denominators ``s0``, the
        weighted means ``xbar`` and the relative risks ``w``. The information
        matrix is not built here: see :meth:`information`.
        """
        eta = X @ beta
        w = np.exp(eta)
        m = self.ev_times.size
        p = X.shape[1]
        S0 = self._riskset_sums(w)
        S1 = self._riskset_sums(w, X)
        e = self.ev_rows
        D0 = np.bincount(self.ev_tidx, weights=w[e], minlength=m)
        D1 = np.zeros((m, p))
        np.add.at(D1, self.ev_tidx, w[e, None] * X[e])
        j, f = self.ev_tidx, self.frac
        s0 = S0[j] - f * D0[j]
        s1 = S1[j] - f[:, None] * D1[j]
        xbar = s1 / s0[:, None]
        U = X[e] - xbar  # score contribution of each event rank (sums per time)
        loglik = float(eta[e].sum() - np.log(s0).sum())
        return loglik, U, s0, xbar, w

    def information(
        self,
        X: np.ndarray,
        w: np.ndarray,
        s0: np.ndarray,
        xbar: np.ndarray,
        c: np.ndarray | None = None,
    ) -> np.ndarray:
        """``sum_e c_e V_e``: weighted sum of the Efron variance of every event rank.

        ``V_e = s2_e / s0_e - xbar_e xbar_e'`` with ``s2_e = S2(t_e) - f_e D2(t_e)``
        (risk-set and tied-death sums of ``w x x'``). Exchanging the sums,
        ``sum_e c_e s2_e / s0_e = X' diag(w_i a_i) X`` where ``a_i`` adds
        ``c_e / s0_e`` over the event ranks whose risk set holds subject ``i``,
        less ``c_e f_e / s0_e`` over the ranks of ``i``'s own death time when
        ``i`` dies: O(n p^2) with scalar cumulative sums, never an
        ``(n, p, p)`` array. ``c`` defaults to 1 (the observed information).
        """
        j, f = self.ev_tidx, self.frac
        m = self.ev_times.size
        ce = np.ones(j.size) if c is None else c
        A = np.bincount(j, weights=ce / s0, minlength=m)
        B = np.bincount(j, weights=ce * f / s0, minlength=m)
        CA = np.concatenate([[0.0], np.cumsum(A)])
        v = w * (CA[self.cum_hi] - CA[self.cum_lo])
        e = self.ev_rows
        v[e] -= w[e] * B[j]
        p = X.shape[1]
        out = np.zeros((p, p))
        for lo in range(0, X.shape[0], _BLOCK):  # bounded temporaries on millions of rows
            Xb = X[lo : lo + _BLOCK]
            out += (Xb * v[lo : lo + _BLOCK, None]).T @ Xb
        return out - (xbar * ce[:, None]).T @ xbar

    def score_residuals(self, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Efron score residuals (as R ``residuals(fit, "score")``)."""
        _, _, s0, xbar, w = self.pieces(X, beta)
        m = self.ev_times.size
        p = X.shape[1]
        j, f = self.ev_tidx, self.frac
        h = 1.0 / s0
        H = np.bincount(j, weights=h, minlength=m)
        G = np.zeros((m, p))
        np.add.at(G, j, h[:, None] * xbar)
        HF = np.bincount(j, weights=f * h, minlength=m)
        GF = np.zeros((m, p))
        np.add.at(GF, j, (f * h)[:, None] * xbar)
        XB = np.zeros((m, p))
        np.add.at(XB, j, xbar)
        XB /= self.n_dead[:, None]
        CH = np.concatenate([[0.0], np.cumsum(H)])
        CG = np.concatenate([np.zeros((1, p)), np.cumsum(G, axis=0)])
        dH = CH[self.cum_hi] - CH[self.cum_lo]
        dG = CG[self.cum_hi] - CG[self.cum_lo]
        L = -w[:, None] * (X * dH[:, None] - dG)
        e = self.ev_rows
        te = self.ev_tidx
        L[e] += X[e] - XB[te] + w[e, None] * (X[e] * HF[te, None] - GF[te])
        return L


def _cox_fit(strata: list[_Stratum], X: np.ndarray, *, max_iter: int = 50):
    p = X.shape[1]
    beta = np.zeros(p)

    def total(b):
        ll, U, V = 0.0, np.zeros(p), np.zeros((p, p))
        for s in strata:
            Xs = X[s.rows]
            lls, Us, s0, xbar, w = s.pieces(Xs, b)
            ll += lls
            U += Us.sum(axis=0)
            V += s.information(Xs, w, s0, xbar)
        return ll, U, V

    ll, U, info = total(beta)
    # steps measured per standard deviation of each column, so that the
    # convergence test does not depend on the units of the covariates
    scales = column_scales(X)
    scales = np.where(scales > 0, scales, 1.0)
    converged = False
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(info, U)
        except np.linalg.LinAlgError:
            break
        new = beta + step
        ll_new, U_new, info_new = total(new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12) and halvings < 30:
            step /= 2
            new = beta + step
            ll_new, U_new, info_new = total(new)
            halvings += 1
        flat = abs(ll_new - ll)
        # converged when every coefficient has settled, or — a rare control
        # level whose coefficient runs off to infinity (monotone likelihood)
        # — when the likelihood is flat (R's criterion, eps 1e-9) and the
        # group coefficient (column 0) has settled
        done = (flat <= 1e-12 * max(1.0, abs(ll)) and np.max(np.abs(step) * scales) < 1e-9) or (
            flat <= 1e-9 * max(1.0, abs(ll)) and abs(step[0]) * scales[0] < 1e-9
        )
        beta, ll, U, info = new, ll_new, U_new, info_new
        if done:
            converged = True
            break
    return beta, ll, info, converged


def _km_left(start: np.ndarray, stop: np.ndarray, d: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Left-continuous pooled Kaplan–Meier S(t-) (counting-process risk sets) at ``at``."""
    ev_times = np.unique(stop[d == 1])
    s_stop, s_start = np.sort(stop), np.sort(start)
    n_risk = (s_stop.size - np.searchsorted(s_stop, ev_times, side="left")) - (
        s_start.size - np.searchsorted(s_start, ev_times, side="left")
    )
    e_sorted = np.sort(stop[d == 1])
    n_ev = np.searchsorted(e_sorted, ev_times, side="right") - np.searchsorted(
        e_sorted, ev_times, side="left"
    )
    surv = np.cumprod(1 - n_ev / n_risk)
    idx = np.searchsorted(ev_times, at, side="left")  # number of event times < at
    return np.concatenate([[1.0], surv])[idx]


def _zph(strata, X, beta, start, stop, d, names) -> pd.DataFrame:
    """Score test of proportional hazards, R ``cox.zph(transform="km", terms=FALSE)``."""
    p = X.shape[1]
    u_g = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    gt = 1.0 - _km_left(start, stop, d, stop)
    gt = gt - gt[d == 1].mean()
    for s in strata:
        Xs = X[s.rows]
        _, U, s0, xbar, w = s.pieces(Xs, beta)
        g = gt[s.rows][s.ev_rows]
        u_g += (g[:, None] * U).sum(axis=0)
        imat[:p, :p] += s.information(Xs, w, s0, xbar)
        imat[:p, p:] += s.information(Xs, w, s0, xbar, g)
        imat[p:, p:] += s.information(Xs, w, s0, xbar, g * g)
    imat[p:, :p] = imat[:p, p:].T
    rows = []
    for jj in range(p):
        kk = list(range(p)) + [p + jj]
        u = np.zeros(p + 1)
        u[-1] = u_g[jj]
        chi = float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u))
        rows.append({"term": names[jj], "chisq": chi, "df": 1, "p": float(sps.chi2.sf(chi, 1))})
    u = np.concatenate([np.zeros(p), u_g])
    chi = float(u @ np.linalg.solve(imat, u))
    rows.append({"term": "GLOBAL", "chisq": chi, "df": p, "p": float(sps.chi2.sf(chi, p))})
    return pd.DataFrame(rows).set_index("term")


def cox(
    df: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    reference: Any,
    compared: Any = None,
    controls: Sequence[str] | str = (),
    strata: str | None = None,
    cluster: str | None = None,
    entry: str | None = None,
    alpha: float = 0.05,
) -> TestResult | ResultSet:
    """Hazard ratio of the compared vs reference group in a Cox model (Efron ties).

    Maximises the Efron partial likelihood (Newton–Raphson with step halving)
    of ``h(t) = h0_s(t) exp(b_g [group == compared] + controls)`` on the rows of
    the two groups, with baseline hazards per stratum when ``strata`` is given
    and the counting-process risk sets ``entry < t <= duration`` when ``entry``
    is given (R ``coxph(Surv(entry, duration, event) ~ ...)``).

    Parameters
    ----------
    df : DataFrame
    duration, event : str
        Time (stop) and event indicator (1 = event, other = censored).
    group : str
    reference, compared : scalar
        Levels of ``group``; ``compared=None`` returns a :class:`ResultSet`, one
        result per level other than the reference (even when there is only one).
    controls : sequence of str, optional
        Adjustment columns (categorical ones as treatment contrasts, see
        :func:`allocation_analysis.stats.regression.logit_disparity`).
    strata : str, optional
        Stratification column (separate baseline hazards).
    cluster : str, optional
        Cluster column: robust sandwich variance ``D'D`` with ``D`` the dfbeta
        residuals summed by cluster, as R ``coxph(..., cluster = )`` (no
        small-sample factor); the p-value and interval then refer ``b / se``
        to Student's t with ``G - 1`` degrees of freedom (``G`` clusters), with
        a warning when ``G < 20``: see
        :func:`allocation_analysis.stats.regression.cluster_reference`.
    entry : str, optional
        Delayed-entry time (left truncation), in the units of ``duration``
        (rows with ``duration <= entry`` raise a ``ValueError``).
    alpha : float, default 0.05

    Returns
    -------
    TestResult or ResultSet
        ``estimate`` = hazard ratio, Wald CI; ``statistic`` = Wald chi-square
        (df 1). ``details``: ``coef``, ``se``, ``coefficients``, ``std_errors``,
        ``loglik``, ``n_events``, ``covariance`` and ``ph_test``: a DataFrame
        (index = design columns and ``"GLOBAL"``; columns ``chisq, df, p``)
        with the score test of proportional hazards against
        ``b(t) = b + g * (1 - KM(t-))``, identical to R
        ``cox.zph(fit, transform = "km", terms = FALSE)`` (survival >= 3.0).
        The PH test always uses the model (not the robust) information.

    Notes
    -----
    A level of a categorical control without any event (e.g. no owner ever
    housed) is dropped with its rows and a warning: its coefficient would be
    minus infinity, and those rows would leave every risk set in that limit,
    so the other estimates are the limiting ones. Degenerate data (an empty
    group, no events, a non-converged fit or a monotone likelihood, e.g. no
    event in one group) give NaN estimates with a warning. Monotone likelihood
    is judged by rules that do not depend on the units of the controls
    (:func:`allocation_analysis.stats._separation.is_separated`): a
    standardised coefficient ``|b_j| * sd(x_j)`` above 7.5 or a linear
    predictor whose range exceeds about 36.8 (a relative hazard of 1e16
    between two rows); the Newton steps of the convergence test are also
    measured per standard deviation of each column.

    References
    ----------
    .. [1] Cox, D. R. (1972). Regression models and life-tables. *JRSS B* 34, 187–220.
    .. [2] Efron, B. (1977). The efficiency of Cox's likelihood function for
       censored data. *JASA* 72, 557–565.
    .. [3] Lin, D. Y. and Wei, L. J. (1989). The robust inference for the Cox
       proportional hazards model. *JASA* 84, 1074–1078.
    .. [4] Grambsch, P. M. and Therneau, T. M. (1994). Proportional hazards
       tests and diagnostics based on weighted residuals. *Biometrika* 81, 515–526.
    .. [5] Therneau, T. M. and Grambsch, P. M. (2000). *Modeling Survival
       Data: Extending the Cox Model*, Springer.
    """
    check_dataframe(df)
    controls = _as_controls(controls)
    check_columns(
        df,
        duration=duration,
        event=event,
        group=group,
        controls=controls,
        strata=strata,
        cluster=cluster,
        entry=entry,
    )
    alpha = check_alpha(alpha)
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    if compared is None:
        return ResultSet(
            tuple(
                cox(
                    df,
                    duration=duration,
                    event=event,
                    group=group,
                    reference=reference,
                    compared=lv,
                    controls=controls,
                    strata=strata,
                    cluster=cluster,
                    entry=entry,
                    alpha=alpha,
                )
                for lv in levels
            )
        )
    ref, cmp = str(reference), levels[0]
    name = "cox"
    method = "modèle de Cox (vraisemblance partielle, ex aequo d'Efron)"
    if strata is not None:
        method += f", stratifié sur {strata!r}"
    if cluster is not None:
        method += ", variance robuste par grappes"
    if entry is not None:
        method += ", entrée retardée"
    g_txt = df[group].astype("string")
    sub = df.loc[(g_txt == ref) | (g_txt == cmp)]
    sub, warns = drop_missing(sub, [duration, event, group, *controls, strata, cluster, entry])
    n = len(sub)
    base = dict(name=name, method=method, estimate_name="hazard_ratio", n=n, groups=(ref, cmp))
    stop = _numeric(sub, duration, "duration")
    _check_durations(stop)
    d = _event_indicator(_numeric(sub, event, "event"))
    start = _entry_times(sub, entry, stop)
    # rows in time order: risk-set sums then read the data sequentially
    by_time = np.argsort(stop, kind="stable")
    if np.any(by_time[1:] < by_time[:-1]):
        sub, stop, d, start = sub.iloc[by_time], stop[by_time], d[by_time], start[by_time]
    del by_time
    gv = (sub[group].astype("string") == cmp).to_numpy(dtype="float64")
    n_cmp, n_ref = int(gv.sum()), int(n - gv.sum())
    if n_cmp == 0 or n_ref == 0:
        empty = cmp if n_cmp == 0 else ref
        warns.append(f"Le groupe {empty!r} n'a aucune observation : rapport de risques non défini.")
        return TestResult(**base, warnings=tuple(warns), alpha=alpha)
    if d.sum() == 0:
        warns.append("Aucun événement observé : rapport de risques non défini.")
        return TestResult(**base, warnings=tuple(warns), alpha=alpha)
    Xc, terms = design_controls(sub, controls)
    # a level without any event has a coefficient of minus infinity: in that
    # limit its rows leave every risk set, so dropping them (and the
    # indicator) gives exactly the limiting estimates of the other coefficients
    Xc, keep, dropped = drop_degenerate_levels(Xc, terms, lambda m: d[m].sum() == 0)
    if dropped:
        warns.append(
            "Modalités de contrôle sans aucun événement retirées avec leurs observations "
            "(leur coefficient serait infini) : "
            + ", ".join(f"{c} ({k} obs.)" for c, k in dropped)
            + "."
        )
        Xc = Xc.loc[keep]
        sub, stop, d, start, gv = sub.loc[keep], stop[keep], d[keep], start[keep], gv[keep]
        n = len(sub)
        base["n"] = n
        n_cmp, n_ref = int(gv.sum()), int(n - gv.sum())
        if n_cmp == 0 or n_ref == 0:
            warns.append("Après ce retrait, le rapport de risques n'est plus défini.")
            return TestResult(**base, warnings=tuple(warns), alpha=alpha)
    const_cols = [c for c in Xc.columns if Xc[c].nunique() <= 1]
    if const_cols:
        Xc = Xc.drop(columns=const_cols)
        warns.append(f"Colonnes de contrôle constantes retirées du modèle : {const_cols}.")
    names = ["group", *Xc.columns]
    Xm = np.empty((n, 1 + Xc.shape[1]))
    Xm[:, 0] = gv
    if Xc.shape[1]:
        Xm[:, 1:] = Xc.to_numpy(dtype="float64")
    del Xc
    Xm -= Xm.mean(axis=0)  # centring, as R does; leaves coefficients unchanged
    strata_objs = []
    single = 0
    if strata is None:  # one stratum: every row, indexed without copies
        strata_objs.append(_Stratum(start, stop, d, slice(None)))
        single = int(n == 1)
    else:
        s_codes = pd.factorize(sub[strata])[0]
        for s in range(int(s_codes.max()) + 1):
            rows = np.nonzero(s_codes == s)[0]
            single += int(rows.size == 1)
            strata_objs.append(_Stratum(start[rows], stop[rows], d[rows], rows))
    if single:
        warns.append(f"{single} strate(s) d'une seule observation (sans information).")
    ev_by = {ref: int(d[gv == 0].sum()), cmp: int(d[gv == 1].sum())}
    n_by = {ref: int((gv == 0).sum()), cmp: int((gv == 1).sum())}
    beta, ll, info, converged = _cox_fit(strata_objs, Xm)
    # separation judged on the standardised coefficients and the range of the
    # linear predictor, not on the raw coefficients (units of the controls)
    if not converged or is_separated(Xm[:, :1], beta[:1], model="cox"):
        warns.append(
            "Le modèle de Cox ne converge pas (vraisemblance monotone, p. ex. aucun événement "
            "dans un groupe) : rapport de risques non estimable."
        )
        return TestResult(
            **base,
            warnings=tuple(warns),
            alpha=alpha,
            details={"events_by_group": ev_by, "n_by_group": n_by},
        )
    if Xm.shape[1] > 1 and is_separated(Xm[:, 1:], beta[1:], model="cox"):
        warns.append(
            "Un coefficient de contrôle semble infini (vraisemblance monotone pour une "
            "modalité rare) : le rapport de risques du groupe est sa valeur limite, comme "
            "le donne R."
        )
    try:
        var = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        warns.append("Matrice d'information singulière : rapport de risques non estimable.")
        return TestResult(**base, warnings=tuple(warns), alpha=alpha)
    n_clusters = None
    if cluster is not None:
        L = np.zeros((n, Xm.shape[1]))
        for s in strata_objs:
            L[s.rows] = s.score_residuals(Xm[s.rows], beta)
        dfb = L @ var
        codes, uniq = pd.factorize(sub[cluster])
        n_clusters = len(uniq)
        if n_clusters < 2:
            warns.append("Moins de deux grappes : variance robuste par grappes non définie.")
            return TestResult(**base, warnings=tuple(warns), alpha=alpha)
        Dg = np.zeros((n_clusters, Xm.shape[1]))
        np.add.at(Dg, codes, dfb)
        var = Dg.T @ Dg
        # few clusters: Student's t with G - 1 df
        from allocation_analysis.stats.regression import cluster_reference

        ref_dist = cluster_reference(n_clusters)
        base["method"] = base["method"].replace(
            ", variance robuste par grappes",
            f", variance robuste par grappes (G = {n_clusters}), {ref_dist.label}",
        )
        warns.extend(ref_dist.warnings)
    se = float(math.sqrt(var[0, 0]))
    b = float(beta[0])
    zstat = b / se
    if n_clusters is None:
        zc = float(sps.norm.ppf(1 - alpha / 2))
        p_value = float(2 * sps.norm.sf(abs(zstat)))
    else:
        zc, p_value = ref_dist.critical(alpha), ref_dist.p_value(zstat)
    try:
        ph = _zph(strata_objs, Xm, beta, start, stop, d, names)
    except np.linalg.LinAlgError:
        ph = pd.DataFrame(columns=["chisq", "df", "p"])
        warns.append("Test de proportionnalité des risques non calculable (matrice singulière).")
    details = {
        "coef": b,
        "se": se,
        "z": zstat,
        "coefficients": dict(zip(names, map(float, beta), strict=True)),
        "std_errors": dict(zip(names, map(float, np.sqrt(np.diag(var))), strict=True)),
        "loglik": ll,
        "n_events": int(d.sum()),
        "events_by_group": ev_by,
        "n_by_group": n_by,
        "covariance": "cluster" if cluster is not None else "model",
        "n_clusters": n_clusters,
        "df_reference": None if n_clusters is None else n_clusters - 1,
        "ph_test": ph,
    }
    if "GLOBAL" in ph.index and ph.loc["GLOBAL", "p"] < alpha:
        warns.append(
            f"L'hypothèse des risques proportionnels est rejetée (test global, "
            f"{fmt_p(ph.loc['GLOBAL', 'p'])})."
        )
    return TestResult(
        **base,
        statistic=zstat * zstat,
        df=1.0,
        p_value=p_value,
        estimate=math.exp(b),
        ci_low=math.exp(b - zc * se),
        ci_high=math.exp(b + zc * se),
        warnings=tuple(warns),
        details=details,
        alpha=alpha,
    )


# --------------------------------------------------------------------------- competing risks
def _cuminc_one(
    t: np.ndarray,
    code: np.ndarray,
    interest: float,
    competing: Sequence[float],
    start: np.ndarray,
):
    """Aalen–Johansen CIF of one cause and its delta-method variance.

    ``r`` counts the rows with ``start < u <= t`` (delayed entry).

    With, at each distinct event time ``u``, ``r`` at risk, ``a`` events of
    interest, ``b`` competing events, ``S(u-)``/``S(u)`` the all-cause
    Kaplan–Meier before/after ``u`` and ``F`` the CIF:

    ``Var F(t) = sum_{u<=t} q(a) (1 + (F(u) - F(t)) / S(u))^2
    + sum_{u<=t} q(b) ((F(u) - F(t)) / S(u))^2``,
    ``q(k) = S(u-)^2 k (1 - (k-1)/(r-1)) / r^2`` (a binomial correction for
    ties), the second sum over times with ``S(u) > 0``; when ``S(u) = 0`` the
    first bracket is 1. This is the estimator reported by R ``cmprsk::cuminc``.
    """
    times = np.unique(t[code != 0])
    r = _at_risk(start, t, times)
    if np.isfinite(start).any():
        return (times, *_aalen_johansen_greenwood(t, code, interest, competing, times, r))
    e1 = np.sort(t[code == interest])
    e2 = np.sort(t[np.isin(code, competing)])
    a = (np.searchsorted(e1, times, "right") - np.searchsorted(e1, times, "left")).astype(float)
    b = (np.searchsorted(e2, times, "right") - np.searchsorted(e2, times, "left")).astype(float)
    s_after = np.cumprod(1.0 - (a + b) / r)
    s_before = np.concatenate([[1.0], s_after[:-1]])
    f = np.cumsum(s_before * a / r)
    with np.errstate(divide="ignore", invalid="ignore"):

        def q(k):
            corr = np.where(k > 1, 1.0 - (k - 1.0) / (r - 1.0), 1.0)
            return s_before**2 * k * corr / r**2

        alive = s_after > 0
        inv_s = np.where(alive, 1.0 / s_after, 0.0)
        # first sum: (A - F(t) B)^2 with A = 1 + F(u)/S(u), B = 1/S(u)
        w1 = np.where(a > 0, q(a), 0.0)
        A1, B1 = 1.0 + f * inv_s, inv_s
        # second sum: (A - F(t) B)^2 with A = F(u)/S(u), B = 1/S(u)
        w2 = np.where((b > 0) & alive, q(b), 0.0)
        A2, B2 = f * inv_s, inv_s
    c_aa = np.cumsum(w1 * A1 * A1 + w2 * A2 * A2)
    c_ab = np.cumsum(w1 * A1 * B1 + w2 * A2 * B2)
    c_bb = np.cumsum(w1 * B1 * B1 + w2 * B2 * B2)
    v = c_aa - 2.0 * f * c_ab + f * f * c_bb
    return times, f, v


def _aalen_johansen_greenwood(
    t: np.ndarray,
    code: np.ndarray,
    interest: float,
    competing: Sequence[float],
    times: np.ndarray,
    r: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Aalen–Johansen CIF and its Greenwood-type (multinomial delta) variance.

    The cause-specific hazard increments ``h_k(u) = d_k(u) / r(u)`` are
    treated as multinomial at each event time (``Var h_k = d_k (r - d_k) /
    r^3``, ``Cov(h_1, h_2) = -d_1 d_2 / r^3``) and independent across times;
    the delta method on ``F(t) = sum_{u<=t} S(u-) h_1(u)`` with
    ``dF(t)/dh_1(u) = S(u-) - B`` and ``dF(t)/dh_2(u) = -B``,
    ``B = (F(t) - F(u)) / (1 - h(u))``, gives

    ``Var F(t) = sum_{u<=t} [(S(u-) - B)^2 d_1 (r - d_1) + B^2 d_2 (r - d_2)
    + 2 (S(u-) - B) B d_1 d_2] / r^3``.

    It uses only the risk sets and event counts, so it holds for
    counting-process (delayed-entry) risk sets, where the form of
    ``cmprsk::cuminc`` (written with ``S(u)``) does not. At a first event
    time it equals the binomial ``F (1 - F) / r``, as the infinitesimal
    jackknife of R's multi-state ``survfit`` does.

    References
    ----------
    .. [1] Marubini, E. and Valsecchi, M. G. (1995). *Analysing Survival Data
       from Clinical Trials and Observational Studies*, Wiley, §10.2.
    .. [2] Pintilie, M. (2006). *Competing Risks: A Practical Perspective*,
       Wiley, §4.2.2.
    """
    e1 = np.sort(t[code == interest])
    e2 = np.sort(t[np.isin(code, competing)])
    d1 = (np.searchsorted(e1, times, "right") - np.searchsorted(e1, times, "left")).astype(float)
    d2 = (np.searchsorted(e2, times, "right") - np.searchsorted(e2, times, "left")).astype(float)
    h = (d1 + d2) / r
    s_after = np.cumprod(1.0 - h)
    s_before = np.concatenate([[1.0], s_after[:-1]])
    f = np.cumsum(s_before * d1 / r)
    # B = F(t) Q - E with Q = 1 / (1 - h), E = F(u) Q; when h = 1 the curve
    # is flat afterwards (F(t) = F(u)), so B = 0
    full = h >= 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(full, 0.0, 1.0 / (1.0 - h))
    e = f * q
    p = s_before + e  # S(u-) - B = P - F(t) Q
    r3 = r**3
    w1 = d1 * (r - d1) / r3
    w2 = d2 * (r - d2) / r3
    w12 = 2.0 * d1 * d2 / r3
    c0 = np.cumsum(w1 * p * p + w2 * e * e - w12 * p * e)
    c1 = np.cumsum(-2.0 * w1 * p * q - 2.0 * w2 * e * q + w12 * (p * q + e * q))
    c2 = np.cumsum((w1 + w2 - w12) * q * q)
    v = np.maximum(c0 + c1 * f + c2 * f * f, 0.0)
    return f, v


def cumulative_incidence(
    df: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    event_of_interest: float = 1,
    competing: Sequence[float] = (2,),
    times: Sequence[float] | None = None,
    alpha: float = 0.05,
    entry: str | None = None,
) -> TestResult:
    """Cumulative incidence of the event of interest with competing events, per group.

    Aalen–Johansen estimator ``F1(t) = sum_{u <= t} S(u-) d1(u) / n(u)`` with
    ``S`` the all-cause Kaplan–Meier, and the delta-method variance reported
    by R ``cmprsk::cuminc`` (formula in ``_cuminc_one``). Pointwise CIs use
    the log(-log) transform ``F^exp(±z sqrt(v) / (F log F))``.

    With ``entry`` (delayed entry) ``n(u)`` counts the rows with
    ``entry < u <= duration``; the estimate is then R's multi-state
    ``survfit(Surv(entry, duration, factor(event)) ~ g, id = )`` (``cuminc``
    does not accept delayed entry). The variance keeps the delta-method
    formula with those risk sets; R's multi-state ``survfit`` reports the
    infinitesimal-jackknife variance instead, which agrees to first order.

    Parameters
    ----------
    df : DataFrame
    duration, event, group : str
        ``event``: 0 = censored, ``event_of_interest``, or one of ``competing``.
    event_of_interest : scalar, default 1
    competing : sequence, default (2,)
        Codes of the competing events (other closings).
    times : sequence of float, optional
        Times where ``details["at_times"]`` gives the CIF per group (step
        function; NaN after the group's last observed time, event or
        censoring, as ``cmprsk::timepoints`` gives NA).
    alpha : float, default 0.05
    entry : str, optional
        Delayed-entry time, in the units of ``duration`` (rows with
        ``duration <= entry`` raise a ``ValueError``).

    Returns
    -------
    TestResult
        No test statistic (Gray's test is not implemented: ``statistic`` NaN,
        with a note in ``details["gray_test"]``); ``details``: ``curves``
        (group → DataFrame ``time, cif, var, lower, upper``), ``at_times``
        (DataFrame, one row per group and time, with ``cif`` and ``var``) when
        ``times`` is given.

    Raises
    ------
    ValueError
        When ``event`` holds codes other than 0, ``event_of_interest`` and
        ``competing``.

    References
    ----------
    .. [1] Aalen, O. O. and Johansen, S. (1978). An empirical transition matrix
       for non-homogeneous Markov chains based on censored observations.
       *Scand. J. Statist.* 5, 141–150.
    .. [2] Gray, R. J. (1988). A class of K-sample tests for comparing the
       cumulative incidence of a competing risk. *Ann. Statist.* 16, 1141–1154.
    .. [3] Gray, R. J. (2022). *cmprsk: Subdistribution analysis of competing
       risks*, R package, ``cuminc``.
    """
    check_dataframe(df)
    check_columns(df, duration=duration, event=event, group=group, entry=entry)
    alpha = check_alpha(alpha)
    competing = [competing] if np.isscalar(competing) else list(competing)
    allowed = [0, event_of_interest, *competing]
    if event_of_interest in competing or event_of_interest == 0:
        raise ArgumentError(
            "L'argument `event_of_interest` doit différer de 0 et des codes de `competing`."
        )
    sub, warns = drop_missing(df, [duration, event, group, entry])
    t = _numeric(sub, duration, "duration")
    _check_durations(t)
    start = _entry_times(sub, entry, t)
    code = _numeric(sub, event, "event")
    bad = ~np.isin(code, np.asarray(allowed, dtype=float))
    if bad.any():
        raise ArgumentError(
            f"L'argument `event` désigne une colonne contenant des codes {sorted(set(code[bad]))} "
            f"absents de 0, `event_of_interest`={event_of_interest!r} et `competing`={competing!r}."
        )
    z = float(sps.norm.ppf(1 - alpha / 2))
    g_txt = sub[group].astype(str).to_numpy()
    curves, rows = {}, []
    for lv in group_levels(df, group):
        m = g_txt == lv
        if not m.any():
            warns.append(f"Le groupe {lv!r} n'a aucune observation : pas de courbe.")
            continue
        tt, f, v = _cuminc_one(t[m], code[m], float(event_of_interest), competing, start[m])
        if not np.any(code[m] == event_of_interest):
            warns.append(f"Aucun événement d'intérêt dans le groupe {lv!r} : incidence nulle.")
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (f > 0) & (f < 1)
            e = np.where(ok, z * np.sqrt(v) / (f * np.log(f)), np.nan)
            lo, hi = (
                np.fmin(f ** np.exp(e), f ** np.exp(-e)),
                np.fmax(f ** np.exp(e), f ** np.exp(-e)),
            )
        curves[lv] = pd.DataFrame({"time": tt, "cif": f, "var": v, "lower": lo, "upper": hi})
        if times is not None:
            at = np.asarray(times, dtype=float)
            idx = np.searchsorted(tt, at, side="right") - 1
            last = float(t[m].max())
            for a, i in zip(at, idx, strict=True):
                beyond = a > last
                rows.append(
                    {
                        "group": lv,
                        "time": a,
                        "cif": math.nan if beyond else (float(f[i]) if i >= 0 else 0.0),
                        "var": math.nan if beyond else (float(v[i]) if i >= 0 else 0.0),
                    }
                )
    details: dict[str, Any] = {
        "curves": curves,
        "event_of_interest": event_of_interest,
        "competing": tuple(competing),
        "gray_test": "non implémenté",
    }
    if times is not None:
        details["at_times"] = pd.DataFrame(rows)
    return TestResult(
        name="cumulative_incidence",
        method="incidence cumulée d'Aalen–Johansen (risques concurrents)"
        + (", entrée retardée" if entry is not None else ""),
        n=len(sub),
        groups=tuple(curves),
        warnings=tuple(warns),
        details=details,
        alpha=alpha,
    )
