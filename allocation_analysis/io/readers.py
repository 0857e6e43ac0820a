"""Read a tabular input file (CSV, Parquet, XLSX) as text, whatever its quirks.

Every cell is read as a string first so that nothing is interpreted behind the
user's back: ``59009`` stays ``"59009"``, ``2A004`` survives and leading zeros
are kept. Conversion to typed columns happens afterwards, column by column,
according to the table's schema (:mod:`allocation_analysis.io.parsing`).

Rows are indexed by their *source row*: the row number as a spreadsheet shows
it (header = row 1, first data row = row 2). Blank lines are not records: they
are skipped and not counted, but row numbers still count them, so that a row
number always points at the right line of the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocation_analysis.errors import InputError

__all__ = ["TEXT_DTYPE", "RaggedRow", "ReadInfo", "read_table"]

TEXT_DTYPE = pd.StringDtype("pyarrow")
"""dtype of the text frames: Arrow-backed, so string operations are vectorised."""

logger = logging.getLogger(__name__)

_CSV_SUFFIXES = {".csv", ".txt", ".tsv", ".tab"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_SEPARATORS = (";", ",", "\t")
# A lead byte followed by continuation bytes: evidence that a file was written in UTF-8.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


@dataclass(frozen=True)
class RaggedRow:
    """A CSV record whose number of fields differs from the header's."""

    source_row: int
    n_fields: int
    expected: int


@dataclass(frozen=True)
class ReadInfo:
    """How a file was read.

    Attributes
    ----------
    path : Path
        The file.
    format : str
        ``"csv"``, ``"parquet"`` or ``"xlsx"``.
    encoding : str or None
        Text encoding used (CSV only).
    sep : str or None
        Field separator used (CSV only).
    sheet : str or int or None
        Sheet read (XLSX only).
    ragged : tuple of RaggedRow
        CSV records with too few or too many fields; they are not in the frame
        but count as rows read (and are rejected by the loader).
    """

    path: Path
    format: str
    encoding: str | None = None
    sep: str | None = None
    sheet: str | int | None = None
    ragged: tuple[RaggedRow, ...] = field(default_factory=tuple)

    @property
    def n_ragged(self) -> int:
        return len(self.ragged)


def read_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    sep: str | None = None,
) -> tuple[pd.DataFrame, ReadInfo]:
    """Read a CSV, Parquet or XLSX file with every cell as a string.

    Parameters
    ----------
    path : str or Path
        The file. The format follows the extension (``.csv``/``.txt``/``.tsv``,
        ``.parquet``, ``.xlsx``); an unknown extension is recognised from the
        file's first bytes.
    sheet : str or int, optional
        XLSX sheet name or 0-based position (default: the first sheet).
    encoding : str, optional
        CSV text encoding. When omitted: UTF-8 with a byte-order mark, else
        UTF-8 if the bytes decode as UTF-8, else Windows-1252 (Latin-1 for the
        five bytes Windows-1252 leaves undefined). A file mixing UTF-8
        sequences and bytes invalid in UTF-8 is refused rather than guessed.
    sep : str, optional
        CSV field separator. When omitted, the most frequent of ``;``, ``,``
        and tab in the header line.

    Returns
    -------
    DataFrame
        One column per header cell (header text stripped of surrounding
        spaces), values as text (:data:`TEXT_DTYPE`; missing cells are
        ``""``), index = source row number (``int64``, named ``source_row``).
    ReadInfo
        How the file was read, including ragged CSV records.

    Raises
    ------
    InputError
        Missing, unreadable, empty or binary file; undecodable text; duplicate
        or empty header; unknown sheet. The message (in French) names the file.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("Fichier introuvable.", file=str(p), rule="fichier_introuvable")
    if p.is_dir():
        raise InputError(
            "Un fichier était attendu, c'est un dossier.", file=str(p), rule="fichier_illisible"
        )
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(
            f"Fichier illisible ({exc.strerror}).", file=str(p), rule="fichier_illisible"
        ) from None
    fmt = _detect_format(p, head)
    if fmt == "parquet":
        return _read_parquet(p)
    if fmt == "xlsx":
        return _read_excel(p, sheet)
    if fmt == "xls":
        raise InputError(
            "Le format Excel 97-2003 (.xls) n'est pas pris en charge : enregistrez le "
            "fichier au format .xlsx ou CSV.",
            file=str(p),
            rule="format_non_pris_en_charge",
        )
    return _read_csv(p, encoding=encoding, sep=sep)


def _detect_format(p: Path, head: bytes) -> str:
    suffix = p.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _EXCEL_SUFFIXES:
        return "xlsx"
    if suffix == ".xls":
        return "xls"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    return "csv"


# --------------------------------------------------------------------------- CSV


def _decode(p: Path, raw: bytes, encoding: str | None) -> tuple[str, str]:
    """Decode the bytes of a CSV file; return (text, encoding name)."""
    if encoding is not None:
        try:
            text = raw.decode(encoding)
        except LookupError:
            raise InputError(
                f"Encodage inconnu : « {encoding} ».", file=str(p), rule="encodage"
            ) from None
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError(
                f"Le fichier ne peut pas être lu avec l'encodage déclaré « {encoding} » "
                f"(octet invalide ligne {line}).",
                file=str(p),
                rows=(line,),
                rule="encodage",
            ) from None
        return text.removeprefix("\ufeff"), encoding
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    if encoding is not None:
        return _decode(p, raw, encoding)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(raw):
            line = raw[: exc.start].count(b"\n") + 1
            raise InputError(
                "Encodage incohérent : le fichier contient des caractères UTF-8 et des octets "
                f"invalides en UTF-8 (ligne {line}). Réenregistrez-le en UTF-8, ou déclarez "
                "son encodage.",
                file=str(p),
                rows=(line,),
                rule="encodage",
            ) from None
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _utf8_body_start(raw: bytes, encoding: str | None) -> int | None:
    """Offset of the header in ``raw`` when the file is valid UTF-8, else ``None``.

    Applies when no encoding is declared (and no UTF-16/32 byte-order mark is
    present) or when UTF-8 is declared. The check decodes the bytes in chunks,
    so no decoded copy of the whole file is kept. ``None`` sends the caller to
    :func:`_decode`, which detects the encoding or reports the invalid byte.
    """
    if encoding is not None:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            return None
        if name not in ("utf-8", "utf-8-sig"):
            return None
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return None
    start = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    chunk = 1 << 24
    try:
        for i in range(start, len(raw), chunk):
            decoder.decode(view[i : i + chunk], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    finally:
        view.release()
    n = len(raw)
    while start < n and raw[start] in (0x0D, 0x0A):  # leading blank lines are not a header
        start += 1
    return start


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:65536]
    if b"\x00" in sample:
        return True
    controls = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    return controls > max(2, len(sample) // 100)


def _detect_sep(header_line: str) -> str:
    counts = {s: header_line.count(s) for s in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _read_csv(p: Path, *, encoding: str | None, sep: str | None) -> tuple[pd.DataFrame, ReadInfo]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Fichier illisible ({exc.strerror}).", file=str(p), rule="fichier_illisible"
        ) from None
    if not raw or raw.isspace():  # no stripped copy of the whole file
        raise InputError("Le fichier est vide.", file=str(p), rule="fichier_vide")
    if not raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")) and _looks_binary(raw):
        raise InputError(
            "Le fichier ne ressemble pas à un fichier texte CSV (contenu binaire). "
            "Formats acceptés : CSV, XLSX, Parquet.",
            file=str(p),
            rule="fichier_binaire",
        )
    body_start = _utf8_body_start(raw, encoding)
    if body_start is not None:
        # Valid UTF-8: the bytes go to the CSV reader as they are (no decoded copy
        # of the whole file, no re-encoded one).
        used_encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
        if encoding is not None:
            used_encoding = encoding
        end = raw.find(b"\n", body_start)
        first_line = raw[body_start : len(raw) if end < 0 else end].decode("utf-8")
        text = None
    else:
        text, used_encoding = _decode(p, raw, encoding)
        raw = b""
        text = text.lstrip("\r\n")  # leading blank lines are not a header
        end = text.find("\n")
        first_line = text if end < 0 else text[:end]
    sep = sep or _detect_sep(first_line)
    try:
        header = next(csv.reader([first_line.rstrip("\r")], delimiter=sep))
    except csv.Error as exc:
        raise InputError(
            f"En-tête illisible ({exc}).", file=str(p), rule="fichier_illisible"
        ) from None
    names = [h.strip() for h in header]
    if len(names) == 1:
        others = [s for s in _SEPARATORS if s != sep and s in first_line]
        if others:
            raise InputError(
                f"Une seule colonne lue avec le séparateur « {sep!r} » alors que l'en-tête "
                f"contient « {others[0]!r} » : vérifiez le séparateur.",
                file=str(p),
                rule="separateur",
            )
    _check_header(p, names)

    ragged: list[RaggedRow] = []

    def on_invalid(row: object) -> str:
        ragged.append(RaggedRow(int(row.number), int(row.actual_columns), len(names)))  # type: ignore[attr-defined]
        return "skip"

    if text is None:
        source = pa.BufferReader(pa.py_buffer(raw).slice(body_start))
    else:
        source = io.BytesIO(text.encode("utf-8"))
        del text
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"Fichier CSV illisible ({exc}).", file=str(p), rule="fichier_illisible"
        ) from None
    df = table.to_pandas(types_mapper={pa.string(): TEXT_DTYPE}.get)
    df.columns = names
    n_total = len(df) + len(ragged)
    bad_rows = {r.source_row for r in ragged}
    all_rows = np.arange(2, n_total + 2, dtype=np.int64)
    if bad_rows:
        all_rows = all_rows[~np.isin(all_rows, np.fromiter(bad_rows, dtype=np.int64))]
    df.index = pd.Index(all_rows, name="source_row")
    df = _drop_blank_rows(df)
    # A line with only separators is blank too; a line with nothing at all already
    # comes back as a row of empty strings (one field, expanded by the reader).
    info = ReadInfo(
        path=p,
        format="csv",
        encoding=used_encoding,
        sep=sep,
        ragged=tuple(sorted(ragged, key=lambda r: r.source_row)),
    )
    logger.debug("read %s: %d rows, encoding %s, sep %r", p, len(df), used_encoding, sep)
    return df, info


def _check_header(p: Path, names: list[str]) -> None:
    if all(n == "" for n in names):
        raise InputError("La ligne d'en-tête est vide.", file=str(p), rule="en_tete")
    empty = [i + 1 for i, n in enumerate(names) if n == ""]
    if empty:
        raise InputError(
            f"Colonne(s) sans nom dans l'en-tête (position {', '.join(map(str, empty))}).",
            file=str(p),
            rule="en_tete",
        )
    seen: set[str] = set()
    dup = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dup:
        raise InputError(
            f"Colonne(s) en double dans l'en-tête : {', '.join(dup)}.",
            file=str(p),
            column=dup[0],
            rule="en_tete",
        )


def _drop_blank_rows(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or df.shape[1] == 0:
        return df
    blank = np.ones(len(df), dtype=bool)
    for col in df.columns:
        blank &= (df[col] == "").to_numpy(dtype=bool, na_value=True)
        if not blank.any():
            return df
    for col in df.columns:  # rare: only rows of empty fields reach this point
        blank &= (df[col].str.strip() == "").to_numpy(dtype=bool, na_value=True)
    return df.loc[~blank] if blank.any() else df


# ------------------------------------------------------------------ Parquet / XLSX


def _cell_to_text(v: object) -> str:
    """Text of one spreadsheet cell (dates as ISO, integers without ``.0``)."""
    if v is None or v is pd.NaT:
        return ""
    if isinstance(v, float):
        if v != v:
            return ""
        return repr(v)
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, dt.datetime | pd.Timestamp):
        if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0):
            return v.strftime("%Y-%m-%d")
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v).strip()


def _series_to_text(s: pd.Series) -> pd.Series:
    """Vectorised conversion of a typed column to text (Parquet)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        has_time = bool(((s.dt.normalize() != s) & s.notna()).any())
        out = s.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
        return out.fillna("").astype(object)
    if pd.api.types.is_bool_dtype(s):
        return s.map({True: "true", False: "false"}).fillna("").astype(object)
    if pd.api.types.is_integer_dtype(s):
        return s.astype("string").fillna("").astype(object)
    if pd.api.types.is_float_dtype(s):
        return s.map(_cell_to_text).astype(object)
    return s.map(_cell_to_text).astype(object)


def _read_parquet(p: Path) -> tuple[pd.DataFrame, ReadInfo]:
    try:
        raw = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several unrelated types on a corrupt file
        raise InputError(
            f"Fichier Parquet illisible ({type(exc).__name__}: {exc}).",
            file=str(p),
            rule="fichier_illisible",
        ) from None
    raw = raw.reset_index(drop=True)
    names = [str(c).strip() for c in raw.columns]
    _check_header(p, names)
    df = pd.DataFrame(
        {
            n: _series_to_text(raw[c]).astype(TEXT_DTYPE)
            for n, c in zip(names, raw.columns, strict=True)
        }
    )
    df.index = pd.Index(np.arange(2, len(df) + 2, dtype=np.int64), name="source_row")
    return _drop_blank_rows(df), ReadInfo(path=p, format="parquet")


def _read_excel(p: Path, sheet: str | int | None) -> tuple[pd.DataFrame, ReadInfo]:
    sheet_name: str | int = 0 if sheet is None else sheet
    try:
        raw = pd.read_excel(p, sheet_name=sheet_name, header=None, dtype=object, engine="openpyxl")
    except ValueError as exc:
        msg = str(exc)
        if "Worksheet" in msg or "not found" in msg:
            raise InputError(
                f"Feuille « {sheet_name} » introuvable dans le classeur.",
                file=str(p),
                rule="feuille_introuvable",
            ) from None
        raise InputError(
            f"Classeur illisible ({msg}).", file=str(p), rule="fichier_illisible"
        ) from None
    except IndexError:
        raise InputError(
            f"Feuille n° {sheet_name} introuvable dans le classeur.",
            file=str(p),
            rule="feuille_introuvable",
        ) from None
    except Exception as exc:  # zip/xml errors from openpyxl
        raise InputError(
            f"Classeur XLSX illisible ({type(exc).__name__}: {exc}).",
            file=str(p),
            rule="fichier_illisible",
        ) from None
    if raw.empty:
        raise InputError("La feuille est vide.", file=str(p), rule="fichier_vide")
    names = [_cell_to_text(v) for v in raw.iloc[0].tolist()]
    # Trailing unnamed, empty columns are formatting leftovers.
    while names and names[-1] == "" and raw.iloc[1:, len(names) - 1].isna().all():
        names.pop()
    _check_header(p, names)
    body = raw.iloc[1:, : len(names)]
    df = pd.DataFrame(
        {n: body.iloc[:, i].map(_cell_to_text).astype(TEXT_DTYPE) for i, n in enumerate(names)}
    )
    df.index = pd.Index(np.arange(2, len(df) + 2, dtype=np.int64), name="source_row")
    return _drop_blank_rows(df), ReadInfo(path=p, format="xlsx", sheet=sheet_name)
