"""Column maps: load an export whose column names or values differ from the contract.

A column map is a YAML file with one section per table (``demandes``,
``attributions``, ``logements``, ``seuils_q1``, ``propositions``); each section may hold:

``columns``
    ``source name: canonical name``. Source names are matched exactly first,
    then after normalisation (case, accents, spaces → ``_``).
``values``
    ``canonical column: {source value: canonical value}``, applied to the raw
    text before parsing (source values are matched after stripping spaces,
    case-insensitively), so that a local code list (``1: francaise``) or a
    wording (``Absence de réponse: absence_reponse``) loads without code changes.

Example (see ``allocation_analysis/data/column_map.example.yaml``)::

    demandes:
      columns:
        "N° unique": num_unique
        "Date de dépôt": date_depot
        Nationalité: nationalite
      values:
        nationalite:
          "1": francaise
          "2": ue
          "3": hors_ue

Without a map, headers are still matched tolerantly: a header whose
normalised form (``Date_Depot``, ``date dépôt`` → ``date_depot`` /
``date_depot``) equals a canonical name is renamed to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from allocation_analysis.errors import InputError

__all__ = ["ColumnMap", "TableMap", "apply_table_map", "load_column_map", "normalise_header"]

_TABLE_KEYS = ("demandes", "attributions", "logements", "seuils_q1", "propositions")


def normalise_header(name: str) -> str:
    """snake_case form of a header: lower case, no accents, non-alphanumerics → ``_``.

    Examples
    --------
    >>> normalise_header(" Date de Dépôt ")
    'date_de_depot'
    >>> normalise_header("NB-Personnes")
    'nb_personnes'
    """
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^0-9a-z+]+", "_", text).strip("_")


@dataclass(frozen=True)
class TableMap:
    """Column and value maps of one table."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMap:
    """Column maps of all tables (empty by default)."""

    tables: dict[str, TableMap] = field(default_factory=dict)
    source: str | None = None

    def for_table(self, table: str) -> TableMap:
        """The map of one table (an empty map when the file has no section for it)."""
        return self.tables.get("seuils_q1" if table == "seuils" else table, TableMap())


def load_column_map(source: str | Path | Mapping[str, Any] | ColumnMap | None) -> ColumnMap:
    """Read a column map from a YAML file (or accept a mapping already loaded).

    Raises
    ------
    InputError
        Unreadable file, or a structure other than the documented one.
    """
    if source is None:
        return ColumnMap()
    if isinstance(source, ColumnMap):
        return source
    name = None
    if isinstance(source, str | Path):
        import yaml

        from allocation_analysis.io.readers import check_regular_file

        name = str(source)
        try:
            check_regular_file(Path(source))
        except InputError as exc:
            if exc.rule == "fichier_introuvable":
                raise InputError("Table de correspondance introuvable.", file=name) from None
            raise
        try:
            raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("Table de correspondance introuvable.", file=name) from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(
                f"Table de correspondance illisible ({exc}).", file=name, rule="colmap"
            ) from None
    else:
        raw = dict(source)
    raw = raw or {}
    if not isinstance(raw, dict):
        raise InputError(
            "La table de correspondance doit être un dictionnaire par table.",
            file=name,
            rule="colmap",
        )
    tables: dict[str, TableMap] = {}
    for table, section in raw.items():
        key = "seuils_q1" if table == "seuils" else str(table)
        if key not in _TABLE_KEYS:
            raise InputError(
                f"Table inconnue dans la table de correspondance : « {table} » "
                f"(tables permises : {', '.join(_TABLE_KEYS)}).",
                file=name,
                rule="colmap",
            )
        section = section or {}
        if not isinstance(section, dict) or set(section) - {"columns", "values"}:
            raise InputError(
                f"Section « {table} » : seules les clés « columns » et « values » sont permises "
                "(un dictionnaire, pas une liste).",
                file=name,
                rule="colmap",
            )
        columns = _mapping(
            section.get("columns"),
            f"Section « {table} », « columns » : un dictionnaire « nom dans le fichier: "
            "nom attendu » est attendu",
            name,
        )
        values = _mapping(
            section.get("values"),
            f"Section « {table} », « values » : un dictionnaire « colonne: {{valeur du "
            "fichier: valeur attendue}} » est attendu",
            name,
            nested=True,
        )
        cols = {str(k): str(v) for k, v in columns.items()}
        vals = {
            str(col): {
                _value_key(k): str(v)
                for k, v in _mapping(
                    m,
                    f"Section « {table} », « values », colonne « {col} » : un dictionnaire "
                    "« valeur du fichier: valeur attendue » est attendu",
                    name,
                ).items()
            }
            for col, m in values.items()
        }
        tables[key] = TableMap(columns=cols, values=vals)
    return ColumnMap(tables=tables, source=name)


def _mapping(value: Any, message: str, file: str | None, *, nested: bool = False) -> dict:
    """``value`` when it is a mapping (empty for ``None``), else a French :class:`InputError`.

    Keys and, unless ``nested``, values must be scalars (text, numbers, booleans).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = "une liste" if isinstance(value, list) else f"« {value} »"
        raise InputError(f"{message} (reçu {kind}).", file=file, rule="colmap")
    for k, v in value.items():
        if isinstance(k, list | dict) or (not nested and isinstance(v, list | dict)):
            raise InputError(f"{message} (reçu « {k}: {v} »).", file=file, rule="colmap")
    return value


def _value_key(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v).strip().lower()


def apply_table_map(
    df: pd.DataFrame, table_map: TableMap, canonical: list[str], *, file: str | None = None
) -> pd.DataFrame:
    """Rename columns to canonical names and apply value maps (on the raw text).

    Parameters
    ----------
    df : DataFrame
        Raw text frame from :func:`~allocation_analysis.io.readers.read_table`.
    table_map : TableMap
        The table's section of the column map.
    canonical : list of str
        Canonical column names of the table.
    file : str, optional
        File name for error messages.

    Raises
    ------
    InputError
        When two source columns end up with the same canonical name.
    """
    norm_map = {normalise_header(k): v for k, v in table_map.columns.items()}
    canon_norm = {normalise_header(c): c for c in canonical}
    rename: dict[str, str] = {}
    for col in df.columns:
        if col in table_map.columns:
            rename[col] = table_map.columns[col]
        elif normalise_header(col) in norm_map:
            rename[col] = norm_map[normalise_header(col)]
        elif normalise_header(col) in canon_norm:
            rename[col] = canon_norm[normalise_header(col)]
    targets: dict[str, list[str]] = {}
    for col in df.columns:
        targets.setdefault(rename.get(col, col), []).append(col)
    clash = {t: s for t, s in targets.items() if len(s) > 1}
    if clash:
        t, s = next(iter(clash.items()))
        raise InputError(
            f"Plusieurs colonnes correspondent à « {t} » : {', '.join(s)}.",
            file=file,
            column=t,
            rule="colonne_en_double",
        )
    out = df.rename(columns=rename)
    for col, mapping in table_map.values.items():
        if col in out.columns and mapping:
            key = out[col].astype("string").fillna("").str.strip().str.lower()
            mapped = key.map(mapping)
            out[col] = mapped.where(mapped.notna(), out[col]).astype(object)
    return out
