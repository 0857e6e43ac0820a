"""Typed parameters of an analysis: period, territory, thresholds, UC scale, alpha.

Every parameter the notebooks, the pipeline and the command line share lives
here, validated once at the boundary (messages name the parameter and the
allowed values).
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from allocation_analysis.errors import InputError, UsageError

__all__ = [
    "AnalysisConfig",
    "DEFAULT_DELAI_ANORMAL_MOIS",
    "InputPaths",
    "Period",
    "RUN_KEYS",
    "RUN_PARAMETERS",
    "RunParameter",
    "SESSION_ONLY_PARAMETERS",
    "UCScale",
    "delai_anormal_parameter",
    "typed_parameters",
]

_PERIOD_RE = re.compile(r"^(\d{4})-S([12])$")


@dataclass(frozen=True, order=True)
class Period:
    """A semester, ``YYYY-S1`` (January–June) or ``YYYY-S2`` (July–December).

    Examples
    --------
    >>> p = Period.parse("2025-S2")
    >>> p.start, p.end
    (datetime.date(2025, 7, 1), datetime.date(2025, 12, 31))
    >>> p.rolling_start
    datetime.date(2025, 1, 1)
    """

    year: int
    half: int

    def __post_init__(self) -> None:
        if self.half not in (1, 2):
            raise UsageError(f"Semestre invalide : {self.half} (attendu 1 ou 2).")

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Parse ``"YYYY-S1"`` or ``"YYYY-S2"``."""
        if isinstance(text, Period):
            return text
        m = _PERIOD_RE.match(str(text).strip().upper())
        if not m:
            raise UsageError(
                f"Période invalide : « {text} ». Format attendu : AAAA-S1 ou AAAA-S2 "
                "(par exemple 2025-S2), ou « auto »."
            )
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> Period:
        """The semester that contains ``day``."""
        return cls(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def last_complete(cls, today: dt.date | None = None) -> Period:
        """The last semester entirely before ``today`` (``--period auto``)."""
        today = today or dt.date.today()
        return cls.containing(today).previous()

    @property
    def label(self) -> str:
        return f"{self.year}-S{self.half}"

    def __str__(self) -> str:
        return self.label

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def end(self) -> dt.date:
        """Last day of the semester (inclusive)."""
        return dt.date(self.year, 6, 30) if self.half == 1 else dt.date(self.year, 12, 31)

    @property
    def rolling_start(self) -> dt.date:
        """First day of the rolling 12 months ending with this semester."""
        return self.previous().start

    def previous(self) -> Period:
        return Period(self.year - 1, 2) if self.half == 1 else Period(self.year, 1)

    def next(self) -> Period:
        return Period(self.year, 2) if self.half == 1 else Period(self.year + 1, 1)

    @property
    def label_fr(self) -> str:
        """French label, e.g. ``"2e semestre 2025"``."""
        return f"{'1er' if self.half == 1 else '2e'} semestre {self.year}"


@dataclass(frozen=True)
class UCScale:
    """Consumption-unit scale (default: INSEE modified OECD scale).

    Parameters
    ----------
    first_adult : float
        Weight of the applicant.
    other_14_plus : float
        Weight of every other person aged 14 or more.
    child_under_14 : float
        Weight of every child under 14.
    """

    first_adult: float = 1.0
    other_14_plus: float = 0.5
    child_under_14: float = 0.3


@dataclass(frozen=True)
class InputPaths:
    """Paths of the input files of one territory (``None`` when not given)."""

    demandes: Path | None = None
    attributions: Path | None = None
    logements: Path | None = None
    seuils: Path | None = None
    communes: Path | None = None
    qpv: Path | None = None
    column_map: Path | None = None
    propositions: Path | None = None
    bailleurs: Path | None = None

    @classmethod
    def from_mapping(cls, mapping: dict[str, Any], base: Path | None = None) -> InputPaths:
        """Build from a mapping (config file keys), resolving relative paths against ``base``."""
        kwargs: dict[str, Path | None] = {}
        for f in fields(cls):
            value = mapping.get(f.name)
            if value in (None, ""):
                kwargs[f.name] = None
                continue
            p = Path(str(value)).expanduser()
            if base is not None and not p.is_absolute():
                p = base / p
            kwargs[f.name] = p
        return cls(**kwargs)


@dataclass(frozen=True)
class AnalysisConfig:
    """Parameters of one semi-annual analysis.

    Parameters
    ----------
    period : Period
        The semester analysed.
    territory : str
        Name of the territory (used in output paths and the report).
    siren_epci : str, optional
        SIREN of the EPCI whose first-quartile threshold applies.
    target_q1_hors_qpv, target_non_q1_en_qpv, target_prioritaires : float
        Legal targets (25 %, 50 % by default — the CIA may set another —, 25 %).
    alpha : float
        Significance level of the tests.
    secret_threshold : int
        Counts from 1 to ``secret_threshold - 1`` are suppressed in outputs.
    uc_scale : UCScale
        Consumption-unit scale.
    seed : int
        Seed of every random step (bootstrap, permutations).
    language : str
        Language of the report (``"fr"``).
    delai_anormal_mois : int, tuple of (str, int) pairs, or None
        Waiting time (calendar months) beyond which a pending demand is
        « anormalement long », as the département's arrêté fixes it: one
        number, or one number per requested typology (given as a mapping
        typology → months, stored as sorted pairs). ``None``: the default of
        :data:`DEFAULT_DELAI_ANORMAL_MOIS` months, and the report asks for the
        territory's own value (:func:`delai_anormal_parameter`).
    """

    period: Period
    territory: str = "territoire"
    siren_epci: str | None = None
    target_q1_hors_qpv: float = 0.25
    target_non_q1_en_qpv: float = 0.50
    target_prioritaires: float = 0.25
    alpha: float = 0.05
    secret_threshold: int = 11
    uc_scale: UCScale = field(default_factory=UCScale)
    seed: int = 20240101
    language: str = "fr"
    delai_anormal_mois: int | tuple[tuple[str, int], ...] | None = None

    def __post_init__(self) -> None:
        # a mapping is stored as sorted pairs: the configuration stays hashable
        object.__setattr__(
            self, "delai_anormal_mois", delai_anormal_parameter(self.delai_anormal_mois)
        )
        for name, kind in _PARAMETER_TYPES.items():
            value = getattr(self, name)
            if value is not None and not _is_kind(value, kind):
                raise UsageError(
                    f"Paramètre « {name} » : {_KIND_FR[kind]} attendu (reçu « {value} »)."
                )
        if not 0 < self.alpha < 1:
            raise UsageError(f"alpha doit être compris entre 0 et 1 (reçu {self.alpha}).")
        if int(self.secret_threshold) < 1:
            raise UsageError(
                f"Le seuil de secret statistique doit être ≥ 1 (reçu {self.secret_threshold})."
            )
        for name in ("target_q1_hors_qpv", "target_non_q1_en_qpv", "target_prioritaires"):
            v = getattr(self, name)
            if not 0 < v < 1:
                raise UsageError(f"{name} doit être compris entre 0 et 1 (reçu {v}).")
        if self.language != "fr":
            raise UsageError(
                f"Langue non prise en charge : {self.language!r} (valeur permise : 'fr')."
            )

    def with_(self, **changes: Any) -> AnalysisConfig:
        """A copy with some parameters changed."""
        return replace(self, **changes)

    @property
    def delai_anormal(self) -> int | dict[str, int]:
        """The threshold of « délai anormalement long » in months (default filled in).

        One number, or a mapping typology → months.
        """
        value = self.delai_anormal_mois
        if value is None:
            return DEFAULT_DELAI_ANORMAL_MOIS
        return dict(value) if isinstance(value, tuple) else int(value)

    @property
    def delai_anormal_default(self) -> bool:
        """True when no threshold was given (the default of 36 months applies)."""
        return self.delai_anormal_mois is None


DEFAULT_DELAI_ANORMAL_MOIS = 36
"""Default threshold of « délai anormalement long » (months) when the run gives none."""


def delai_anormal_parameter(
    value: Any, *, file: str | Path | None = None
) -> int | tuple[tuple[str, int], ...] | None:
    """Check the parameter ``delai_anormal_mois`` and put it in canonical form.

    Parameters
    ----------
    value : None, number, str or mapping
        ``None`` (default threshold), a whole number of months ≥ 1 (``36``,
        ``"36"``, ``36.0``), or a mapping from every requested typology
        (``T1``, ``T2``, ``T3``, ``T4``, ``T5+``) to a whole number of months,
        as the département's arrêté fixes them; a sequence of
        ``(typology, months)`` pairs is read as such a mapping.
    file : str or Path, optional
        The configuration file, named in the message.

    Returns
    -------
    int, tuple of (str, int) pairs, or None
        The number, or the pairs sorted by typology.

    Raises
    ------
    InputError
        Not a whole number ≥ 1, an unknown typology, or a mapping that does not
        cover every typology (the message names the parameter, the file and the
        values).

    References
    ----------
    .. [1] Code de la construction et de l'habitation, art. L441-1-4 et
       R441-14-1 (délai anormalement long fixé par arrêté préfectoral).
    """
    from allocation_analysis.io.schemas import TYPOLOGIES

    where = f" dans {file}" if file else ""
    key = "delai_anormal_mois"

    def months(v: Any, what: str) -> int:
        try:
            m = _convert(v, int)
        except ValueError:
            m = None
        if m is None or not _is_kind(m, int) or int(m) < 1:
            raise InputError(
                f"Valeur invalide pour « {key} »{where}{what} : un nombre entier de mois ≥ 1 "
                f"attendu, reçu « {v} ».",
                rule="delai_anormal_mois",
            )
        return int(m)

    if value is None:
        return None
    if isinstance(value, dict) or (
        isinstance(value, tuple | list) and all(isinstance(p, tuple | list) for p in value)
    ):
        pairs = list(value.items()) if isinstance(value, dict) else [tuple(p) for p in value]
        out: dict[str, int] = {}
        for pair in pairs:
            if len(pair) != 2:
                raise InputError(
                    f"Valeur invalide pour « {key} »{where} : paires typologie → mois attendues, "
                    f"reçu « {pair} ».",
                    rule="delai_anormal_mois",
                )
            typ, v = pair
            t = str(typ).strip().upper()
            if t not in TYPOLOGIES:
                raise InputError(
                    f"Typologie inconnue « {typ} » pour « {key} »{where} : typologies permises "
                    f"{', '.join(TYPOLOGIES)}.",
                    rule="delai_anormal_mois",
                )
            out[t] = months(v, f" (typologie {t})")
        missing = [t for t in TYPOLOGIES if t not in out]
        if missing:
            raise InputError(
                f"« {key} »{where} ne donne pas de délai pour la ou les typologie(s) "
                f"{', '.join(missing)} : donnez un délai pour chaque typologie "
                f"({', '.join(TYPOLOGIES)}) ou un seul nombre de mois.",
                rule="delai_anormal_mois",
            )
        return tuple((t, out[t]) for t in TYPOLOGIES)
    return months(value, "")


_PARAMETER_TYPES: dict[str, type] = {
    "alpha": float,
    "secret_threshold": int,
    "seed": int,
    "target_q1_hors_qpv": float,
    "target_non_q1_en_qpv": float,
    "target_prioritaires": float,
}
_KIND_FR = {float: "un nombre (par exemple 0.05)", int: "un nombre entier"}
_TEXT_KEYS = ("period", "territory", "siren_epci")


def _is_kind(value: Any, kind: type) -> bool:
    """A number of ``kind`` (a whole float such as ``11.0`` counts as an integer)."""
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral) or (
            isinstance(value, numbers.Real) and float(value).is_integer()
        )
    return isinstance(value, numbers.Real)


def _convert(value: Any, kind: type) -> Any:
    """``value`` as ``kind``; text holding a number is accepted (``"0.05"``, ``"11"``)."""
    if _is_kind(value, kind):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text) if kind is int else float(text.replace(",", "."))
        except ValueError:
            pass
    raise ValueError(value)


def typed_parameters(options: dict[str, Any], *, file: str | Path | None = None) -> dict[str, Any]:
    """Check and convert the analysis parameters of a run configuration.

    ``alpha`` and the targets must be numbers, ``secret_threshold`` and ``seed``
    whole numbers, ``period``, ``territory`` and ``siren_epci`` text or numbers
    (a SIREN written without quotes in YAML is a number).

    Parameters
    ----------
    options : dict
        Merged options (configuration file and flags).
    file : str or Path, optional
        The configuration file, named in the message.

    Returns
    -------
    dict
        A copy with numbers converted (``"11"`` → 11) and text values as ``str``.

    Raises
    ------
    InputError
        A value of the wrong type, naming the key, the expected type and the value.
    """
    out = dict(options)
    where = f" dans {file}" if file else ""
    if out.get("delai_anormal_mois") is not None:
        value = delai_anormal_parameter(out["delai_anormal_mois"], file=file)
        out["delai_anormal_mois"] = dict(value) if isinstance(value, tuple) else value
    for key, kind in _PARAMETER_TYPES.items():
        if out.get(key) is None:
            continue
        try:
            out[key] = _convert(out[key], kind)
        except ValueError:
            raise InputError(
                f"Valeur invalide pour « {key} »{where} : {_KIND_FR[kind]} attendu, "
                f"reçu « {out[key]} ».",
                rule="type_parametre",
            ) from None
    for key in _TEXT_KEYS:
        value = out.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InputError(
                f"Valeur invalide pour « {key} »{where} : un texte attendu, reçu « {value} ».",
                rule="type_parametre",
            )
        out[key] = str(value)
    for key in (*_PATH_KEYS, "output"):
        value = out.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | Path)):
            raise InputError(
                f"Valeur invalide pour « {key} »{where} : un chemin de fichier attendu, "
                f"reçu « {value} ».",
                rule="type_parametre",
            )
    return out


@dataclass(frozen=True)
class RunParameter:
    """One parameter of a run.

    Attributes
    ----------
    name : str
        Key of the configuration file (``--name-with-hyphens`` on the command line).
    help_fr : str
        Help of the command-line flag (French).
    session : str or None
        Name of the argument of :func:`allocation_analysis.session.open_session`
        and of the notebooks' parameter cell; ``None`` when the notebooks do not
        take it.
    flag : bool
        A flag of ``allocation-analysis run``.
    path : bool
        An input file (relative paths are resolved against the configuration file).
    """

    name: str
    help_fr: str
    session: str | None
    flag: bool = True
    path: bool = False


def _input(name: str) -> RunParameter:
    return RunParameter(name, f"fichier « {name} »", name, path=True)


RUN_PARAMETERS: tuple[RunParameter, ...] = (
    *(
        _input(n)
        for n in (
            "demandes",
            "attributions",
            "logements",
            "seuils",
            "communes",
            "qpv",
            "column_map",
            "propositions",
            "bailleurs",
        )
    ),
    RunParameter(
        "period",
        "semestre AAAA-S1|AAAA-S2, ou « auto » (dernier semestre complet couvert par les données)",
        "period",
    ),
    RunParameter("territory", "nom du territoire (dossier de sortie, rapport)", "territory"),
    RunParameter("siren_epci", "SIREN de l'EPCI (seuils du 1er quartile)", "siren_epci"),
    RunParameter("output", "dossier de sortie", "output_dir"),
    RunParameter("alpha", "seuil de significativité (0.05 par défaut)", "alpha"),
    RunParameter(
        "secret_threshold",
        "secret statistique : effectif minimal publié (11 par défaut)",
        "secret_threshold",
    ),
    RunParameter("seed", "graine des étapes aléatoires", "seed"),
    RunParameter(
        "target_non_q1_en_qpv",
        "objectif d'attributions hors 1er quartile en QPV (0.5 par défaut)",
        "target_non_q1_en_qpv",
    ),
    RunParameter(
        "delai_anormal_mois",
        "délai anormalement long, en mois (un par typologie : fichier de configuration)",
        "delai_anormal_mois",
    ),
    RunParameter("scale", "taille du territoire fictif (démonstration)", None, flag=False),
)
"""The parameters of a run, in one place.

The keys of a configuration file (:data:`RUN_KEYS`, also the keys of a batch
entry), the flags of ``allocation-analysis run``, the arguments of
:func:`allocation_analysis.session.open_session` and the parameter cell of each
report notebook derive from this list (a test checks that they agree). The
session and the notebooks also take :data:`SESSION_ONLY_PARAMETERS`.
"""

SESSION_ONLY_PARAMETERS: tuple[str, ...] = ("language", "work_dir")
"""Arguments of ``open_session`` that are not run parameters: the language of
the texts, and the folder of the data prepared by the pipeline."""

_PATH_KEYS = tuple(p.name for p in RUN_PARAMETERS if p.path)

RUN_KEYS = tuple(p.name for p in RUN_PARAMETERS)
"""Keys allowed in a run configuration file (see :data:`RUN_PARAMETERS`)."""


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a run configuration (YAML) and check its keys.

    Relative input paths are resolved against the configuration file's folder.

    Raises
    ------
    UsageError
        When the file cannot be read, is not a mapping, or holds an unknown key.
    InputError
        A value of the wrong type (:func:`typed_parameters`).
    """
    import yaml

    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"Fichier de configuration introuvable : {p}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"Fichier de configuration illisible : {p} ({exc})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UsageError(f"Le fichier de configuration {p} doit contenir des paires clé: valeur.")
    unknown = sorted(set(raw) - set(RUN_KEYS))
    if unknown:
        raise UsageError(
            f"Clé(s) inconnue(s) dans {p} : {', '.join(map(str, unknown))}. "
            f"Clés permises : {', '.join(RUN_KEYS)}."
        )
    base = p.resolve().parent
    out = typed_parameters(raw, file=p)
    for key in (*_PATH_KEYS, "output"):
        if out.get(key) not in (None, ""):
            q = Path(str(out[key])).expanduser()
            out[key] = str(q if q.is_absolute() else base / q)
    return out
