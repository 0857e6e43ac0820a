"""Writers of the published outputs: tables (CSV, XLSX), results.json, manifest.

Everything written here is public: tables pass the disclosure-control guard
(:func:`allocation_analysis.privacy.check_no_small_counts`) and text cells are
escaped against formula injection (a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is prefixed with an apostrophe, so that
``=HYPERLINK(…)`` is shown as text when the file is opened in a spreadsheet).
Output is deterministic: same frames ⇒ same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "escape_formula",
    "escape_frame",
    "json_default",
    "sha256_file",
    "with_landlord_names",
    "write_csv",
    "write_csv_excel",
    "write_json",
    "write_xlsx",
]

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
_FORMULA_START = r"^[=+\-@\t\r\n]"
# A signed plain number ("-5", "+3,5") runs nothing: it is left as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def escape_formula(value: Any) -> Any:
    """Neutralise a text cell that a spreadsheet would run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or
    a line feed is prefixed with an apostrophe, except a plain signed number
    (``-5``, ``+3,5``). Numbers, missing values and other text are returned
    unchanged. Every CSV and XLSX writer of the toolkit goes through
    :func:`escape_frame`, which applies this to whole columns.

    Examples
    --------
    >>> escape_formula('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> escape_formula(-3.5), escape_formula("-3.5"), escape_formula("-2+3")
    (-3.5, '-3.5', "'-2+3")
    """
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def _escape_text_column(s: pd.Series) -> pd.Series:
    """:func:`escape_formula` on a text or object column, vectorised (copy when changed)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    starts = s.str.match(_FORMULA_START)
    if starts.dtype != bool:
        starts = starts.fillna(False).astype(bool)
    if not starts.any():
        return s
    plain = s.str.fullmatch(_PLAIN_NUMBER.pattern)
    if plain.dtype != bool:
        plain = plain.fillna(False).astype(bool)
    hit = starts & ~plain
    if not hit.any():
        return s
    out = s.copy()
    out[hit] = "'" + s[hit].astype(str)
    return out


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Escape every text cell and the column names of ``frame`` (copy).

    Numeric columns (a negative number included) are left as numbers;
    object columns mixing numbers and text have only their text escaped.
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if (
            s.dtype == object
            or pd.api.types.is_string_dtype(s)
            or (isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.dtype == object)
        ):
            out[col] = _escape_text_column(s)
    out.columns = [escape_formula(str(c)) for c in out.columns]
    return out


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a published table as UTF-8 CSV (``,``, ``.`` decimals, no index)."""
    p = Path(path)
    text = escape_frame(frame).to_csv(index=False, lineterminator="\n", float_format="%.10g")
    _atomic_write_bytes(p, text.encode("utf-8"))
    return p


EXCEL_CSV_FOLDER = "tables_excel"
"""Folder of the run holding the tables for French office software (beside ``tables/``)."""


def write_csv_excel(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a published table as a CSV that French office software opens as it is.

    Separator ``;``, decimal comma, UTF-8 with a byte-order mark (so that Excel
    recognises the encoding and shows accents), French column headers and codes
    replaced by their French labels (:mod:`allocation_analysis.labels`),
    booleans as « oui » / « non ». Numbers stay numbers (no thousands separator,
    shares as fractions as in ``tables/``); a masked cell is empty. Text cells
    are escaped against formula injection. The machine-readable CSV of
    ``tables/`` (``,``, decimal point, codes) is the contract for programs and
    is written separately by :func:`write_csv`.

    Parameters
    ----------
    frame : DataFrame
        The published table (already protected by the statistical secret).
    path : str or Path
        Destination file.

    Returns
    -------
    Path
        ``path``.

    References
    ----------
    Microsoft, « Import or export text (.txt or .csv) files »: the list
    separator and decimal symbol of the French regional settings are ``;`` and
    ``,``.
    """
    from allocation_analysis.labels import COLUMN_FR

    out = escape_frame(_french_values(frame))
    out.columns = [escape_formula(COLUMN_FR.get(str(c), str(c))) for c in frame.columns]
    text = out.to_csv(
        index=False, sep=";", decimal=",", lineterminator="\r\n", float_format="%.10g"
    )
    p = Path(path)
    _atomic_write_bytes(p, text.encode("utf-8-sig"))
    return p


def with_landlord_names(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Add the landlords' names next to their SIREN (copy; unchanged without names).

    A column ``nom_bailleur`` is inserted after ``bailleur_siren``, or after
    ``scope_value`` for the rows whose ``scope`` is ``bailleur`` (the other rows
    get an empty name). A SIREN absent from ``names`` keeps an empty name: the
    SIREN itself stays in its column.

    Parameters
    ----------
    frame : DataFrame
        A published table.
    names : mapping
        Landlord name by SIREN (input ``bailleurs``).

    Returns
    -------
    DataFrame
    """
    if not names:
        return frame
    out = frame.copy()
    lookup = {str(k): str(v) for k, v in names.items()}
    if "bailleur_siren" in out.columns:
        after = "bailleur_siren"
        values = out["bailleur_siren"].map(lambda v: lookup.get(str(v), "") if pd.notna(v) else "")
    elif {"scope", "scope_value"} <= set(out.columns) and (out["scope"] == "bailleur").any():
        after = "scope_value"
        is_landlord = out["scope"] == "bailleur"
        values = pd.Series("", index=out.index, dtype=object)
        values[is_landlord] = out.loc[is_landlord, "scope_value"].map(
            lambda v: lookup.get(str(v), "")
        )
    else:
        return frame
    out.insert(out.columns.get_loc(after) + 1, "nom_bailleur", values.astype(object))
    return out


def json_default(obj: Any) -> Any:
    """JSON conversion of numpy/pandas scalars; NaN and missing become ``null``."""
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (pd.Timestamp,)):
        return obj.date().isoformat()
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """Replace float NaN/inf by None recursively (json would write NaN)."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON deterministically (UTF-8, indented, NaN → null)."""
    p = Path(path)
    text = json.dumps(_clean(obj), ensure_ascii=False, indent=2, default=json_default)
    _atomic_write_bytes(p, (text + "\n").encode("utf-8"))
    return p


_PERCENT_COLUMNS = frozenset({"share", "target", "part", "share_qpv", "taux_acces"})
_COUNT_COLUMNS = frozenset(
    {
        "numerator",
        "denominator",
        "n",
        "demandes_actives",
        "demandes_satisfaites",
        "attributions_semestre",
        "lignes",
        "lues",
        "acceptees",
        "rejetees",
        "en_attente",
        "delai_depasse",
        "demandes",
        "attributions_12m",
    }
)


def _number_format(table: pd.DataFrame, column: str) -> str | None:
    """Excel number format of a column: shares as %, ratios with two decimals,
    p-values with three, counts as integers."""
    lc = column.lower()
    shares = any(c in table.columns for c in ("share", "share_qpv", "part"))
    if lc in _PERCENT_COLUMNS or lc.startswith("share") or lc.startswith("taux"):
        return "0.0%"
    if lc in {"ci_low", "ci_high"}:
        return "0.0%" if shares else "0.00"
    if lc.startswith("p_") or lc == "p":
        return "0.000"
    if lc in {"ame", "ame_ci_low", "ame_ci_high"}:
        return "0.0%"
    if lc in {"estimate", "ci_low_adjusted", "ci_high_adjusted", "statistic", "ratio"}:
        return "0.00"
    if lc == "ci_level_adjusted":
        return "0.0%"
    if lc in _COUNT_COLUMNS:
        return "0"
    return None


def _readme_rows(tables: Mapping[str, pd.DataFrame], notice: Mapping[str, str]) -> list[list]:
    from allocation_analysis.labels import SHEET_FR, TABLE_DESCRIPTION_FR

    rows = [["Lisez-moi"], []]
    for key in ("title", "source", "produced"):
        if notice.get(key):
            rows.append([notice[key]])
    rows += [
        [],
        [
            "Cellule vide ou « (secret) »",
            "chiffre masqué par le secret statistique : aucun "
            "effectif de 1 à 10 n'est publié, ni aucun chiffre qui permettrait de le retrouver.",
        ],
        ["Parts et taux", "en pourcentage ; IC = intervalle de confiance."],
        [
            "Codes",
            "les codes (indicateurs, groupes, statuts) sont traduits en clair ; les "
            "fichiers CSV du dossier tables/ gardent les codes pour les traitements.",
        ],
        [
            "Fichiers CSV",
            "le dossier tables_excel/ contient les mêmes tableaux en CSV pour Excel en "
            "français (séparateur « ; », virgule décimale, en-têtes et valeurs en clair) ; "
            "le dossier tables/ contient les fichiers pour les programmes (séparateur « , », "
            "point décimal, codes).",
        ],
        [
            "Bailleurs",
            "nommés quand la table des noms de bailleurs est fournie, sinon désignés par "
            "leur SIREN.",
        ],
        [],
        ["Feuille", "Contenu"],
    ]
    for name in tables:
        rows.append([SHEET_FR.get(name, name)[:31], TABLE_DESCRIPTION_FR.get(name, "")])
    return rows


# Columns whose codes belong to one kind of the catalogue (``bailleur`` is both a scope,
# « par bailleur », and a reservation contingent).
_COLUMN_KIND = {"scope": "scope", "reservataire": "reservataire", "window": "window"}
_TEXT_BOOLEANS = {"True": "oui", "False": "non"}


def _french_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Codes of the catalogue replaced by their French labels, column by column;
    booleans (``True``/``False``, as values or as text read back from a CSV) as
    « oui » / « non »."""
    from allocation_analysis.labels import ALL_CODES, label

    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            vals = pd.Series(s.dropna().astype(str).unique())
            vals = vals[vals != ""]
            if len(vals) and vals.isin(list(_TEXT_BOOLEANS)).all():
                out[col] = s.map(lambda v: _TEXT_BOOLEANS.get(str(v), v) if pd.notna(v) else v)
            elif len(vals) and all(
                all(part in ALL_CODES for part in v.split("|")) for v in vals
            ):  # codes, crossed groups (``hors_ue|qpv``) included
                kind = _COLUMN_KIND.get(str(col))
                mapping = {v: label(v, kind) for v in vals}
                out[col] = s.map(lambda v, m=mapping: m.get(str(v), v) if pd.notna(v) else v)
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.map({True: "oui", False: "non"})
    return out


def write_xlsx(
    tables: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    notice: Mapping[str, str] | None = None,
) -> Path:
    """Write the workbook for French office software.

    A « Lisez-moi » sheet first (what each sheet holds, what a masked cell
    means, the source and date from ``notice``: keys ``title``, ``source``,
    ``produced``), then one sheet per table: French headers and values
    (:mod:`allocation_analysis.labels`), number formats by column (shares as
    %, ratios with two decimals, p-values with three, counts as integers),
    bold frozen header, autofilter, sheet names of at most 31 characters.
    Every text cell is escaped against formula injection. The CSV files of
    ``tables/`` keep the codes and machine-readable numbers (``,`` separator,
    ``.`` decimals) for programs; the workbook and the CSV files of
    ``tables_excel/`` (:func:`write_csv_excel`) are the files for people.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from allocation_analysis.labels import COLUMN_FR, SHEET_FR

    wb = Workbook()
    readme = wb.active
    readme.title = "Lisez-moi"
    for row in _readme_rows(tables, notice or {}):
        readme.append([escape_formula(v) if isinstance(v, str) else v for v in row])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 34
    readme.column_dimensions["B"].width = 100
    for cell in readme["B"]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    used: set[str] = {"Lisez-moi"}
    for name, frame in tables.items():
        title = _sheet_name(SHEET_FR.get(name, name))
        k = 2
        while title in used:
            title = _sheet_name(f"{SHEET_FR.get(name, name)[:27]} ({k})")
            k += 1
        used.add(title)
        ws = wb.create_sheet(title=title)
        safe = escape_frame(_french_values(frame))
        ws.append([COLUMN_FR.get(str(c), str(c)) for c in safe.columns])
        for row in safe.itertuples(index=False):
            ws.append([_xlsx_value(v) for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="3B4A6B")
        ws.freeze_panes = "A2"
        if len(safe.columns):
            ws.auto_filter.ref = ws.dimensions
        for j, col in enumerate(safe.columns, start=1):
            letter = get_column_letter(j)
            header = COLUMN_FR.get(str(col), str(col))
            width = max([len(header)] + [len(str(v)) for v in safe[col].head(200)]) + 2
            ws.column_dimensions[letter].width = min(max(width, 8), 60)
            fmt = _number_format(frame, str(col))
            if fmt:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
        for cell_row in ws.iter_rows(min_row=2):
            for cell in cell_row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.part")
    wb.save(tmp)
    _fix_zip_timestamps(tmp)
    os.replace(tmp, p)
    return p


def _sheet_name(name: str) -> str:
    bad = "[]:*?/\\"
    clean = "".join("_" if c in bad else c for c in name)
    return clean[:31] or "table"


def _xlsx_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return "; ".join(map(str, v))
    return v


def _fix_zip_timestamps(path: Path) -> None:
    """Rewrite an XLSX so that its zip entries carry a fixed timestamp (byte-stable)."""
    import zipfile

    entries = []
    with zipfile.ZipFile(path) as zin:
        for info in zin.infolist():
            entries.append((info.filename, zin.read(info.filename)))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = _strip_core_dates(data)
            zi = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(zi, data)


def _strip_core_dates(data: bytes) -> bytes:
    import re

    return re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", data)


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
