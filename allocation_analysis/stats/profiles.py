"""Robustness checks with scikit-learn: typical-household profiles and IPW.

Two estimators complement the parametric disparity tests of docs/methods.md §2:

* :func:`profile_probabilities` fits a gradient-boosted tree classifier of the
  access outcome (no functional form imposed) and predicts the probability of
  allocation within the semester for typical households ("cas-types") under
  each value of a group variable, everything else equal, with bootstrap
  intervals (resampling stratified by group) and the gap to a reference group;
* :func:`ipw_disparity` estimates the difference in access rates between a
  compared group and a reference group after reweighting the reference group
  to the compared group's covariate distribution (inverse-probability weights,
  average effect on the compared group), with a robust confidence interval and
  balance diagnostics.

Both report the cross-validated calibration (Brier score) and discrimination
(ROC AUC) of the model they rest on.

Use in the pipeline
-------------------
With ``af = derive.access_frame(demandes, period)`` (docs/methods.md §2, data model
§2), the three ``results.json`` tests are produced as follows::

    from allocation_analysis.stats.profiles import (
        ACCESS_CONTROLS, ipw_disparity, load_profiles, profile_probabilities,
    )

    # access_origin_profiles: one TestResult per compared origin
    prof = profile_probabilities(
        af, outcome="access", group="nationalite", reference="francaise",
        features=ACCESS_CONTROLS, profiles=load_profiles(),
        n_boot=200, random_state=seed,
    )
    origin_profiles = prof.to_test_results(reference="francaise")  # ResultSet
    # origin_profiles.by_group("ue"), origin_profiles.by_group("hors_ue")

    # access_origin_ipw: one call per compared origin
    for compared in ("ue", "hors_ue"):
        ipw_disparity(
            af, outcome="access", group="nationalite", reference="francaise",
            compared=compared, controls=ACCESS_CONTROLS, random_state=seed,
        )

    # access_residence_ipw
    ipw_disparity(
        af, outcome="access", group="residence_qpv", reference="hors_qpv",
        compared="qpv", controls=ACCESS_CONTROLS, random_state=seed,
    )

``ACCESS_CONTROLS`` is the list of control columns of the access frame
(``typologie_demandee``, ``prioritaire``, ``dalo``, ``log_revenu_uc``,
``anciennete_annees``, ``nb_personnes``, ``situation_logement``,
``commune_choix1``). For the residence comparison ``nationalite`` may be added
to the controls (and ``residence_qpv`` to the profile features of the origin
comparison); the calls above keep the two comparisons symmetric.

Income in profiles
------------------
Profiles give income as ``revenu_mensuel_uc``: monthly resources per
consumption unit (€/UC/month), as households and reports speak of it. It is
converted to the model feature ``log_revenu_uc`` by
:func:`log_income_from_monthly`, ``log(1 + 12 × monthly)``, the log of the
annual income per UC of the access frame. A profile may instead give
``log_revenu_uc`` directly.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats as sps
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from allocation_analysis.errors import ArgumentError, InputError
from allocation_analysis.stats._result import ResultSet, TestResult
from allocation_analysis.stats._separation import is_separated
from allocation_analysis.text import fmt_float, fmt_int, fmt_num, fmt_pct
from allocation_analysis.threads import single_thread

__all__ = [
    "ACCESS_CONTROLS",
    "ProfileResult",
    "ipw_disparity",
    "load_profiles",
    "log_income_from_monthly",
    "profile_probabilities",
    "stratified_bootstrap_indices",
]

logger = logging.getLogger(__name__)

#: Control columns of the access frame (data model §2).
ACCESS_CONTROLS: tuple[str, ...] = (
    "typologie_demandee",
    "prioritaire",
    "dalo",
    "log_revenu_uc",
    "anciennete_annees",
    "nb_personnes",
    "situation_logement",
    "commune_choix1",
)

#: Profile key holding monthly income per consumption unit (€/UC/month).
MONTHLY_INCOME_KEY = "revenu_mensuel_uc"
#: Model feature the monthly income is converted to.
LOG_INCOME_FEATURE = "log_revenu_uc"
#: Profile key holding the French label.
LABEL_KEY = "nom"

#: Default settings of the gradient-boosted trees (fast, deterministic).
DEFAULT_GBM_PARAMS: dict[str, Any] = {
    "max_iter": 60,
    "learning_rate": 0.15,
    "max_depth": 3,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
}

_MAX_SEED = 2**31 - 1
_OTHER_CATEGORY = "(autres, regroupées)"
_MISSING_CATEGORY = "(manquant)"


# --------------------------------------------------------------------------- #
# Profiles
# --------------------------------------------------------------------------- #
def log_income_from_monthly(monthly: float | np.ndarray) -> float | np.ndarray:
    """Convert monthly income per UC (€/UC/month) to the ``log_revenu_uc`` feature.

    Parameters
    ----------
    monthly : float or ndarray
        Monthly resources per consumption unit, in euros (≥ 0).

    Returns
    -------
    float or ndarray
        ``log(1 + 12 × monthly)``: the natural log of annual income per UC,
        shifted by one euro so that a zero income stays finite.
    """
    arr = np.asarray(monthly, dtype=float)
    if np.any(arr < 0):
        raise ArgumentError("Le revenu mensuel par UC d'un profil ne peut pas être négatif.")
    out = np.log1p(12.0 * arr)
    return float(out) if out.ndim == 0 else out


def load_profiles(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Load typical-household profiles from YAML.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with a top-level list ``profils`` (or a bare list) of
        mappings, each with a ``nom`` label and feature values. Default: the
        profiles shipped with the package (``data/profiles_default.yaml``).

    Returns
    -------
    list of dict
        One dict per profile, in file order.
    """
    if path is None:
        text = (
            resources.files("allocation_analysis")
            .joinpath("data/profiles_default.yaml")
            .read_text(encoding="utf-8")
        )
        source = "profiles_default.yaml"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"Fichier de profils introuvable : {p}")
        text = p.read_text(encoding="utf-8")
        source = str(p)
    data = yaml.safe_load(text)
    if isinstance(data, Mapping):
        data = data.get("profils")
    if not isinstance(data, list) or not data:
        raise InputError(f"{source} : une liste non vide « profils » est attendue.")
    out = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, Mapping) or LABEL_KEY not in item:
            raise InputError(
                f"{source} : le profil n° {i} doit être un dictionnaire avec un « nom »."
            )
        out.append(dict(item))
    return out


@dataclass(frozen=True)
class ProfileResult:
    """Predicted access probabilities of typical profiles by group.

    Attributes
    ----------
    table : DataFrame
        One row per profile × group: ``profile``, ``group``, ``probability``
        (fit on the full data), ``ci_low``, ``ci_high`` (bootstrap percentile).
    gaps : DataFrame
        One row per profile × non-reference group: ``profile``, ``group``,
        ``reference``, ``gap`` (probability difference, group − reference),
        ``ci_low``, ``ci_high``.
    model_quality : dict
        Cross-validated ``brier``, ``brier_baseline`` (predicting the overall
        rate), ``roc_auc`` and ``n_folds`` of the outcome model.
    warnings : tuple of str
        Plain-language warnings (in French).
    profiles : DataFrame
        The resolved profiles: one row per profile, every model feature, with
        the values filled in for features the profile did not give.
    draws : DataFrame
        Bootstrap probabilities: ``replicate``, ``profile``, ``group``,
        ``probability``.
    group : str
        The group column.
    reference : str
        Reference level of ``gaps``.
    n : int
        Rows the model was fitted on.
    n_boot : int
        Bootstrap replicates.
    alpha : float
        Intervals are at level ``1 - alpha``.
    params : dict
        Settings of the gradient-boosted trees actually used.
    """

    table: pd.DataFrame
    gaps: pd.DataFrame
    model_quality: Mapping[str, float]
    warnings: tuple[str, ...]
    profiles: pd.DataFrame
    draws: pd.DataFrame
    group: str
    reference: str
    n: int
    n_boot: int
    alpha: float = 0.05
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Probabilities with the gap to the reference, one row per profile × group."""
        g = self.gaps.rename(columns={"ci_low": "gap_ci_low", "ci_high": "gap_ci_high"}).drop(
            columns="reference"
        )
        out = self.table.merge(g, on=["profile", "group"], how="left")
        out.insert(2, "reference", self.reference)
        return out

    def to_test_results(self, *, reference: str | None = None) -> ResultSet:
        """One :class:`TestResult` per compared group.

        The estimate is the **average over profiles** of the gap in predicted
        access probability (group − reference), each profile weighted equally;
        its interval is the bootstrap percentile interval of that average and
        the p-value the two-sided bootstrap p-value
        ``min(1, 2 min(#{avg* ≤ 0} + 1, #{avg* ≥ 0} + 1) / (B + 1))``.
        ``details["profiles"]`` holds the per-profile gaps.

        Parameters
        ----------
        reference : str, optional
            Reference group (default: the one used at fit time).
        """
        ref = self.reference if reference is None else str(reference)
        levels = list(dict.fromkeys(self.table["group"]))
        if ref not in levels:
            raise ArgumentError(
                f"reference : « {ref} » n'est pas un niveau de {self.group} ({', '.join(levels)})."
            )
        gaps = _gaps_from(self.table, self.draws, ref, self.alpha)
        wide = self.draws.pivot_table(
            index="replicate", columns=["group", "profile"], values="probability", dropna=False
        )
        level = 100 * (1 - self.alpha)
        results = []
        for g in levels:
            if g == ref:
                continue
            gp = gaps[gaps["group"] == g].reset_index(drop=True)
            est = float(gp["gap"].mean())
            avg = (wide[g] - wide[ref]).mean(axis=1).to_numpy()
            avg = avg[np.isfinite(avg)]
            lo, hi = _percentile_ci(avg, self.alpha)
            if avg.size:
                p = min(
                    1.0,
                    2 * min(np.sum(avg <= 0) + 1, np.sum(avg >= 0) + 1) / (avg.size + 1),
                )
            else:
                p = math.nan
            results.append(
                TestResult(
                    name="profiles",
                    method=(
                        "Probabilités d'accès de profils types (gradient boosting, "
                        f"HistGradientBoostingClassifier), écart moyen sur {len(gp)} profils, "
                        f"IC {fmt_num(level)} % bootstrap percentile ({self.n_boot} rééchantillonnages "
                        "stratifiés par groupe)"
                    ),
                    p_value=float(p),
                    estimate=est,
                    estimate_name="mean_profile_probability_difference",
                    ci_low=lo,
                    ci_high=hi,
                    n=self.n,
                    groups=(ref, g),
                    warnings=self.warnings,
                    details={
                        "profiles": gp,
                        "probabilities": self.table,
                        "model_quality": dict(self.model_quality),
                        "n_boot": self.n_boot,
                        "resolved_profiles": self.profiles,
                    },
                    alpha=self.alpha,
                )
            )
        return ResultSet(tuple(results))


def _percentile_ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _gaps_from(table: pd.DataFrame, draws: pd.DataFrame, ref: str, alpha: float) -> pd.DataFrame:
    rows = []
    point = table.set_index(["profile", "group"])["probability"]
    wide = draws.pivot_table(
        index="replicate", columns=["group", "profile"], values="probability", dropna=False
    )
    profiles = list(dict.fromkeys(table["profile"]))
    for g in dict.fromkeys(table["group"]):
        if g == ref:
            continue
        for pr in profiles:
            gap = float(point[(pr, g)] - point[(pr, ref)])
            if len(wide):
                lo, hi = _percentile_ci((wide[(g, pr)] - wide[(ref, pr)]).to_numpy(), alpha)
            else:
                lo, hi = math.nan, math.nan
            rows.append(
                {
                    "profile": pr,
                    "group": g,
                    "reference": ref,
                    "gap": gap,
                    "ci_low": lo,
                    "ci_high": hi,
                }
            )
    return pd.DataFrame(rows, columns=["profile", "group", "reference", "gap", "ci_low", "ci_high"])


def stratified_bootstrap_indices(
    strata: np.ndarray | pd.Series, rng: np.random.Generator
) -> np.ndarray:
    """Row positions of a bootstrap resample stratified by ``strata``.

    Within each stratum of size ``n_s``, ``n_s`` positions are drawn with
    replacement among that stratum's rows, so every stratum keeps exactly its
    size: no group can vanish from a resample.

    Parameters
    ----------
    strata : array-like
        Stratum label of each row.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of int
        Positions (``0 … len(strata) - 1``), stratum by stratum.
    """
    codes, _ = pd.factorize(pd.Series(strata), sort=True)
    parts = []
    for c in range(codes.max() + 1 if codes.size else 0):
        pos = np.flatnonzero(codes == c)
        parts.append(rng.choice(pos, size=pos.size, replace=True))
    return np.concatenate(parts) if parts else np.empty(0, dtype=int)


# --------------------------------------------------------------------------- #
# Feature preparation shared by both estimators
# --------------------------------------------------------------------------- #
def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or pd.api.types.is_object_dtype(s.dtype)
    )


def _categorical_columns(
    df: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] | None
) -> list[str]:
    if categorical is not None:
        unknown = [c for c in categorical if c not in columns]
        if unknown:
            raise ArgumentError(
                f"categorical : colonnes absentes des variables du modèle : {', '.join(unknown)}."
            )
        return list(categorical)
    return [c for c in columns if _is_categorical(df[c])]


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ArgumentError(f"{what} : colonnes absentes de la table : {', '.join(missing)}.")


def _binary_outcome(s: pd.Series, name: str) -> np.ndarray:
    if s.isna().any():
        raise ArgumentError(f"La variable d'intérêt « {name} » contient des valeurs manquantes.")
    vals = pd.unique(s.astype(float))
    if not set(vals) <= {0.0, 1.0}:
        raise ArgumentError(
            f"La variable d'intérêt « {name} » doit être binaire (vrai/faux ou 0/1)."
        )
    return s.astype(float).to_numpy().astype(int)


def _model_frame(
    df: pd.DataFrame,
    columns: Sequence[str],
    categorical: Sequence[str],
    *,
    max_categories: int,
) -> tuple[pd.DataFrame, dict[str, list[str]], list[str]]:
    """Model matrix for HistGradientBoosting: categoricals as fixed ``category``.

    Returns the frame, the categories of each categorical column and warnings.
    """
    out = {}
    cats: dict[str, list[str]] = {}
    warns = []
    for c in columns:
        s = df[c]
        if c in categorical:
            s = s.astype("string")
            counts = s.value_counts(dropna=True)
            if len(counts) > max_categories:
                keep = set(counts.index[: max_categories - 1])
                s = s.where(s.isna() | s.isin(keep), _OTHER_CATEGORY)
                warns.append(
                    f"« {c} » a {len(counts)} modalités : les moins fréquentes sont regroupées "
                    f"en « {_OTHER_CATEGORY} » (limite {max_categories})."
                )
                counts = s.value_counts(dropna=True)
            levels = sorted(str(v) for v in counts.index)
            cats[c] = levels
            out[c] = pd.Categorical(s.astype(object).where(s.notna(), None), categories=levels)
        else:
            try:
                out[c] = pd.to_numeric(s.astype("Float64"), errors="raise").astype("float64")
            except (TypeError, ValueError) as exc:
                raise ArgumentError(
                    f"« {c} » n'est pas numérique ; déclarez-la dans categorical."
                ) from exc
    return pd.DataFrame(out, index=df.index), cats, warns


def _profile_boot_chunk(
    X: pd.DataFrame,
    y: np.ndarray,
    strata: np.ndarray,
    grid: pd.DataFrame,
    seeds: np.ndarray,
    params: Mapping[str, Any],
    model_seed: int,
    categorical: np.ndarray | None = None,
) -> np.ndarray:
    """Bootstrap probabilities of the profile grid, one row per seed.

    ``X`` and ``grid`` are data frames with categorical dtypes, or matrices
    from :func:`_encoded` with the boolean mask ``categorical``.
    """
    out = np.full((len(seeds), len(grid)), np.nan)
    with single_thread(openmp=True):
        for i, seed in enumerate(seeds):
            idx = stratified_bootstrap_indices(strata, np.random.default_rng(int(seed)))
            yb = y[idx]
            if yb.min() == yb.max():
                continue
            Xb = X.iloc[idx] if hasattr(X, "iloc") else X[idx]
            mb = _gbm(params, model_seed, categorical).fit(Xb, yb)
            out[i] = mb.predict_proba(grid)[:, 1]
    return out


def _workers(n: int) -> Any:
    """A reusable pool of ``n`` worker processes (loky, as joblib uses)."""
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n)


def _import_models() -> bool:
    import sklearn.ensemble  # noqa: F401

    return True


def warm_up_workers(n_jobs: int) -> None:
    """Start the ``n_jobs - 1`` worker processes of the bootstrap ahead of time.

    Starting a worker (a new interpreter importing scikit-learn) takes one to
    two seconds; a caller with other work to do first (the report's other
    tests) can have it done in the background.
    """
    if int(n_jobs) > 1:
        pool = _workers(int(n_jobs) - 1)
        for _ in range(int(n_jobs) - 1):
            pool.submit(_import_models)


def _gbm(
    params: Mapping[str, Any] | None, seed: int, categorical: np.ndarray | None = None
) -> HistGradientBoostingClassifier:
    kw = dict(DEFAULT_GBM_PARAMS)
    if params:
        kw.update(params)
    kw["categorical_features"] = "from_dtype" if categorical is None else categorical
    kw["random_state"] = seed
    return HistGradientBoostingClassifier(**kw)


def _encoded(frame: pd.DataFrame, cats: Mapping[str, list[str]]) -> np.ndarray:
    """Float matrix of a model frame: categories as their codes, missing as NaN.

    The trees see exactly what ``categorical_features="from_dtype"`` gives
    them (codes in the order of the fixed categories), without the pandas
    validation and ordinal encoding repeated at every bootstrap refit.
    """
    out = np.empty((len(frame), frame.shape[1]), dtype="float64")
    for j, c in enumerate(frame.columns):
        if c in cats:
            codes = frame[c].cat.codes.to_numpy()
            out[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            out[:, j] = frame[c].to_numpy(dtype="float64", na_value=np.nan)
    return out


def _cv_quality(
    make_model: Any, X: Any, y: np.ndarray, *, n_folds: int, seed: int
) -> dict[str, float]:
    """Out-of-fold Brier score and ROC AUC of a classifier."""
    minority = int(min(np.sum(y == 0), np.sum(y == 1)))
    k = min(int(n_folds), minority)
    if k < 2:
        return {"brier": math.nan, "brier_baseline": math.nan, "roc_auc": math.nan, "n_folds": 0}
    oof = np.empty(len(y), dtype=float)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    with single_thread(openmp=True):
        for train, test in skf.split(np.zeros(len(y)), y):
            m = make_model()
            Xtr = X.iloc[train] if hasattr(X, "iloc") else X[train]
            Xte = X.iloc[test] if hasattr(X, "iloc") else X[test]
            m.fit(Xtr, y[train])
            oof[test] = m.predict_proba(Xte)[:, 1]
    base = np.full(len(y), y.mean())
    return {
        "brier": float(brier_score_loss(y, oof)),
        "brier_baseline": float(brier_score_loss(y, base)),
        "roc_auc": float(roc_auc_score(y, oof)),
        "n_folds": int(k),
    }


# --------------------------------------------------------------------------- #
# profile_probabilities
# --------------------------------------------------------------------------- #
def _resolve_profiles(
    profiles: Sequence[Mapping[str, Any]],
    X: pd.DataFrame,
    features: Sequence[str],
    cats: Mapping[str, list[str]],
) -> tuple[pd.DataFrame, list[str], list[str]]:
    names = []
    rows = []
    filled: set[str] = set()
    for i, prof in enumerate(profiles, start=1):
        if LABEL_KEY not in prof:
            raise ArgumentError(f"profiles : le profil n° {i} n'a pas de « {LABEL_KEY} ».")
        p = dict(prof)
        name = str(p.pop(LABEL_KEY))
        if MONTHLY_INCOME_KEY in p:
            monthly = p.pop(MONTHLY_INCOME_KEY)
            if LOG_INCOME_FEATURE not in p:
                p[LOG_INCOME_FEATURE] = log_income_from_monthly(float(monthly))
        unknown = [k for k in p if k not in features]
        if unknown:
            raise ArgumentError(
                f"profiles : « {name} » utilise des variables absentes du modèle : "
                f"{', '.join(unknown)}."
            )
        row = {}
        for f in features:
            if f in p:
                v = p[f]
                if f in cats:
                    v = str(v)
                    if v not in cats[f]:
                        raise ArgumentError(
                            f"Profil « {name} » : la valeur « {v} » de « {f} » n'est pas observée "
                            "dans les données."
                        )
                else:
                    v = float(v)
            else:
                filled.add(f)
                col = X[f]
                if f in cats:
                    mode = col.mode(dropna=True)
                    v = str(mode.iloc[0]) if len(mode) else None
                else:
                    v = float(col.median())
            row[f] = v
        names.append(name)
        rows.append(row)
    if len(set(names)) != len(names):
        raise ArgumentError("profiles : les noms de profils doivent être distincts.")
    table = pd.DataFrame(rows, index=pd.Index(names, name="profile"))
    warns = []
    if filled:
        warns.append(
            "Variables non précisées dans les profils, fixées à la valeur la plus fréquente "
            f"(ou médiane) des données : {', '.join(sorted(filled))}."
        )
    return table, names, warns


def _grid(
    resolved: pd.DataFrame,
    group: str,
    levels: Sequence[str],
    columns: Sequence[str],
    cats: Mapping[str, list[str]],
) -> pd.DataFrame:
    parts = []
    for g in levels:
        part = resolved.copy()
        part[group] = g
        parts.append(part)
    grid = pd.concat(parts).reset_index(drop=True)
    out = {}
    for c in columns:
        if c in cats:
            out[c] = pd.Categorical(grid[c], categories=cats[c])
        else:
            out[c] = grid[c].astype(float)
    return pd.DataFrame(out)


def profile_probabilities(
    df: pd.DataFrame,
    *,
    outcome: str,
    features: Sequence[str],
    profiles: Sequence[Mapping[str, Any]],
    group: str,
    reference: str | None = None,
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = None,
    categorical: Sequence[str] | None = None,
    cv_folds: int = 5,
    model_params: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
) -> ProfileResult:
    """Access probability of typical household profiles under each group.

    A :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (categorical
    features handled natively) is fitted on ``outcome`` with ``features`` and
    ``group`` as predictors. For each profile the probability is predicted
    with ``group`` set to each of its levels, all other features held at the
    profile's values. Intervals come from refitting on bootstrap resamples
    stratified by group (each group keeps its size, so none can vanish).

    Parameters
    ----------
    df : DataFrame
        The access frame (one row per demand active in the semester).
    outcome : str
        Binary outcome column (e.g. ``"access"``).
    features : sequence of str
        Predictors other than ``group`` (e.g. :data:`ACCESS_CONTROLS`).
    profiles : sequence of dict
        Typical profiles: a French label ``nom`` and feature values. Income may
        be given as ``revenu_mensuel_uc`` (€/UC/month), converted with
        :func:`log_income_from_monthly`. Features not given are set to the
        most frequent value (categorical) or median (numeric) of ``df``, and a
        warning says so. See :func:`load_profiles`.
    group : str
        Group column (e.g. ``"nationalite"``, ``"residence_qpv"``).
    reference : str, optional
        Reference level for the gaps. Default: the most frequent level.
    n_boot : int, default 200
        Bootstrap replicates (0 for point estimates only).
    alpha : float, default 0.05
        Intervals are at level ``1 - alpha`` (percentile method).
    random_state : int or Generator, optional
        Seed of the bootstrap, the cross-validation split and the trees.
    categorical : sequence of str, optional
        Which of ``features`` are categorical. Default: string, object and
        category columns (booleans are used as 0/1).
    cv_folds : int, default 5
        Folds of the stratified cross-validation of the model quality.
    model_params : dict, optional
        Overrides of :data:`DEFAULT_GBM_PARAMS`.
    n_jobs : int, default 1
        Processes for the bootstrap (each fit is single-threaded): this one
        and ``n_jobs - 1`` reusable workers.
        Results do not depend on ``n_jobs``: every replicate has its own seed
        drawn from ``random_state``.

    Returns
    -------
    ProfileResult

    Notes
    -----
    The gap of a profile is ``p(profile, group) - p(profile, reference)``, a
    difference of predicted probabilities (not a causal effect). Its interval
    is the percentile interval of the paired bootstrap differences. A
    categorical feature with more than ``max_bins - 1`` levels has its rarest
    levels pooled. Rows with a missing outcome or group are rejected; missing
    feature values are handled natively by the trees.

    References
    ----------
    .. [1] Ke, G. et al. (2017). LightGBM: a highly efficient gradient boosting
       decision tree. *NeurIPS 30*, 3146–3154.
    .. [2] Efron, B. & Tibshirani, R. J. (1993). *An Introduction to the
       Bootstrap*. Chapman & Hall, ch. 13 (percentile intervals).
    .. [3] Défenseur des droits (2023). *Discriminations dans l'accès au
       logement social : analyse des données du SNE* (profils types).
    """
    if n_boot < 0:
        raise ArgumentError("n_boot doit être un entier positif ou nul.")
    if not 0 < alpha < 1:
        raise ArgumentError("alpha doit être strictement compris entre 0 et 1.")
    features = [f for f in features if f != group]
    _check_columns(df, [outcome, group, *features], "profile_probabilities")
    if not profiles:
        raise ArgumentError("profiles : au moins un profil est attendu.")
    if df[group].isna().any():
        raise ArgumentError(f"La variable de groupe « {group} » contient des valeurs manquantes.")
    y = _binary_outcome(df[outcome], outcome)
    if y.min() == y.max():
        raise ArgumentError(f"« {outcome} » ne prend qu'une seule valeur : modèle impossible.")

    rng = np.random.default_rng(random_state)
    model_seed = int(rng.integers(_MAX_SEED))
    cv_seed = int(rng.integers(_MAX_SEED))
    cat_cols = [*_categorical_columns(df, features, categorical), group]
    columns = [*features, group]
    params = dict(DEFAULT_GBM_PARAMS)
    if model_params:
        params.update(model_params)
    max_bins = int(params.get("max_bins", 255))
    X, cats, warns = _model_frame(df, columns, cat_cols, max_categories=max_bins)
    levels = cats[group]
    counts = X[group].value_counts()
    if reference is None:
        reference = str(counts.idxmax())
    reference = str(reference)
    if reference not in levels:
        raise ArgumentError(
            f"reference : « {reference} » n'est pas un niveau de {group} ({', '.join(levels)})."
        )
    for g in levels:
        n_g = int(counts[g])
        events = int(y[(X[group] == g).to_numpy()].sum())
        if n_g < 30 or events < 5:
            warns.append(
                f"Groupe « {g} » : effectif faible ({n_g} demandes, {events} attributions), "
                "probabilités peu fiables."
            )

    resolved, names, pwarns = _resolve_profiles(profiles, X, features, cats)
    warns.extend(pwarns)
    grid = _grid(resolved, group, levels, columns, cats)

    # the trees are refitted 1 + n_boot + cv_folds times: encode once
    mask = np.array([c in cats for c in columns])
    Xn, gridn = _encoded(X, cats), _encoded(grid, cats)
    with single_thread(openmp=True):
        model = _gbm(params, model_seed, mask).fit(Xn, y)
    point = model.predict_proba(gridn)[:, 1]

    strata = X[group].to_numpy()
    seeds = rng.integers(_MAX_SEED, size=n_boot)
    chunks = [c for c in np.array_split(np.arange(n_boot), max(1, int(n_jobs))) if c.size]
    args = (Xn, y, strata, gridn)
    # the first chunk runs here while n_jobs - 1 worker processes take the others
    futures = []
    if len(chunks) > 1:
        pool = _workers(len(chunks) - 1)
        futures = [
            pool.submit(_profile_boot_chunk, *args, seeds[c], params, model_seed, mask)
            for c in chunks[1:]
        ]
    parts = (
        [_profile_boot_chunk(*args, seeds[chunks[0]], params, model_seed, mask)] if chunks else []
    )
    parts += [f.result() for f in futures]
    boot = np.vstack(parts) if parts else np.empty((0, len(grid)))
    degenerate = int(np.isnan(boot).all(axis=1).sum())
    if degenerate:
        warns.append(
            f"{degenerate} rééchantillonnages bootstrap sans variation de « {outcome} » ignorés."
        )

    n_prof = len(names)
    grid_profile = np.tile(names, len(levels))
    grid_group = np.repeat(levels, n_prof)
    ci = [_percentile_ci(boot[:, j], alpha) for j in range(len(grid))]
    table = pd.DataFrame(
        {
            "profile": grid_profile,
            "group": grid_group,
            "probability": point,
            "ci_low": [c[0] for c in ci],
            "ci_high": [c[1] for c in ci],
        }
    )
    draws = pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(n_boot), len(grid)),
            "profile": np.tile(grid_profile, n_boot),
            "group": np.tile(grid_group, n_boot),
            "probability": boot.ravel(),
        }
    )
    gaps = _gaps_from(table, draws, reference, alpha)
    quality = _cv_quality(
        lambda: _gbm(params, model_seed, mask), Xn, y, n_folds=cv_folds, seed=cv_seed
    )
    if math.isfinite(quality["roc_auc"]) and quality["roc_auc"] < 0.6:
        warns.append(
            "Pouvoir discriminant faible du modèle (AUC validée croisée = "
            f"{fmt_float(quality['roc_auc'], digits=2)})."
        )
    logger.info(
        "profile_probabilities: %d rows, %d profiles, %d groups, %d bootstrap replicates",
        len(X),
        n_prof,
        len(levels),
        n_boot,
    )
    return ProfileResult(
        table=table,
        gaps=gaps,
        model_quality=quality,
        warnings=tuple(warns),
        profiles=resolved.reset_index(),
        draws=draws,
        group=group,
        reference=reference,
        n=len(X),
        n_boot=n_boot,
        alpha=alpha,
        params=params,
    )


# --------------------------------------------------------------------------- #
# ipw_disparity
# --------------------------------------------------------------------------- #
def _logistic_design(
    data: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> tuple[np.ndarray, ColumnTransformer]:
    steps = []
    if numeric:
        steps.append(("num", StandardScaler(), list(numeric)))
    if categorical:
        steps.append(
            (
                "cat",
                OneHotEncoder(
                    drop="first",
                    min_frequency=10,
                    handle_unknown="infrequent_if_exist",
                    sparse_output=False,
                ),
                list(categorical),
            )
        )
    ct = ColumnTransformer(steps, remainder="drop")
    Z = np.asarray(ct.fit_transform(data), dtype=float)
    return Z, ct


def _unpenalised_logistic() -> LogisticRegression:
    """The propensity model: unpenalised maximum likelihood, Newton steps.

    Newton–Cholesky converges in a handful of iterations on designs with many
    indicator columns (first-choice commune fixed effects), where L-BFGS needs
    hundreds (at the MEL scale 0.2 s instead of 1.5 s per fit); both reach the
    same maximum.
    """
    return LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=100)


def _fit_logistic(Z: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Unpenalised logistic regression; returns (beta incl. intercept, fitted p, warnings)."""
    warns = []
    with warnings.catch_warnings(record=True) as caught, single_thread(openmp=True):
        warnings.simplefilter("always", ConvergenceWarning)
        lr = _unpenalised_logistic()
        lr.fit(Z, t)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        warns.append("Le modèle de score de propension n'a pas complètement convergé.")
    beta = np.concatenate([lr.intercept_, lr.coef_.ravel()])
    return beta, lr.predict_proba(Z)[:, 1], warns


def _att_estimate(y: np.ndarray, t: np.ndarray, e: np.ndarray, keep: np.ndarray):
    t1 = keep & (t == 1)
    t0 = keep & (t == 0)
    w0 = e[t0] / (1 - e[t0])
    mu1 = float(y[t1].mean())
    mu0 = float(np.sum(w0 * y[t0]) / np.sum(w0))
    return mu1, mu0, w0


def _att_sandwich(
    y: np.ndarray, t: np.ndarray, e: np.ndarray, X1: np.ndarray, keep: np.ndarray, mu1, mu0
) -> float:
    """Stacked M-estimation variance of the ATT with a logistic propensity.

    Estimating equations (per row): the logistic score ``(t - e) x``, then
    ``s t (y - mu1)`` and ``s (1 - t) r (y - mu0)`` with ``r = e / (1 - e)``
    and ``s`` the not-trimmed indicator. Returns the variance of ``mu1 - mu0``.
    """
    n, k = X1.shape
    s = keep.astype(float)
    r = e / (1 - e)
    psi = np.empty((n, k + 2))
    psi[:, :k] = (t - e)[:, None] * X1
    psi[:, k] = s * t * (y - mu1)
    psi[:, k + 1] = s * (1 - t) * r * (y - mu0)
    A = np.zeros((k + 2, k + 2))
    A[:k, :k] = (X1 * (e * (1 - e))[:, None]).T @ X1 / n
    A[k, k] = np.mean(s * t)
    A[k + 1, k + 1] = np.mean(s * (1 - t) * r)
    A[k + 1, :k] = -((s * (1 - t) * r * (y - mu0)) @ X1) / n
    B = psi.T @ psi / n
    Ainv = np.linalg.pinv(A)
    V = Ainv @ B @ Ainv.T / n
    c = np.zeros(k + 2)
    c[k], c[k + 1] = 1.0, -1.0
    return float(c @ V @ c)


def _smd_table(
    data: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    t: np.ndarray,
    w: np.ndarray,
) -> pd.DataFrame:
    """Standardised mean differences before and after weighting (Austin 2009)."""
    cols: dict[str, np.ndarray] = {}
    for c in numeric:
        cols[c] = data[c].to_numpy(dtype=float)
    for c in categorical:
        d = pd.get_dummies(data[c].astype("string"), prefix=c, prefix_sep="=", dtype=float)
        for name in d.columns:
            cols[name] = d[name].to_numpy()
    rows = []
    m1, m0 = t == 1, t == 0
    for name, x in cols.items():
        x1, x0 = x[m1], x[m0]
        sd = math.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2) if len(x1) > 1 and len(x0) > 1 else 0
        w1, w0 = w[m1], w[m0]
        mean1 = float(np.average(x1, weights=w1)) if w1.sum() > 0 else math.nan
        mean0w = float(np.average(x0, weights=w0)) if w0.sum() > 0 else math.nan
        before = (x1.mean() - x0.mean()) / sd if sd > 0 else 0.0
        after = (mean1 - mean0w) / sd if sd > 0 else 0.0
        rows.append(
            {
                "covariate": name,
                "mean_compared": float(x1.mean()),
                "mean_reference": float(x0.mean()),
                "mean_reference_weighted": mean0w,
                "smd_before": float(before),
                "smd_after": float(after),
            }
        )
    return pd.DataFrame(rows)


def ipw_disparity(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: str,
    compared: str,
    controls: Sequence[str],
    propensity: str = "logistic",
    trim: tuple[float, float] | None = (0.01, 0.99),
    alpha: float = 0.05,
    categorical: Sequence[str] | None = None,
    cv_folds: int = 5,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = None,
    model_params: Mapping[str, Any] | None = None,
) -> TestResult:
    """Difference in access rates after inverse-probability weighting (ATT).

    The propensity ``e(x) = P(compared | x)`` of belonging to ``compared``
    rather than ``reference`` is modelled from ``controls``. Reference rows get
    the weight ``e / (1 - e)`` (normalised to mean 1 in the reference group:
    stabilised), compared rows weight 1, so the reference group is reweighted
    to the compared group's covariate distribution. The estimate is the
    average effect on the compared group (ATT)::

        rate(compared) − Σ w·y / Σ w over reference rows

    i.e. how the compared group's access rate differs from that of reference
    households with the same characteristics — the "everything else equal"
    comparison. Rows whose propensity falls outside ``trim`` are dropped (from
    both groups) and counted.

    Parameters
    ----------
    df : DataFrame
        The access frame.
    outcome : str
        Binary outcome column (e.g. ``"access"``).
    group : str
        Group column (e.g. ``"nationalite"``).
    reference, compared : str
        Levels of ``group`` compared; other rows are ignored.
    controls : sequence of str
        Covariates of the propensity model (e.g. :data:`ACCESS_CONTROLS`).
    propensity : {"logistic", "gbm"}, default "logistic"
        Unpenalised logistic regression (numerics standardised, categoricals
        one-hot with levels seen fewer than 10 times pooled) or
        HistGradientBoosting with native categoricals.
    trim : (float, float) or None, default (0.01, 0.99)
        Propensity bounds outside which rows are dropped; None keeps all.
    alpha : float, default 0.05
        Confidence level ``1 - alpha``.
    categorical : sequence of str, optional
        Which controls are categorical (default: string, object, category).
    cv_folds : int, default 5
        Folds of the cross-validated Brier score and AUC of the propensity
        model (``details["propensity_quality"]``); 0 skips it (NaN values).
    n_boot : int, default 200
        Bootstrap replicates, used only with ``propensity="gbm"``.
    random_state : int or Generator, optional
        Seed of the cross-validation split, the trees and the bootstrap.
    model_params : dict, optional
        Overrides of :data:`DEFAULT_GBM_PARAMS` (``propensity="gbm"``).

    Returns
    -------
    TestResult
        ``estimate_name="rate_difference"`` (compared − reweighted reference),
        Wald ``statistic`` (z) and p-value, ``n`` rows after trimming.
        ``details``: ``balance`` (DataFrame of standardised mean differences
        before/after weighting per covariate or category level), ``ess``
        (Kish effective sample sizes), ``n_trimmed`` (per group),
        ``rate_compared``, ``rate_reference`` (unweighted),
        ``rate_reference_weighted``, ``propensity_quality`` (cross-validated
        ``brier``, ``brier_baseline``, ``roc_auc``, ``n_folds``), ``se``,
        ``ci_method``, ``estimand`` (``"ATT"``).

    Notes
    -----
    With the logistic propensity the standard error is the sandwich variance
    of the stacked estimating equations (logistic score and the two Hájek
    means), which accounts for the estimation of the propensity; trimming is
    treated as fixed. With ``"gbm"`` there is no such closed form: the
    interval is the bootstrap percentile interval (resampling stratified by
    group, propensity refitted each time), the standard error the bootstrap
    standard deviation. Regularised trees tend to under-fit the propensity in
    small samples, which leaves part of the confounding in the estimate (bias
    towards the crude difference): check the balance table, and prefer the
    logistic model unless it is visibly misspecified. A warning is issued when
    any |SMD| after weighting exceeds 0.1 (residual imbalance), when rows were
    trimmed, or when the weights shrink the reference group's effective sample
    size below a fifth of its rows. With the logistic propensity, a warning
    also reports (quasi-)complete separation of the propensity model, judged
    by :func:`allocation_analysis.stats._separation.is_separated` (a fitted
    propensity within 1e-8 of 0 or 1, or a standardised coefficient above
    7.5): rules that do not depend on the units of the controls, which the
    model standardises anyway, so that a control in shares or in percent gives
    the same estimate. Rows with a missing
    numeric control are dropped (counted in ``details["n_missing"]``); a
    missing category is a level of its own.

    References
    ----------
    .. [1] Hirano, K., Imbens, G. W. & Ridder, G. (2003). Efficient estimation
       of average treatment effects using the estimated propensity score.
       *Econometrica* 71(4), 1161–1189.
    .. [2] Lunceford, J. K. & Davidian, M. (2004). Stratification and weighting
       via the propensity score in estimation of causal treatment effects.
       *Statistics in Medicine* 23(19), 2937–2960.
    .. [3] Reifeis, S. A. & Hudgens, M. G. (2022). On variance of the
       treatment effect in the treated when estimated by inverse probability
       weighting. *American Journal of Epidemiology* 191(6), 1092–1097.
    .. [4] Austin, P. C. (2009). Balance diagnostics for comparing the
       distribution of baseline covariates between treatment groups in
       propensity-score matched samples. *Statistics in Medicine* 28(25),
       3083–3107.
    .. [5] Crump, R. K., Hotz, V. J., Imbens, G. W. & Mitnik, O. A. (2009).
       Dealing with limited overlap in estimation of average treatment
       effects. *Biometrika* 96(1), 187–199.
    """
    if propensity not in ("logistic", "gbm"):
        raise ArgumentError(
            f"propensity : « {propensity} » inconnu ; valeurs possibles : logistic, gbm."
        )
    if not 0 < alpha < 1:
        raise ArgumentError("alpha doit être strictement compris entre 0 et 1.")
    if trim is not None:
        lo_t, hi_t = (float(v) for v in trim)
        if not 0 <= lo_t < hi_t <= 1:
            raise ArgumentError("trim doit être (bas, haut) avec 0 ≤ bas < haut ≤ 1.")
    controls = [c for c in controls if c != group]
    _check_columns(df, [outcome, group, *controls], "ipw_disparity")
    reference, compared = str(reference), str(compared)
    gcol = df[group].astype("string")
    levels = set(gcol.dropna().unique())
    for lev, what in ((reference, "reference"), (compared, "compared")):
        if lev not in levels:
            raise ArgumentError(f"{what} : « {lev} » n'est pas un niveau observé de {group}.")
    if reference == compared:
        raise ArgumentError("reference et compared doivent être différents.")

    data = df.loc[gcol.isin([reference, compared]).fillna(False).to_numpy()].copy()
    cat_cols = _categorical_columns(data, controls, categorical)
    num_cols = [c for c in controls if c not in cat_cols]
    warns: list[str] = []
    for c in num_cols:
        data[c] = pd.to_numeric(data[c].astype("Float64"), errors="coerce").astype("float64")
    for c in cat_cols:
        data[c] = data[c].astype("string").fillna(_MISSING_CATEGORY).astype(str)
    miss = data[num_cols].isna().any(axis=1).to_numpy() if num_cols else np.zeros(len(data), bool)
    n_missing = int(miss.sum())
    if n_missing:
        warns.append(
            f"{n_missing} lignes écartées pour valeur manquante d'une variable de contrôle."
        )
        data = data.loc[~miss]
    y = _binary_outcome(data[outcome], outcome).astype(float)
    t = (data[group].astype("string") == compared).to_numpy().astype(float)
    if t.sum() == 0 or (1 - t).sum() == 0:
        raise ArgumentError("Un des deux groupes comparés est vide après filtrage.")

    rng = np.random.default_rng(random_state)
    model_seed = int(rng.integers(_MAX_SEED))
    cv_seed = int(rng.integers(_MAX_SEED))

    if propensity == "logistic":
        Z, _ = _logistic_design(data, num_cols, cat_cols)
        beta, e, fw = _fit_logistic(Z, t.astype(int))
        warns.extend(fw)
        X1 = np.column_stack([np.ones(len(Z)), Z])
        if is_separated(X1, beta, model="logit"):
            warns.append(
                "Séparation complète ou quasi complète dans le modèle de score de propension "
                "(un contrôle prédit parfaitement le groupe) : les deux groupes ne se "
                "recouvrent pas pour une partie des lignes, dont le score est extrême ; "
                "l'estimation ne porte que sur les lignes conservées par l'élagage."
            )
        quality = _cv_quality(
            _unpenalised_logistic,
            Z,
            t.astype(int),
            n_folds=cv_folds,
            seed=cv_seed,
        )
    else:
        params = dict(DEFAULT_GBM_PARAMS)
        if model_params:
            params.update(model_params)
        Xg, _, gw = _model_frame(
            data, controls, cat_cols, max_categories=int(params.get("max_bins", 255))
        )
        warns.extend(gw)
        with single_thread(openmp=True):
            gbm = _gbm(params, model_seed).fit(Xg, t.astype(int))
        e = gbm.predict_proba(Xg)[:, 1]
        quality = _cv_quality(
            lambda: _gbm(params, model_seed), Xg, t.astype(int), n_folds=cv_folds, seed=cv_seed
        )

    e = np.clip(e, 1e-12, 1 - 1e-12)
    keep = np.ones(len(e), dtype=bool) if trim is None else (e >= lo_t) & (e <= hi_t)
    n_trim_c = int(np.sum(~keep & (t == 1)))
    n_trim_r = int(np.sum(~keep & (t == 0)))
    if n_trim_c + n_trim_r:
        warns.append(
            f"{n_trim_c + n_trim_r} lignes écartées pour score de propension extrême "
            f"(hors [{fmt_num(lo_t)} ; {fmt_num(hi_t)}]) : {n_trim_c} « {compared} », "
            f"{n_trim_r} « {reference} »."
        )
    if keep[t == 1].sum() == 0 or keep[t == 0].sum() == 0:
        raise ArgumentError("Un des deux groupes est vide après élagage des scores de propension.")

    mu1, mu0, w0 = _att_estimate(y, t, e, keep)
    est = mu1 - mu0
    z_crit = float(sps.norm.ppf(1 - alpha / 2))
    if propensity == "logistic":
        se = math.sqrt(max(_att_sandwich(y, t, e, X1, keep, mu1, mu0), 0.0))
        ci_low, ci_high = est - z_crit * se, est + z_crit * se
        ci_method = "sandwich (équations d'estimation empilées, score logistique inclus)"
    else:
        boots = np.full(n_boot, np.nan)
        strata = t.astype(int)
        seeds = rng.integers(_MAX_SEED, size=n_boot)
        with single_thread(openmp=True):
            for b in range(n_boot):
                idx = stratified_bootstrap_indices(strata, np.random.default_rng(int(seeds[b])))
                tb = t[idx]
                mb = _gbm(params, model_seed).fit(Xg.iloc[idx], tb.astype(int))
                eb = np.clip(mb.predict_proba(Xg.iloc[idx])[:, 1], 1e-12, 1 - 1e-12)
                kb = np.ones(len(eb), bool) if trim is None else (eb >= lo_t) & (eb <= hi_t)
                if kb[tb == 1].sum() == 0 or kb[tb == 0].sum() == 0:
                    continue
                m1b, m0b, _ = _att_estimate(y[idx], tb, eb, kb)
                boots[b] = m1b - m0b
        se = float(np.nanstd(boots, ddof=1)) if np.isfinite(boots).sum() > 1 else math.nan
        ci_low, ci_high = _percentile_ci(boots, alpha)
        ci_method = f"bootstrap percentile ({n_boot} rééchantillonnages stratifiés par groupe)"
    z = est / se if se > 0 else math.nan
    p = float(2 * sps.norm.sf(abs(z))) if math.isfinite(z) else math.nan

    w = np.zeros(len(e))
    w[keep & (t == 1)] = 1.0
    w[keep & (t == 0)] = w0 / w0.mean()
    balance = _smd_table(data.loc[keep], num_cols, cat_cols, t[keep], w[keep])
    max_after = float(balance["smd_after"].abs().max()) if len(balance) else 0.0
    if max_after > 0.1:
        worst = balance.loc[balance["smd_after"].abs().idxmax(), "covariate"]
        warns.append(
            f"Équilibre imparfait après pondération : |différence standardisée| maximale "
            f"{fmt_float(max_after, digits=2)} > 0,1 (« {worst} »)."
        )
    ess_ref = float(w0.sum() ** 2 / np.sum(w0**2))
    n1 = int(np.sum(keep & (t == 1)))
    n0 = int(np.sum(keep & (t == 0)))
    if ess_ref < 0.2 * n0:
        warns.append(
            f"Taille d'échantillon effective du groupe « {reference} » réduite à "
            f"{fmt_int(ess_ref)} (sur {fmt_int(n0)}) par les poids."
        )
    return TestResult(
        name="ipw",
        method=(
            "Pondération inverse par le score de propension "
            f"({'régression logistique' if propensity == 'logistic' else 'gradient boosting'}), "
            f"effet moyen sur le groupe comparé (ATT), IC {fmt_pct(1 - alpha, digits=0)} "
            f"{ci_method}"
        ),
        statistic=float(z),
        p_value=p,
        estimate=float(est),
        estimate_name="rate_difference",
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        n=n1 + n0,
        groups=(reference, compared),
        warnings=tuple(warns),
        details={
            "estimand": "ATT",
            "propensity": propensity,
            "se": float(se),
            "ci_method": ci_method,
            "rate_compared": mu1,
            "rate_reference": float(y[keep & (t == 0)].mean()),
            "rate_reference_weighted": mu0,
            "n_compared": n1,
            "n_reference": n0,
            "n_trimmed": {compared: n_trim_c, reference: n_trim_r},
            "n_missing": n_missing,
            "ess": {compared: float(n1), reference: ess_ref},
            "balance": balance,
            "max_abs_smd_after": max_after,
            "propensity_quality": quality,
            "trim": None if trim is None else (lo_t, hi_t),
        },
        alpha=alpha,
    )
