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

import logging
from pathlib import Path
from typing import Any

from allocation_analysis.config import InputPaths, Period
from allocation_analysis.io.load import load_inputs
from allocation_analysis.outputs import write_csv

__all__ = ["validate_command"]

logger = logging.getLogger(__name__)

_SHOWN_REASONS = 5


def validate_command(options: dict[str, Any], *, rejects_dir: str | Path | None = None) -> int:
    """Load and validate every input given in ``options``; print a French report.

    Parameters
    ----------
    options : dict
        Keys ``demandes, attributions, logements, seuils, communes, qpv,
        column_map, period, territory, siren_epci, extract_date`` (missing or
        ``None`` = not given; ``extract_date`` defaults to today), as built by
        the CLI from flags and ``--config``.
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
    if period in (None, ""):
        period_obj = None
    elif str(period).strip().lower() == "auto":
        period_obj = Period.last_complete()
    else:
        period_obj = Period.parse(str(period))
    siren = options.get("siren_epci")
    extract = options.get("extract_date")
    inputs = load_inputs(
        paths,
        siren_epci=str(siren) if siren not in (None, "") else None,
        period=period_obj,
        extract_date=extract if extract not in (None, "") else None,
    )
    report = inputs.report
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
    if rejects_dir is not None:
        out = Path(rejects_dir)
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
