"""``allocation-analysis validate``: check the input files and report row accounting.

Exit status (returned, the CLI turns it into the process exit code):

- 0 — the files are usable: every file-level check passed. Rejected rows do
  not make the input invalid (they are counted, listed, and can be written to
  ``--rejects``); the analysis simply runs without them.
- 1 — invalid input: a file-level check failed (raised as
  :class:`~allocation_analysis.errors.InputError`, printed by the CLI), or a
  table has rows but none of them was accepted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from allocation_analysis.config import InputPaths, Period
from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.io.load import Inputs, load_inputs, load_table
from allocation_analysis.outputs import write_csv

__all__ = [
    "COVERAGE_TOLERANCE_DAYS",
    "DataCoverage",
    "check_output_folder",
    "data_period",
    "lease_coverage",
    "load_checked",
    "period_from_coverage",
    "validate_command",
]

logger = logging.getLogger(__name__)

_SHOWN_REASONS = 5

COVERAGE_TOLERANCE_DAYS = 31
"""A semester counts as covered when it ends at most this many days after the
last lease of the data, i.e. when the leases reach its last month: leases are
not signed every day (weekends, bank holidays, a small territory), so the last
lease of a complete extract is often days or weeks before the semester's end."""


# ----------------------------------------------------------------------- period
@dataclass(frozen=True)
class DataCoverage:
    """First and last lease dates of the accepted allocations (the data's span)."""

    first: dt.date
    last: dt.date
    file: str | None = None

    @property
    def text_fr(self) -> str:
        """``"baux signés du 11/01/2022 au 29/12/2025"``."""
        return f"baux signés du {self.first:%d/%m/%Y} au {self.last:%d/%m/%Y}"


def lease_coverage(attributions: pd.DataFrame, *, file: str | None = None) -> DataCoverage | None:
    """Span of the lease dates of loaded allocations (``None`` when there is none)."""
    dates = pd.to_datetime(attributions["date_bail"], errors="coerce").dropna()
    if dates.empty:
        return None
    return DataCoverage(dates.min().date(), dates.max().date(), file)


def _requested_period(value: str | Period | None) -> str | Period:
    """``"auto"`` (also for an empty value) or a parsed :class:`Period` (usage error)."""
    if isinstance(value, Period):
        return value
    if value is None or str(value).strip().lower() in ("", "auto"):
        return "auto"
    return Period.parse(str(value))


def period_from_coverage(requested: str | Period | None, coverage: DataCoverage | None) -> Period:
    """The analysed semester: ``auto`` resolved on the data, an explicit one checked against it.

    ``auto`` is the last complete semester covered by the data: the last one
    that ends at most :data:`COVERAGE_TOLERANCE_DAYS` days after the last lease.
    An explicit semester must overlap the span of the lease dates.

    Parameters
    ----------
    requested : str or Period
        ``"auto"`` (or empty) or a semester.
    coverage : DataCoverage or None
        Span of the lease dates (``None``: no accepted lease).

    Returns
    -------
    Period

    Raises
    ------
    UsageError
        A malformed period.
    InputError
        No accepted lease, no complete semester in the data, or an explicit
        semester outside the data (the message gives the first and last dates).
    """
    wanted = _requested_period(requested)
    file = coverage.file if coverage is not None else None
    if coverage is None:
        raise InputError(
            "Aucun bail accepté dans le fichier des attributions : impossible de situer "
            f"la période « {wanted} » dans les données.",
            column="date_bail",
            rule="periode_hors_donnees",
        )
    if wanted == "auto":
        limit = coverage.last + dt.timedelta(days=COVERAGE_TOLERANCE_DAYS)
        period = Period.containing(limit)
        if period.end > limit:
            period = period.previous()
        if period.end < coverage.first:
            raise InputError(
                f"Aucun semestre complet n'est couvert par les données ({coverage.text_fr}) : "
                "précisez la période avec --period AAAA-S1 ou AAAA-S2.",
                file=file,
                column="date_bail",
                rule="periode_hors_donnees",
            )
        logger.info(
            "Période « auto » : %s, dernier semestre complet couvert par les données (%s).",
            period.label,
            coverage.text_fr,
        )
        return period
    assert isinstance(wanted, Period)
    if wanted.end < coverage.first or wanted.start > coverage.last:
        raise InputError(
            f"La période {wanted.label} (du {wanted.start:%d/%m/%Y} au {wanted.end:%d/%m/%Y}) "
            f"est en dehors des données : {coverage.text_fr}. Choisissez un semestre "
            "couvert par les données, ou « auto » (dernier semestre complet couvert).",
            file=file,
            column="date_bail",
            rule="periode_hors_donnees",
        )
    if wanted.end > coverage.last + dt.timedelta(days=COVERAGE_TOLERANCE_DAYS):
        logger.warning(
            "La période %s n'est pas entièrement couverte par les données (%s).",
            wanted.label,
            coverage.text_fr,
        )
    return wanted


def data_period(
    paths: InputPaths,
    requested: str | Period | None,
    *,
    extract_date: dt.date | str | None = None,
) -> Period:
    """Resolve or check the period on the allocations file (read before the full load).

    ``run`` must know its semester before it takes the output lock, and both
    commands name a period outside the data before any threshold problem of that
    period: only the allocations are read here, with the same column map and
    extract date as the full load.

    Raises
    ------
    UsageError
        A malformed period, or no allocations file.
    InputError
        As :func:`period_from_coverage`, or a file-level problem of the allocations.
    """
    wanted = _requested_period(requested)
    if paths.attributions is None:
        raise UsageError("Le fichier « attributions » est obligatoire (--attributions).")
    att = load_table(
        paths.attributions, "attributions", column_map=paths.column_map, extract_date=extract_date
    )
    return period_from_coverage(wanted, lease_coverage(att.data, file=att.file))


def load_checked(
    paths: InputPaths,
    period: Period | None,
    *,
    siren_epci: str | None = None,
    extract_date: dt.date | str | None = None,
) -> Inputs:
    """Load every input for one semester: the one code path of ``validate`` and ``run``.

    Parameters
    ----------
    paths : InputPaths
        Input files.
    period : Period or None
        Analysed semester (thresholds are required for the years of its rolling
        12 months only, and it must overlap the lease dates); ``None`` (``validate``
        without ``--period``): thresholds for every lease year.
    siren_epci : str, optional
        EPCI whose thresholds apply (needed when the file holds several).
    extract_date : date or str, optional
        Date of the extract (default today).

    Returns
    -------
    Inputs
    """
    siren = str(siren_epci).strip() if siren_epci not in (None, "") else None
    try:
        inputs = load_inputs(
            paths,
            column_map=paths.column_map,
            siren_epci=siren,
            period=period,
            extract_date=extract_date if extract_date not in (None, "") else None,
        )
    except InputError as exc:
        if period is not None and exc.rule == "seuil_manquant" and exc.column == "annee":
            data_period(paths, period, extract_date=extract_date)  # a period outside the data
        raise
    if period is not None:
        period_from_coverage(
            period, lease_coverage(inputs.attributions, file=str(paths.attributions))
        )
    return inputs


def check_output_folder(path: str | Path | None, what: str) -> Path | None:
    """A folder given on the command line that is an existing file is an input error.

    Raises
    ------
    InputError
        ``path`` exists and is not a folder, or one of its parents is a file.
    """
    if path in (None, ""):
        return None
    p = Path(path).expanduser()
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise InputError(
                    f"{what} « {p} » : « {q} » est un fichier, pas un dossier. "
                    "Indiquez un dossier (existant ou à créer).",
                    rule="dossier_attendu",
                )
            break
    return p


def validate_command(options: dict[str, Any], *, rejects_dir: str | Path | None = None) -> int:
    """Load and validate every input given in ``options``; print a French report.

    Parameters
    ----------
    options : dict
        Keys ``demandes, attributions, logements, seuils, communes, qpv,
        column_map, propositions, period, territory, siren_epci, extract_date`` (missing or
        ``None`` = not given; ``extract_date`` defaults to today), as built by
        the CLI from flags and ``--config``. A period (``auto`` or ``AAAA-Sn``)
        is resolved and checked exactly as ``run`` does (:func:`data_period`,
        :func:`load_checked`); without one, thresholds are required for every
        lease year.
    rejects_dir : str or Path, optional
        Folder where ``<table>.csv`` rejects files are written (UTF-8, ``,``;
        row numbers, never a personal value; text cells escaped against
        formula injection by :func:`~allocation_analysis.outputs.write_csv`).

    Returns
    -------
    int
        0 when the input is usable, 1 when it is not.

    Raises
    ------
    InputError
        File-level problem (the CLI prints it and exits with 1).
    UsageError
        Missing required file or ambiguous EPCI (exit 2).
    """
    paths = InputPaths.from_mapping(options)
    period = options.get("period")
    requested = None if period in (None, "") else _requested_period(period)
    rejects = check_output_folder(rejects_dir, "Dossier des rejets (--rejects)")
    extract = options.get("extract_date")
    extract = extract if extract not in (None, "") else None
    period_obj = None
    if requested is not None:
        period_obj = data_period(paths, requested, extract_date=extract)
    inputs = load_checked(
        paths, period_obj, siren_epci=options.get("siren_epci"), extract_date=extract
    )
    report = inputs.report
    if period_obj is not None:
        label = " (« auto » : dernier semestre complet couvert)" if requested == "auto" else ""
        print(f"Période : {period_obj.label}{label}")
    print(report.summary())
    if inputs.communes is not None:
        print(f"- communes : {len(inputs.communes)} contours")
    if inputs.qpv is not None:
        print(f"- QPV : {len(inputs.qpv)} périmètres")
    for table, rej in inputs.rejects.items():
        if rej.empty:
            continue
        print(f"Premiers motifs de rejet ({table}) :")
        for row in rej.head(_SHOWN_REASONS).itertuples(index=False):
            value = f" = « {row.value} »" if row.value else ""
            print(f"  ligne {row.source_row} : {row.column}{value} — {row.message}")
    if rejects is not None:
        out = rejects
        out.mkdir(parents=True, exist_ok=True)
        for table, rej in inputs.rejects.items():
            write_csv(rej, out / f"{table}.csv")  # formula-escaped like every published table
        print(f"Lignes rejetées écrites dans {out}")
    empty = [t.table for t in report.tables.values() if t.read > 0 and t.accepted == 0]
    if empty:
        print("Données inutilisables : aucune ligne acceptée dans " + ", ".join(empty) + ".")
        return 1
    print("Fichiers d'entrée utilisables.")
    return 0
