"""Load, validate and pseudonymise the input tables.

The pipeline of one table (:func:`load_table`):

1. read every cell as text (:func:`~allocation_analysis.io.readers.read_table`);
2. rename columns and map values (:mod:`~allocation_analysis.io.colmap`);
3. file-level checks — missing required column, a single column read (wrong
   separator), no data row, too many unknown enumeration values — raise
   :class:`~allocation_analysis.errors.InputError`;
4. parse each column to its type (:mod:`~allocation_analysis.io.parsing`);
   unparsable cells are row rejects;
5. validate the parsed frame with the table's pandera schema
   (:func:`~allocation_analysis.io.schemas.pandera_schema`); failures are row
   rejects;
6. reject later duplicates of the table's key (rule ``doublon``);
7. replace ``num_unique`` by its pseudonym ``demande_id``.

Every row read is either accepted or rejected (``n_read == n_accepted +
n_rejected``). The rejects table has one row per reason, with columns
``table, source_row, column, value, rule, message``; identifiers and
coordinates are masked.

Decisions where the data contract is silent
-------------------------------------------
- **Duplicates** (same ``num_unique`` in ``demandes`` or ``attributions``, same
  ``rpls_id`` in ``logements``, same ``annee``/``siren_epci`` in ``seuils_q1``):
  the first row in file order is the reference; every later row with the same
  key is rejected with rule ``doublon`` (and the row number of the first one),
  even when the first is itself rejected for another reason — an ambiguous
  record is never silently resolved by picking the "good-looking" copy.
- **Unknown enumeration values**: up to ``unknown_share`` of the rows (5 % by
  default) they are row rejects (rule ``valeur_inconnue``); above, the file is
  refused, because the export then most likely uses another code list and a
  column map is needed.
- **Referential breaks** (:func:`load_inputs`): an allocation whose
  ``num_unique`` does not appear in the demand file, or whose ``rpls_id`` does
  not appear in the dwelling file, refuses the allocation file. An allocation
  whose demand (or dwelling) *is* in its file but was rejected there is a row
  reject (rule ``demande_rejetee`` / ``logement_rejete``).
- **A lease signed before the demand's filing date** is a row reject of the
  allocation (rule ``bail_avant_depot``).
- **Optional columns absent from the file** are added, all missing, with the
  data model's dtype, so later stages can rely on every canonical column.
- ``source_row`` is kept as a column of the accepted tables, so a row can
  always be traced back to the file.
- **Propositions** (optional ``propositions`` file): loaded with the same key
  and the same pseudonyms as the demands, so ``demande_id`` joins across the
  three tables. The referential checks are those of the allocations: a
  ``num_unique`` absent from the demand file (or an ``rpls_id`` absent from
  the dwelling file) refuses the file; a candidate whose demand (or dwelling)
  was rejected there is a row reject (``demande_rejetee`` /
  ``logement_rejete``), as is a commission held before the demand was filed
  (``cal_avant_depot``).
- **Cotation** (optional columns of ``demandes``): ``score_cotation`` and any
  ``cotation_<critere>`` column are kept (points ≥ 0). Criterion columns
  without a ``score_cotation`` column refuse the file. A row that fills only
  some of the cotation cells (``cotation_incomplete``) or whose criteria do
  not add up to the score within 0.01 point (``cotation_somme``, both values
  in the message) is a row reject; a row with every cotation cell empty is a
  demand not scored, accepted.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.io import _arrow, parsing
from allocation_analysis.io.colmap import (
    ColumnMap,
    apply_table_map,
    load_column_map,
    normalise_header,
)
from allocation_analysis.io.readers import TEXT_DTYPE, MultilineRecord, read_table
from allocation_analysis.io.schemas import (
    ALIASES,
    COTATION_SCORE,
    COTATION_TOLERANCE,
    FRAME_RULE_COLUMN,
    IDENTIFIER_COLUMNS,
    RULE_MESSAGES,
    TABLES,
    ColumnSpec,
    TableSpec,
    cotation_columns,
    empty_column,
    fmt_number,
    is_personal,
    pandera_schema,
)
from allocation_analysis.text import fmt_pct

__all__ = [
    "MASK",
    "REJECT_COLUMNS",
    "Inputs",
    "LoadResult",
    "TableCounts",
    "ValidationReport",
    "load_inputs",
    "load_table",
]

logger = logging.getLogger(__name__)

MASK = "(masqué)"
REJECT_COLUMNS = ["table", "source_row", "column", "value", "rule", "message"]
_EXAMPLES = 5

_PARSE_RULES = {
    "date": ("type_date", "date invalide (attendu AAAA-MM-JJ ou JJ/MM/AAAA)"),
    "float": ("type_nombre", "nombre invalide"),
    "int": ("type_entier", "nombre entier invalide"),
    "bool": ("type_booleen", "booléen invalide (attendu oui/non, vrai/faux, 1/0, true/false)"),
    "insee": (
        "code_insee",
        "code commune INSEE invalide : 5 caractères attendus (ex. 59350, 2A004) ; "
        "un code comme 59009.0 vient d'une conversion en nombre, exportez la colonne en texte",
    ),
    "insee_list": (
        "code_insee",
        "liste de codes INSEE invalide (codes à 5 caractères séparés par « | »)",
    ),
    "siren": ("siren", "numéro SIREN invalide (9 chiffres attendus)"),
    "qpv": ("code_qpv", "code QPV invalide (attendu QP… ou QN…, plusieurs séparés par « | »)"),
    "enum": ("valeur_inconnue", "valeur inconnue"),
}


# --------------------------------------------------------------------------- results


@dataclass
class LoadResult:
    """A loaded table, its rejects and its row accounting.

    Attributes
    ----------
    table : str
        Canonical table name.
    data : DataFrame
        Accepted rows, canonical columns with the data model's dtypes, plus
        ``source_row``.
    rejects : DataFrame
        One row per reason (columns :data:`REJECT_COLUMNS`).
    n_read : int
        Data rows read from the file.
    file : str or None
        The file read.
    keys : Series
        Key of every row read (pseudonymised ``demande_id`` for ``demandes``
        and ``attributions``, ``rpls_id`` for ``logements``), indexed by
        ``source_row``; used by the referential checks.
    alt_keys : DataFrame
        Keys a row may really have had (columns ``source_row, column, key,
        origin``; pseudonymised for ``num_unique``): for a row rejected before
        its fields could be told apart (``origin == "illisible"``: ragged
        record, unclosed quote), the identifier field read from the line; for
        an identifier stored as a number in XLSX/Parquet (``"numerique"``),
        the same digits with the leading zeros the number may have lost. Used
        by the referential checks to blame the right file.
    numeric_columns : frozenset of str
        Identifier columns stored as numbers in the whole file (XLSX/Parquet).
    """

    table: str
    data: pd.DataFrame
    rejects: pd.DataFrame
    n_read: int
    file: str | None = None
    keys: pd.Series | None = field(default=None, repr=False)
    alt_keys: pd.DataFrame | None = field(default=None, repr=False)
    numeric_columns: frozenset[str] = frozenset()

    @property
    def rejected_rows(self) -> np.ndarray:
        """Sorted source rows of the rejected rows."""
        return np.unique(self.rejects["source_row"].to_numpy(dtype=np.int64))

    @property
    def n_rejected(self) -> int:
        """Number of rows rejected (a row with several reasons counts once)."""
        return int(self.rejects["source_row"].nunique())

    @property
    def n_accepted(self) -> int:
        """Number of rows accepted."""
        return len(self.data)

    def reject_rows(self, mask: pd.Series, *, column: str, rule: str, message: str) -> None:
        """Move accepted rows (``mask`` aligned on ``data``) to the rejects, in place."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        rows = self.data.loc[mask]
        new = pd.DataFrame(
            {
                "table": self.table,
                "source_row": rows["source_row"].to_numpy(dtype=np.int64),
                "column": column,
                "value": _display(rows[column], column)
                if column in rows
                else (MASK if is_personal(column) else ""),
                "rule": rule,
                "message": message,
            }
        )
        self.rejects = _concat_rejects([self.rejects, new])
        self.data = self.data.loc[~mask].reset_index(drop=True)


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series(dtype="string"),
            "source_row": pd.Series(dtype="int64"),
            "column": pd.Series(dtype="string"),
            "value": pd.Series(dtype="string"),
            "rule": pd.Series(dtype="string"),
            "message": pd.Series(dtype="string"),
        }
    )


def _concat_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty_rejects()
    out = pd.concat(parts, ignore_index=True)
    out = out.astype({c: "string" for c in REJECT_COLUMNS if c != "source_row"})
    out["source_row"] = out["source_row"].astype("int64")
    return out.sort_values(["source_row"], kind="stable").reset_index(drop=True)


def _display(values: pd.Series, column: str) -> pd.Series | str:
    if is_personal(column):
        return MASK
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    return values.astype("string").fillna("").to_numpy()


@dataclass(frozen=True)
class TableCounts:
    """Row accounting of one table."""

    table: str
    file: str | None
    read: int
    accepted: int
    rejected: int
    rules: dict[str, int] = field(default_factory=dict)


@dataclass
class ValidationReport:
    """Per-table row accounting of a load, with a French summary.

    Attributes
    ----------
    tables : dict of str to TableCounts
        ``read == accepted + rejected`` for each table.
    notes : list of str
        Remarks for the user (in French), e.g. a missing optional file.
    """

    tables: dict[str, TableCounts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_results(cls, results: Mapping[str, LoadResult]) -> ValidationReport:
        tables = {}
        for name, r in results.items():
            first_rule = r.rejects.drop_duplicates("source_row")["rule"].value_counts()
            tables[name] = TableCounts(
                table=name,
                file=r.file,
                read=r.n_read,
                accepted=r.n_accepted,
                rejected=r.n_rejected,
                rules={str(k): int(v) for k, v in first_rule.items()},
            )
        return cls(tables=tables)

    @property
    def consistent(self) -> bool:
        """Every table satisfies ``read == accepted + rejected``."""
        return all(t.read == t.accepted + t.rejected for t in self.tables.values())

    def to_frame(self) -> pd.DataFrame:
        """One row per table: ``table, file, read, accepted, rejected``."""
        return pd.DataFrame(
            [
                {
                    "table": t.table,
                    "file": t.file,
                    "read": t.read,
                    "accepted": t.accepted,
                    "rejected": t.rejected,
                }
                for t in self.tables.values()
            ],
            columns=["table", "file", "read", "accepted", "rejected"],
        )

    def summary(self) -> str:
        """French text: counts per table and the main reasons of rejection."""
        lines = ["Contrôle des fichiers d'entrée"]
        for t in self.tables.values():
            lines.append(
                f"- {t.table} ({t.file}) : {t.read} lignes lues, {t.accepted} acceptées, "
                f"{t.rejected} rejetées"
            )
            if t.rules:
                top = ", ".join(f"{rule} ({n})" for rule, n in list(t.rules.items())[:5])
                lines.append(f"  principaux motifs de rejet : {top}")
        lines.extend(f"Remarque : {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass
class Inputs:
    """Everything one analysis reads, validated (``docs/data-model.md``)."""

    demandes: pd.DataFrame
    attributions: pd.DataFrame
    logements: pd.DataFrame | None
    seuils: pd.DataFrame | None
    communes: Any = None
    qpv: Any = None
    report: ValidationReport = field(default_factory=ValidationReport)
    rejects: dict[str, pd.DataFrame] = field(default_factory=dict)
    siren_epci: str | None = None
    propositions: pd.DataFrame | None = None
    bailleurs: pd.DataFrame | None = None

    def landlord_names(self) -> dict[str, str]:
        """Landlord names by SIREN (empty without a ``bailleurs`` file).

        A landlord's name is public information about a legal person, not
        personal data: it is shown next to the SIREN in the published tables.
        """
        if self.bailleurs is None or not len(self.bailleurs):
            return {}
        return dict(
            zip(
                self.bailleurs["bailleur_siren"].astype(str),
                self.bailleurs["nom"].astype(str),
                strict=True,
            )
        )


# ----------------------------------------------------------------------- one table


def _spec(table: str) -> TableSpec:
    try:
        return TABLES[table]
    except KeyError:
        raise UsageError(
            f"Table inconnue : « {table} » (tables permises : demandes, attributions, "
            "logements, seuils_q1, propositions, bailleurs)."
        ) from None


def _parse_column(spec: ColumnSpec, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    kind = spec.kind
    if kind in ("text",):
        return parsing.parse_text(raw)
    if kind == "float":  # coordinates, rents: millions of distinct values, one Arrow cast
        plain = parsing.parse_float_plain(raw)
        if plain is not None:
            return plain
    return parsing.by_unique(_parse_kind, raw, spec)


def _parse_kind(raw: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    kind = spec.kind
    if kind == "date":
        return parsing.parse_date(raw)
    if kind == "float":
        return parsing.parse_float(raw)
    if kind == "int":
        return parsing.parse_int(raw)
    if kind == "bool":
        return parsing.parse_bool(raw)
    if kind == "insee":
        return parsing.parse_code(raw, parsing.INSEE_PATTERN)
    if kind == "insee_list":
        return parsing.parse_code(raw, parsing.INSEE_PATTERN, multiple=True)
    if kind == "siren":
        return parsing.parse_code(raw.str.replace(" ", "", regex=False), parsing.SIREN_PATTERN)
    if kind == "qpv":
        return parsing.parse_code(raw, parsing.QPV_PATTERN, multiple=True)
    if kind == "enum":
        return parsing.parse_enum(raw, spec.values, aliases=ALIASES.get(spec.name))
    return parsing.parse_text(raw)


def _reasons(
    table: str, rows: np.ndarray, column: str, values: Any, rule: str, message: str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": table,
            "source_row": np.asarray(rows, dtype=np.int64),
            "column": column,
            "value": values,
            "rule": rule,
            "message": message,
        }
    )


def _raw_values(raw: pd.DataFrame, column: str, rows: np.ndarray) -> Any:
    if is_personal(column):
        return MASK
    if column not in raw.columns:
        return ""
    return raw.loc[rows, column].astype("string").fillna("").to_numpy()


def _unclosed_quote_message(r: MultilineRecord) -> str:
    if r.whole:
        return (
            f"enregistrement sur plusieurs lignes (lignes {r.source_row} à {r.last_row}) : "
            "un champ entre guillemets contient un saut de ligne ; chaque ligne doit être "
            "un enregistrement"
        )
    swallowed = (
        f"la lecture aurait fusionné les lignes {r.source_row} à {r.last_row} en une seule"
        if r.last_row > r.source_row
        else "le champ se poursuivrait sur les lignes suivantes"
    )
    return (
        f"guillemet ouvert ligne {r.source_row} et non fermé sur la ligne ({swallowed}) : "
        "la ligne est rejetée, les lignes suivantes sont lues une à une"
    )


def _rule_message(rule: str, spec: TableSpec, column: str) -> str:
    if rule in ("minimum", "maximum"):
        c = spec.column(column)
        bound = c.min if rule == "minimum" else c.max
        return f"{column} : " + RULE_MESSAGES[rule].format(
            min=fmt_number(bound or 0), max=fmt_number(bound or 0)
        )
    if rule == "obligatoire":
        return f"{column} : {RULE_MESSAGES[rule]}"
    return RULE_MESSAGES.get(rule, rule)


def load_table(
    path: str | Path,
    table: str,
    *,
    column_map: str | Path | Mapping[str, Any] | ColumnMap | None = None,
    key: bytes | None = None,
    unknown_share: float = 0.05,
    sheet: str | int | None = None,
    encoding: str | None = None,
    sep: str | None = None,
    extract_date: dt.date | str | None = None,
    _pseudonyms: dict[str, Any] | None = None,
) -> LoadResult:
    """Read, validate and pseudonymise one input table.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or XLSX file.
    table : str
        ``"demandes"``, ``"attributions"``, ``"logements"``, ``"seuils_q1"``
        (``"seuils"`` is accepted too), ``"propositions"`` or ``"bailleurs"``.
    column_map : path, mapping or ColumnMap, optional
        Column and value maps (:mod:`~allocation_analysis.io.colmap`).
    key : bytes, optional
        Pseudonymisation key; default
        :func:`~allocation_analysis.privacy.load_or_create_key`. Only used
        for tables holding ``num_unique``.
    unknown_share : float
        Largest share of rows with an unknown enumeration value, per column,
        that is tolerated as row rejects (default 5 %); above it the file is
        refused.
    sheet, encoding, sep
        Passed to :func:`~allocation_analysis.io.readers.read_table`.
    extract_date : date or str, optional
        Date of the extract (default: today). A date after it (a filing in
        2099) is a row reject (rule ``date_future``).
    _pseudonyms : dict, optional
        Internal (:func:`load_inputs`): identifiers already hashed with the
        same key, reused, and updated with this table's.

    Returns
    -------
    LoadResult

    Raises
    ------
    InputError
        File-level problem (unreadable, missing required column, one single
        column, no data row, too many unknown values), naming the file.
    """
    t_start = time.perf_counter()
    spec = _spec(table)
    limit = _extract_timestamp(extract_date)
    if not 0 <= unknown_share <= 1:
        raise UsageError(f"unknown_share doit être compris entre 0 et 1 (reçu {unknown_share}).")
    fname = str(path)
    raw, info = read_table(path, sheet=sheet, encoding=encoding, sep=sep)
    source_names = list(raw.columns)
    canonical = spec.names + ([COTATION_SCORE] if spec.name == "demandes" else [])
    raw = apply_table_map(
        raw, load_column_map(column_map).for_table(spec.name), canonical, file=fname
    )
    if spec.name == "demandes":
        raw, spec = _with_cotation(raw, spec, fname)
    canonical_of = dict(zip(source_names, raw.columns, strict=True))

    missing = [c for c in spec.required if c not in raw.columns]
    if missing and raw.shape[1] == 1 and len(spec.required) > 1:
        raise InputError(
            "Une seule colonne a été lue : le séparateur ne correspond pas "
            "(attendu « ; », « , » ou tabulation).",
            file=fname,
            # the only "column" is the whole first line: named only when it is a header
            column=str(raw.columns[0])[:60]
            if any(n in str(raw.columns[0]) for n in spec.required)
            else None,
            rule="separateur",
        )
    if missing:
        found = [str(c) for c in raw.columns]
        if all(_NAME_LIKE.match(c) for c in found):
            shown = f"Colonnes trouvées : {', '.join(found)}."
        else:  # cells of a data line (headerless export, wrong separator): never echoed
            shown = (
                f"{len(found)} colonne(s) trouvée(s), dont certaines ne ressemblent pas à des "
                "noms de colonnes : la première ligne est peut-être une ligne de données "
                "(en-tête absent) ou le séparateur ne correspond pas."
            )
        raise InputError(
            f"Colonne(s) obligatoire(s) absente(s) de la table « {spec.name} » : "
            f"{', '.join(missing)}. {shown} "
            "Une table de correspondance (--column-map) permet de renommer les colonnes.",
            file=fname,
            column=missing[0],
            rule="colonne_manquante",
        )
    n_read = len(raw) + info.n_unread
    if n_read == 0:
        raise InputError(
            "Le fichier ne contient aucune ligne de données (en-tête seul).",
            file=fname,
            rule="fichier_vide",
        )
    reasons: list[pd.DataFrame] = []
    extra = [c for c in raw.columns if c not in spec.names]
    if extra:
        logger.info("%s: columns ignored (not in the data contract): %s", fname, ", ".join(extra))

    if info.ragged:
        reasons.append(
            pd.DataFrame(
                {
                    "table": spec.name,
                    "source_row": [r.source_row for r in info.ragged],
                    "column": "",
                    "value": [f"{r.n_fields} champs" for r in info.ragged],
                    "rule": "nombre_de_champs",
                    "message": [
                        f"ligne incomplète ou trop longue : {r.n_fields} champs au lieu de {r.expected}"
                        for r in info.ragged
                    ],
                }
            )
        )
    if info.multiline:
        reasons.append(
            pd.DataFrame(
                [
                    {
                        "table": spec.name,
                        "source_row": row,
                        "column": "",
                        "value": "",
                        "rule": "enregistrement_multiligne" if r.whole else "guillemet_non_ferme",
                        "message": _unclosed_quote_message(r),
                    }
                    for r in info.multiline
                    for row in r.rows
                ]
            )
        )

    nul_rows: dict[str, np.ndarray] = {}
    for col, rows in info.nul.items():
        col = canonical_of.get(col, col)
        reason = _nul_reasons(spec, raw, col, rows)
        reasons.append(reason)
        nul_rows[col] = reason["source_row"].to_numpy()
    numeric = {canonical_of.get(c, c): rows for c, rows in info.numeric.items()}
    numeric_columns = _read_numeric_identifiers(raw, numeric)
    alt = _alternative_keys(raw, info, numeric, numeric_columns)

    parsed: dict[str, pd.Series] = {}
    bad_cells: dict[str, pd.Series] = {}
    for c in spec.columns:
        if c.name not in raw.columns:
            parsed[c.name] = empty_column(c, raw.index)
            continue
        values, bad = _parse_column(c, raw[c.name])
        parsed[c.name] = values
        if c.name in nul_rows:  # already rejected: no "obligatoire" on the emptied cell
            bad_cells[c.name] = bad | pd.Series(raw.index.isin(nul_rows[c.name]), index=bad.index)
        else:
            bad_cells[c.name] = bad
        if not bad.any():
            continue
        rows = raw.index.to_numpy()[bad.to_numpy()]
        rule, text = _PARSE_RULES.get(c.kind, ("type", "valeur invalide"))
        if c.kind == "enum":
            share = len(rows) / max(n_read, 1)
            if share > unknown_share:
                examples = raw.loc[rows, c.name].astype(str).str.strip()
                shown = ", ".join(f"« {v} »" for v in pd.unique(examples)[:_EXAMPLES])
                raise InputError(
                    f"Valeurs inconnues dans {len(rows)} lignes sur {n_read} "
                    f"({fmt_pct(share)}, tolérance {fmt_pct(unknown_share, digits=0)}) : "
                    f"{shown}. "
                    f"Valeurs permises : {', '.join(c.values)}. Une table de correspondance "
                    "(--column-map, section « values ») permet de les traduire.",
                    file=fname,
                    column=c.name,
                    rows=tuple(int(r) for r in rows[:_EXAMPLES]),
                    rule="valeur_inconnue",
                )
            text = f"valeur inconnue (valeurs permises : {', '.join(c.values)})"
        reasons.append(
            _reasons(
                spec.name, rows, c.name, _raw_values(raw, c.name, rows), rule, f"{c.name} : {text}"
            )
        )
    for c in spec.columns:
        if c.kind == "date" and c.name in raw.columns:
            future = (parsed[c.name] > limit).to_numpy(dtype=bool, na_value=False)
            if future.any():
                rows = raw.index.to_numpy()[future]
                reasons.append(
                    _reasons(
                        spec.name,
                        rows,
                        c.name,
                        _raw_values(raw, c.name, rows),
                        "date_future",
                        f"{c.name} : date postérieure à la date d'extraction ({limit:%d/%m/%Y})",
                    )
                )
    frame = pd.DataFrame(parsed, index=raw.index)

    reasons.extend(_schema_reasons(spec, frame, raw, bad_cells))
    reasons.extend(_cotation_reasons(spec, frame, bad_cells))
    reasons.extend(_duplicate_reasons(spec, frame, raw))

    rejects = _concat_rejects(reasons)
    del raw, parsed, reasons  # the text frame is not needed any more
    rejected = np.unique(rejects["source_row"].to_numpy(dtype=np.int64))
    for c in spec.columns:
        if c.kind == "bool" and c.required:  # missing only in rejected rows
            frame[c.name] = frame[c.name].fillna(False).astype(bool)

    keys: pd.Series | None = None
    if "num_unique" in spec.names:
        from allocation_analysis.privacy import _pseudonymise, load_or_create_key

        k = key if key is not None else load_or_create_key()
        memo = _pseudonyms if _pseudonyms is not None else {}
        ids, memo["known"] = _pseudonymise(frame["num_unique"], k, memo.get("known"))
        keys = ids
        ids_alt = alt["column"] == "num_unique"
        if ids_alt.any():
            alt.loc[ids_alt, "key"] = _pseudonymise(alt.loc[ids_alt, "key"].astype(TEXT_DTYPE), k)[
                0
            ].to_numpy()
        del frame["num_unique"]
        frame.insert(0, "demande_id", ids)
    elif spec.unique_key and len(spec.unique_key) == 1:
        keys = frame[spec.unique_key[0]]
    frame.insert(0, "source_row", frame.index.to_numpy(dtype=np.int64))
    keep = ~frame.index.isin(rejected)
    # one copy of the accepted rows at most (none when every row is accepted)
    data = frame.loc[keep] if not keep.all() else frame
    del frame
    data.index = pd.RangeIndex(len(data))
    result = LoadResult(
        table=spec.name,
        data=data,
        rejects=rejects,
        n_read=n_read,
        file=fname,
        keys=keys,
        alt_keys=alt,
        numeric_columns=numeric_columns,
    )
    if result.n_read != result.n_accepted + result.n_rejected:  # pragma: no cover - invariant
        raise AssertionError(f"row accounting broken for {fname}")
    logger.info(
        "%s (%s): %d read, %d accepted, %d rejected (%.1f s)",
        spec.name,
        fname,
        result.n_read,
        result.n_accepted,
        result.n_rejected,
        time.perf_counter() - t_start,
    )
    _arrow.release_memory()
    return result


def _with_cotation(
    raw: pd.DataFrame, spec: TableSpec, fname: str
) -> tuple[pd.DataFrame, TableSpec]:
    """The demand table's spec extended with the cotation columns the file holds.

    Headers spelled like a criterion (``Cotation Ancienneté``) are renamed to
    their snake_case form (``cotation_anciennete``). Criteria without a
    ``score_cotation`` column refuse the file.
    """
    rename = {}
    for col in raw.columns:
        norm = normalise_header(col)
        if col != norm and norm.startswith("cotation_") and norm not in raw.columns:
            rename[col] = norm
    if rename:
        raw = raw.rename(columns=rename)
    score, criteria = cotation_columns(raw.columns)
    if score is None and not criteria:
        return raw, spec
    if score is None:
        raise InputError(
            f"Colonne(s) de critères de cotation ({', '.join(criteria)}) sans colonne "
            f"{COTATION_SCORE} : le score total est nécessaire pour contrôler la somme des "
            "critères.",
            file=fname,
            column=criteria[0],
            rule="score_cotation_manquant",
        )
    extra = tuple(ColumnSpec(c, "float", min=0.0) for c in [score, *criteria])
    return raw, replace(spec, columns=spec.columns + extra)


def _cotation_reasons(
    spec: TableSpec, frame: pd.DataFrame, bad_cells: dict[str, pd.Series]
) -> list[pd.DataFrame]:
    """Rows whose cotation is half filled, or whose criteria do not add up to the score."""
    from allocation_analysis.text import fmt_float

    if spec.name != "demandes":
        return []
    score, criteria = cotation_columns(frame.columns)
    if score is None or not criteria:
        return []
    cols = [score, *criteria]
    unreadable = np.zeros(len(frame), dtype=bool)
    for c in cols:
        unreadable |= bad_cells[c].to_numpy(dtype=bool)
    values = frame[cols].to_numpy(dtype=float)
    given = ~np.isnan(values)
    partial = given.any(axis=1) & ~given.all(axis=1) & ~unreadable
    total = values[:, 1:].sum(axis=1)
    gap = np.abs(total - values[:, 0])
    wrong = given.all(axis=1) & (gap > COTATION_TOLERANCE + 1e-9)
    out = []
    rows = frame.index.to_numpy()
    if partial.any():
        missing = [
            ", ".join(c for c, g in zip(cols, row, strict=True) if not g) for row in given[partial]
        ]
        out.append(
            _reasons(
                spec.name,
                rows[partial],
                score,
                "",
                "cotation_incomplete",
                [
                    f"cotation incomplète : {m} vide(s) alors que d'autres colonnes de cotation "
                    "sont remplies (toutes remplies, ou toutes vides pour une demande non cotée)"
                    for m in missing
                ],
            )
        )
    if wrong.any():
        out.append(
            _reasons(
                spec.name,
                rows[wrong],
                score,
                [fmt_float(v) for v in values[wrong, 0]],
                "cotation_somme",
                [
                    f"somme des critères de cotation ({fmt_float(t)} points) différente de "
                    f"{score} ({fmt_float(v)} points) ; écart toléré : "
                    f"{fmt_float(COTATION_TOLERANCE)} point"
                    for t, v in zip(total[wrong], values[wrong, 0], strict=True)
                ],
            )
        )
    return out


# What a column name looks like: starts with a letter, short, no long run of digits
# (an identifier, a code) and no separator of another dialect.
_NAME_LIKE = re.compile(r"^(?!.*\d{5})(?!.*[|;,\t])[^\W\d].{0,63}$")


def _extract_timestamp(extract_date: dt.date | str | None) -> pd.Timestamp:
    """The extract date as a timestamp (default: today); a bad value is a usage error."""
    if extract_date is None:
        return pd.Timestamp(dt.date.today())
    try:
        out = pd.Timestamp(extract_date)
    except (TypeError, ValueError):
        out = pd.NaT
    if out is pd.NaT:
        raise UsageError(
            f"Date d'extraction invalide : « {extract_date} » (attendu AAAA-MM-JJ)."
        ) from None
    return out.normalize()


_NUL_MESSAGE = (
    "caractère nul (octet 0) dans le champ : le fichier est corrompu ou mal exporté, "
    "la valeur serait tronquée"
)


def _nul_reasons(spec: TableSpec, raw: pd.DataFrame, column: str, rows: np.ndarray) -> pd.DataFrame:
    """Rejects of the cells holding a NUL (shown as ``␀``); the cells are emptied in place.

    The row is rejected for the NUL alone: the emptied cell is not parsed (no
    second reason, and it does not count as an unknown enumeration value).
    """
    rows = rows[np.isin(rows, raw.index.to_numpy())]
    shown = raw.loc[rows, column].astype(TEXT_DTYPE).str.replace("\x00", "\u2400", regex=False)
    raw.loc[rows, column] = ""
    # a column outside the contract may hold anything (free text): never shown
    value: Any = MASK if is_personal(column) or column not in spec.names else shown.to_numpy()
    return _reasons(spec.name, rows, column, value, "caractere_nul", f"{column} : {_NUL_MESSAGE}")


def _read_numeric_identifiers(raw: pd.DataFrame, numeric: dict[str, np.ndarray]) -> frozenset[str]:
    """Identifier cells stored as numbers read as their digits, in place (``59100003.0`` → ``59100003``).

    Returns the identifier columns stored as numbers in every non-empty cell.
    """
    whole: set[str] = set()
    for col in IDENTIFIER_COLUMNS:
        rows = numeric.get(col)
        if col not in raw.columns or rows is None or len(rows) == 0:
            continue
        rows = rows[np.isin(rows, raw.index.to_numpy())]
        cells = raw.loc[rows, col].astype(TEXT_DTYPE)
        raw.loc[rows, col] = cells.str.replace(r"^(\d+)\.0+$", r"\1", regex=True).to_numpy()
        filled = int((raw[col].astype(TEXT_DTYPE).str.strip() != "").sum())
        if len(rows) == filled:
            whole.add(col)
    return frozenset(whole)


_NO_ALT = pd.DataFrame(
    {"source_row": pd.Series(dtype="int64"), "column": pd.Series(dtype=object),
     "key": pd.Series(dtype=object), "origin": pd.Series(dtype=object)}
)  # fmt: skip


def _alternative_keys(
    raw: pd.DataFrame, info: Any, numeric: dict[str, np.ndarray], numeric_columns: frozenset[str]
) -> pd.DataFrame:
    """Keys a row may really have had (see :attr:`LoadResult.alt_keys`), as raw text."""
    import csv

    parts: list[dict[str, Any]] = []
    cols = [c for c in IDENTIFIER_COLUMNS if c in raw.columns]
    unread = [(r.source_row, r.text) for r in info.ragged] + [
        (r.source_row, r.text) for r in info.multiline
    ]
    if unread and cols:
        seps = [info.sep] + [s for s in (";", ",", "\t") if s != info.sep] if info.sep else []
        for col in cols:
            pos = list(raw.columns).index(col)
            for row, text in unread:
                found = set()
                for s in seps:  # an extra separator after the key, or another separator
                    try:
                        fields = next(csv.reader([text], delimiter=s))
                    except (csv.Error, StopIteration):
                        continue
                    if len(fields) > pos and fields[pos].strip():
                        found.add(fields[pos].strip())
                parts.extend(
                    {"source_row": row, "column": col, "key": f, "origin": "illisible"}
                    for f in sorted(found)
                )
    for col in cols:
        rows = numeric.get(col)
        if rows is None or col in numeric_columns:
            continue
        rows = rows[np.isin(rows, raw.index.to_numpy())]
        for row, digits in zip(rows, raw.loc[rows, col].astype(str).str.strip(), strict=True):
            if digits.isdigit():
                parts.extend(
                    {"source_row": int(row), "column": col, "key": digits.zfill(n),
                     "origin": "numerique"}
                    for n in range(len(digits) + 1, len(digits) + 4)
                )  # fmt: skip
    if not parts:
        return _NO_ALT.copy()
    return pd.DataFrame(parts, columns=list(_NO_ALT.columns)).astype({"source_row": "int64"})


def _schema_reasons(
    spec: TableSpec, frame: pd.DataFrame, raw: pd.DataFrame, bad_cells: dict[str, pd.Series]
) -> list[pd.DataFrame]:
    schema = pandera_schema(spec)
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    fc = fc[fc["index"].notna()]
    out: list[pd.DataFrame] = []
    for (context, column, rule), grp in fc.groupby(
        ["schema_context", "column", "check"], sort=False, dropna=False
    ):
        rows = np.unique(grp["index"].to_numpy(dtype=np.int64))
        rule = str(rule)
        if context == "DataFrameSchema":
            column = FRAME_RULE_COLUMN.get(rule, str(column))
            # A frame-wide check reports one failure per column; keep one per row.
        else:
            column = str(column)
            if rule == "not_nullable":
                rule = "obligatoire"
                bad = bad_cells.get(column)
                if bad is not None:  # already rejected as unparsable: one reason is enough
                    rows = rows[~bad.loc[rows].to_numpy()]
        if len(rows) == 0:
            continue
        out.append(
            _reasons(
                spec.name,
                rows,
                column,
                _raw_values(raw, column, rows),
                rule,
                _rule_message(rule, spec, column),
            )
        )
    if out:
        merged = pd.concat(out, ignore_index=True).drop_duplicates(["source_row", "column", "rule"])
        return [merged]
    return []


def _duplicate_reasons(
    spec: TableSpec, frame: pd.DataFrame, raw: pd.DataFrame
) -> list[pd.DataFrame]:
    if not spec.unique_key:
        return []
    keys = frame[list(spec.unique_key)]
    present = keys.notna().all(axis=1)
    dup = keys.duplicated(keep="first") & present
    if not dup.any():
        return []
    first_row = (
        pd.Series(frame.index, index=frame.index)[present]
        .groupby([keys[c][present] for c in spec.unique_key], sort=False)
        .transform("first")
    )
    rows = frame.index.to_numpy()[dup.to_numpy()]
    firsts = first_row.loc[rows].to_numpy()
    col = spec.unique_key[0]
    label = " + ".join(spec.unique_key)
    messages = [f"{label} déjà présent ligne {int(f)} (doublon)" for f in firsts]
    return [_reasons(spec.name, rows, col, _raw_values(raw, col, rows), "doublon", messages)]


# ------------------------------------------------------------------------ all tables


def _resolve_epci(seuils: pd.DataFrame, siren_epci: str | None, file: str | None) -> str:
    epcis = sorted(seuils["siren_epci"].dropna().unique())
    if siren_epci is not None:
        siren = str(siren_epci).strip()
        if siren not in epcis:
            raise InputError(
                f"Aucun seuil pour l'EPCI {siren} (EPCI présents : {', '.join(epcis) or 'aucun'}).",
                file=file,
                column="siren_epci",
                rule="seuil_manquant",
            )
        return siren
    if len(epcis) == 1:
        return str(epcis[0])
    raise UsageError(
        f"Le fichier des seuils contient plusieurs EPCI ({', '.join(epcis)}) : "
        "précisez lequel avec --siren-epci."
    )


def load_inputs(
    paths: Any,
    *,
    column_map: str | Path | Mapping[str, Any] | ColumnMap | None = None,
    key: bytes | None = None,
    siren_epci: str | None = None,
    period: Any = None,
    unknown_share: float = 0.05,
    extract_date: dt.date | str | None = None,
) -> Inputs:
    """Load and cross-validate every input of one territory.

    Parameters
    ----------
    paths : InputPaths
        Files (``demandes`` and ``attributions`` are required; ``propositions``
        is optional and loaded with the demands' pseudonyms; ``bailleurs``,
        optional, gives the landlords' names: ``bailleur_siren``, ``nom``, one
        row per SIREN).
    column_map : path, mapping or ColumnMap, optional
        Column map; default ``paths.column_map``.
    key : bytes, optional
        Pseudonymisation key (default: environment variable or key file).
    siren_epci : str, optional
        EPCI whose thresholds apply; may be omitted when the thresholds file
        holds a single EPCI.
    period : Period, optional
        Analysed semester. Thresholds must exist for every year of the rolling
        12 months ending with it; without a period, for every year of a lease
        date.
    unknown_share : float
        See :func:`load_table`.
    extract_date : date or str, optional
        Date of the extract (default: today); later dates are row rejects
        (see :func:`load_table`).

    Returns
    -------
    Inputs

    Raises
    ------
    InputError
        Any file-level problem of :func:`load_table`, a referential break
        (allocation → unknown demand or dwelling) or a missing threshold year.
    UsageError
        A required file is not given, or several EPCIs and no ``siren_epci``.
    """
    from allocation_analysis.privacy import load_or_create_key

    for name, flag in (("demandes", "--demandes"), ("attributions", "--attributions")):
        if getattr(paths, name, None) is None:
            raise UsageError(f"Le fichier « {name} » est obligatoire ({flag}).")
    cmap = load_column_map(column_map if column_map is not None else paths.column_map)
    k = key if key is not None else load_or_create_key()
    opts = {"column_map": cmap, "unknown_share": unknown_share, "extract_date": extract_date}

    results: dict[str, LoadResult] = {}
    # the allocations reuse the pseudonyms of the demand file's identifiers
    memo: dict[str, Any] = {}
    results["demandes"] = dem = load_table(
        paths.demandes, "demandes", key=k, _pseudonyms=memo, **opts
    )
    results["attributions"] = att = load_table(
        paths.attributions, "attributions", key=k, _pseudonyms=memo, **opts
    )
    pro = None
    if getattr(paths, "propositions", None) is not None:
        # same key and same pseudonyms: demande_id joins demands, leases and candidates
        results["propositions"] = pro = load_table(
            paths.propositions, "propositions", key=k, _pseudonyms=memo, **opts
        )
    memo.clear()
    log = None
    if paths.logements is not None:
        results["logements"] = log = load_table(paths.logements, "logements", **opts)
    seu = None
    if paths.seuils is not None:
        results["seuils_q1"] = seu = load_table(paths.seuils, "seuils_q1", **opts)
    bai = None
    if getattr(paths, "bailleurs", None) is not None:
        # optional: landlord names shown next to their SIREN in the published tables
        results["bailleurs"] = bai = load_table(paths.bailleurs, "bailleurs", **opts)

    _check_allocation_demands(att, dem)
    if log is not None:
        _check_allocation_dwellings(att, log)
    if pro is not None:
        _check_allocation_demands(pro, dem)
        if log is not None:
            _check_allocation_dwellings(pro, log)
    notes: list[str] = []
    epci = None
    if seu is not None:
        epci = _resolve_epci(seu.data, siren_epci, seu.file)
        _check_threshold_years(seu, att, epci, period)
    else:
        notes.append(
            "aucun fichier de seuils (--seuils) : le statut de premier quartile ne pourra "
            "pas être calculé."
        )
    if log is None:
        notes.append("aucun fichier de logements : les rpls_id ne sont pas contrôlés.")

    communes = qpv = None
    if paths.communes is not None or paths.qpv is not None:
        from allocation_analysis.io.geo import load_communes, load_qpv

        communes = load_communes(paths.communes) if paths.communes is not None else None
        qpv = load_qpv(paths.qpv) if paths.qpv is not None else None

    report = ValidationReport.from_results(results)
    report.notes.extend(notes)
    _arrow.release_memory()
    return Inputs(
        demandes=dem.data,
        attributions=att.data,
        logements=log.data if log is not None else None,
        seuils=seu.data if seu is not None else None,
        communes=communes,
        qpv=qpv,
        report=report,
        rejects={name: r.rejects for name, r in results.items()},
        siren_epci=epci,
        propositions=pro.data if pro is not None else None,
        bailleurs=bai.data if bai is not None else None,
    )


def _numeric_identifier_error(res: LoadResult, column: str, other: LoadResult) -> InputError:
    return InputError(
        f"La colonne {column} est enregistrée comme nombre dans ce fichier : les "
        "identifiants y perdent leurs zéros initiaux (et tout ce qui n'est pas un chiffre), "
        f"si bien qu'ils ne correspondent plus à ceux du fichier {other.file}. Enregistrez "
        f"la colonne {column} au format texte (dans le tableur : format de cellule « Texte » "
        "avant la saisie ou l'import).",
        file=res.file,
        column=column,
        rule="identifiant_numerique",
    )


def _explained_references(
    att: LoadResult, ref: LoadResult, column: str, unknown: np.ndarray
) -> np.ndarray:
    """Which unknown references are explained by a defect of a row, not by a missing row.

    An allocation key that is unknown in ``ref`` is explained when it is the
    identifier read from a ``ref`` row rejected before its fields could be
    told apart, or when either side holds the identifier as a number that
    lost its leading zeros. The ``ref`` rows (and allocation rows) concerned
    by a number are rejected here (rule ``identifiant_numerique``); the
    allocations of rejected ``ref`` rows are rejected by the caller.
    """
    assert att.keys is not None and ref.keys is not None
    ukeys = att.keys[unknown]
    explained = np.zeros(len(ukeys), dtype=bool)
    ref_alt = ref.alt_keys if ref.alt_keys is not None else _NO_ALT
    ref_alt = ref_alt[ref_alt["column"] == column]
    message = (
        f"{column} enregistré comme nombre dans le classeur : les zéros initiaux ont été "
        "perdus ; enregistrez la colonne au format texte"
    )
    if len(ref_alt):
        explained |= _arrow.isin(ukeys, ref_alt["key"])
        num = ref_alt[(ref_alt["origin"] == "numerique")]
        hit = num.loc[_arrow.isin(num["key"], ukeys), "source_row"].to_numpy()
        if len(hit):
            ref.reject_rows(
                pd.Series(np.isin(ref.data["source_row"].to_numpy(), hit), index=ref.data.index),
                column=column,
                rule="identifiant_numerique",
                message=message,
            )
    att_alt = att.alt_keys if att.alt_keys is not None else _NO_ALT
    att_alt = att_alt[(att_alt["column"] == column) & (att_alt["origin"] == "numerique")]
    if len(att_alt):
        hit = att_alt.loc[_arrow.isin(att_alt["key"], ref.keys), "source_row"].to_numpy()
        explained |= np.isin(ukeys.index.to_numpy(), hit)
        if len(hit):
            att.reject_rows(
                pd.Series(np.isin(att.data["source_row"].to_numpy(), hit), index=att.data.index),
                column=column,
                rule="identifiant_numerique",
                message=message,
            )
    return explained


# How the referential messages name the rows of each referencing table, and
# the date that may not precede the demand's filing.
_REFERENCING = {
    "attributions": (
        "attribution(s)",
        "date_bail",
        "bail_avant_depot",
        "date de bail antérieure à la date de dépôt de la demande",
    ),
    "propositions": (
        "proposition(s)",
        "date_cal",
        "cal_avant_depot",
        "date de la commission (CAL) antérieure à la date de dépôt de la demande",
    ),
}


def _check_allocation_demands(att: LoadResult, dem: LoadResult) -> None:
    """Referential check of ``attributions`` or ``propositions`` against the demands."""
    noun, date_col, date_rule, date_msg = _REFERENCING[att.table]
    assert att.keys is not None and dem.keys is not None
    # Arrow hash kernels: pandas' isin/map on Arrow strings make Python objects of the set
    unknown = att.keys.notna().to_numpy() & ~_arrow.isin(att.keys, dem.keys)
    if unknown.any():
        unknown[unknown] = ~_explained_references(att, dem, "num_unique", unknown)
    if unknown.any():
        for res, other in ((dem, att), (att, dem)):
            if "num_unique" in res.numeric_columns:
                raise _numeric_identifier_error(res, "num_unique", other)
        rows = att.keys.index[unknown].to_numpy()
        raise InputError(
            f"{len(rows)} {noun} renvoient à une demande absente du fichier des "
            f"demandes ({dem.file}).",
            file=att.file,
            column="num_unique",
            rows=tuple(int(r) for r in rows[:_EXAMPLES]),
            rule="reference_demande",
        )
    dem_ids = dem.data["demande_id"]
    ids = att.data["demande_id"]
    att.reject_rows(
        pd.Series(~_arrow.isin(ids, dem_ids), index=att.data.index),
        column="demande_id",
        rule="demande_rejetee",
        message="la demande correspondante a été rejetée dans le fichier des demandes",
    )
    depot = _arrow.lookup(att.data["demande_id"], dem_ids, dem.data["date_depot"])
    att.reject_rows(
        pd.Series(att.data[date_col].to_numpy() < np.asarray(depot), index=att.data.index),
        column=date_col,
        rule=date_rule,
        message=date_msg,
    )


def _check_allocation_dwellings(att: LoadResult, log: LoadResult) -> None:
    """Referential check of ``attributions`` or ``propositions`` against the dwellings."""
    noun = _REFERENCING[att.table][0]
    assert log.keys is not None
    # Accepted allocation rows only: a rejected row's rpls_id may itself be garbage.
    rpls = att.data["rpls_id"]
    present = rpls.notna().to_numpy()
    unknown = present & ~_arrow.isin(rpls, log.keys)
    if unknown.any() and log.alt_keys is not None:
        # the rpls_id read from a dwelling row rejected before its fields could be told apart
        alt = log.alt_keys[log.alt_keys["column"] == "rpls_id"]
        unknown &= ~_arrow.isin(rpls, alt["key"])
    rows = np.sort(att.data.loc[unknown, "source_row"].to_numpy())
    if len(rows):
        for res, other in ((log, att), (att, log)):
            if "rpls_id" in res.numeric_columns:
                raise _numeric_identifier_error(res, "rpls_id", other)
        raise InputError(
            f"{len(rows)} {noun} renvoient à un logement (rpls_id) absent du fichier "
            f"des logements ({log.file}).",
            file=att.file,
            column="rpls_id",
            rows=tuple(int(r) for r in rows[:_EXAMPLES]),
            rule="reference_logement",
        )
    att.reject_rows(
        pd.Series(present & ~_arrow.isin(rpls, log.data["rpls_id"]), index=att.data.index),
        column="rpls_id",
        rule="logement_rejete",
        message="le logement correspondant a été rejeté dans le fichier des logements",
    )


def _check_threshold_years(seu: LoadResult, att: LoadResult, epci: str, period: Any) -> None:
    if period is not None:
        years = set(range(period.rolling_start.year, period.end.year + 1))
    else:
        years = set(att.data["date_bail"].dropna().dt.year.astype(int))
    have = set(seu.data.loc[seu.data["siren_epci"] == epci, "annee"].dropna().astype(int))
    missing = sorted(years - have)
    if missing:
        raise InputError(
            f"Seuil du premier quartile manquant pour l'EPCI {epci}, année(s) "
            f"{', '.join(map(str, missing))} (années présentes : "
            f"{', '.join(map(str, sorted(have))) or 'aucune'}).",
            file=seu.file,
            column="annee",
            rule="seuil_manquant",
        )
