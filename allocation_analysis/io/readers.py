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
import logging
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocation_analysis.errors import InputError

__all__ = [
    "TEXT_DTYPE",
    "MultilineRecord",
    "RaggedRow",
    "ReadInfo",
    "check_regular_file",
    "read_table",
]

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
    """A CSV record whose number of fields differs from the header's.

    ``text`` is the record as read (kept in memory only, to recover the key of
    the rejected row; never written).
    """

    source_row: int
    n_fields: int
    expected: int
    text: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class MultilineRecord:
    """A CSV record that does not end with its line.

    A quoted field opened on line ``source_row`` is not closed on that line,
    so the CSV reader would continue it over the following lines, up to
    ``last_row`` (the line holding the next quote), merging them into one
    record. Two cases:

    - ``whole=False`` (a stray quote): the next quote opens a field of line
      ``last_row`` (it follows a separator), so the lines after ``source_row``
      are records of their own. Only line ``source_row`` is rejected; the
      others are read one by one.
    - ``whole=True`` (a field really spanning lines): the next quote ends a
      field, so lines ``source_row`` to ``last_row`` are pieces of one record.
      Every one of them is rejected.

    ``text`` is the first line as read (in memory only, never written).
    """

    source_row: int
    last_row: int
    whole: bool = False
    text: str = field(default="", repr=False, compare=False)

    @property
    def rows(self) -> range:
        """The rejected lines."""
        return range(self.source_row, (self.last_row if self.whole else self.source_row) + 1)


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
    multiline : tuple of MultilineRecord
        CSV lines holding a quote that is not closed on the line; not in the
        frame, counted as rows read and rejected by the loader.
    numeric : dict of str to ndarray
        XLSX and Parquet only: for each column holding cells stored as numbers,
        the source rows of those cells (an identifier stored as a number may
        have lost its leading zeros).
    nul : dict of str to ndarray
        For each column holding cells with a NUL character, the source rows of
        those cells (a NUL would cut the value short in later conversions).
    """

    path: Path
    format: str
    encoding: str | None = None
    sep: str | None = None
    sheet: str | int | None = None
    ragged: tuple[RaggedRow, ...] = field(default_factory=tuple)
    multiline: tuple[MultilineRecord, ...] = field(default_factory=tuple)
    numeric: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    nul: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_ragged(self) -> int:
        """Number of ragged records (wrong number of fields, unclosed quote) left out."""
        return len(self.ragged)

    @property
    def n_unread(self) -> int:
        """Rows read that are not in the frame (ragged records, unclosed quotes)."""
        return len(self.ragged) + sum(len(r.rows) for r in self.multiline)


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
    check_regular_file(p)
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


def check_regular_file(p: Path, *, directory_ok: bool = False) -> None:
    """Refuse, before opening it, a path that is not an ordinary file.

    A named pipe (FIFO) would block the reader forever and a device
    (``/dev/zero``, a terminal) would never end; only the file's metadata is
    read here (``stat``), which never blocks.

    Parameters
    ----------
    p : Path
        The path given by the user.
    directory_ok : bool
        Accept a folder too (a shapefile given as its folder).

    Raises
    ------
    InputError
        Missing path, folder (unless ``directory_ok``), or anything other
        than a regular file (FIFO, device, socket).
    """
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise InputError("Fichier introuvable.", file=str(p), rule="fichier_introuvable") from None
    except OSError as exc:
        raise InputError(
            f"Fichier illisible ({exc.strerror}).", file=str(p), rule="fichier_illisible"
        ) from None
    if stat.S_ISDIR(mode):
        if directory_ok:
            return
        raise InputError(
            "Un fichier était attendu, c'est un dossier.", file=str(p), rule="fichier_illisible"
        )
    if not stat.S_ISREG(mode):
        raise InputError(
            "Ce chemin n'est pas un fichier ordinaire (tube nommé, périphérique ou socket) : "
            "il ne peut pas être lu comme un fichier de données. Donnez le chemin d'un "
            "fichier CSV, XLSX ou Parquet enregistré sur le disque.",
            file=str(p),
            rule="fichier_non_ordinaire",
        )


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
    """Control characters (NUL included) in more than 1 % of the first 64 KiB.

    A few stray NUL bytes in a text export are row rejects (rule
    ``caractere_nul``), not a reason to refuse the file.
    """
    sample = raw[:65536]
    controls = sum(sample.count(bytes([c])) for c in range(32) if c not in (9, 10, 13))
    return controls > max(2, len(sample) // 100)


def _detect_sep(header_line: str) -> str:
    counts = {s: header_line.count(s) for s in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _read_csv(p: Path, *, encoding: str | None, sep: str | None) -> tuple[pd.DataFrame, ReadInfo]:
    import pyarrow as pa

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

    if text is None:
        data = raw
        start = len(raw) if end < 0 else end + 1
    else:
        data = text.encode("utf-8")
        del text
        nl = data.find(b"\n")
        start = len(data) if nl < 0 else nl + 1
    del raw
    has_nul = data.find(b"\x00", start) >= 0  # memchr: no cost on a clean file
    try:
        table, lines, ragged, multiline = _parse_csv_body(data, start, names, sep)
    except pa.ArrowInvalid:  # its text may quote a line of data: not shown
        raise InputError(
            "Fichier CSV illisible (structure non reconnue par le lecteur CSV).",
            file=str(p),
            rule="fichier_illisible",
        ) from None
    del data
    df = table.to_pandas(types_mapper={pa.string(): TEXT_DTYPE}.get)
    del table
    df.columns = names
    df.index = pd.Index(lines, name="source_row")
    df = _drop_blank_rows(df)
    nul = _nul_cells(df) if has_nul else {}
    # A line with only separators is blank too; a line with nothing at all already
    # comes back as a row of empty strings (one field, expanded by the reader).
    info = ReadInfo(
        path=p,
        format="csv",
        encoding=used_encoding,
        sep=sep,
        ragged=tuple(ragged),
        multiline=tuple(multiline),
        nul=nul,
    )
    logger.debug("read %s: %d rows, encoding %s, sep %r", p, len(df), used_encoding, sep)
    return df, info


# One CSV record is one physical line: the exports this toolkit reads never hold
# a quoted field spanning several lines, so a line break inside a parsed field
# means a quote left open (a stray ``"`` typed at the start of a free-text
# field), which would silently merge the following lines into one record.
_CHUNK = 1 << 24


def _count_lines(data: bytes, start: int, stop: int) -> int:
    """Physical lines of ``data[start:stop]`` (``\\n``, ``\\r\\n`` or a lone ``\\r`` end one)."""
    if stop <= start:
        return 0
    a = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
    n_lf = n_cr = n_crlf = 0
    for i in range(0, len(a), _CHUNK):
        c = a[i : i + _CHUNK + 1]  # one byte of overlap for a CR LF split by the chunk
        head = c[:_CHUNK]
        n_lf += int(np.count_nonzero(head == 10))
        cr = head == 13
        k = int(np.count_nonzero(cr))
        if k:
            n_cr += k
            n_crlf += int(np.count_nonzero(cr[: len(c) - 1] & (c[1 : len(head) + 1] == 10)))
    last = a[-1]
    return n_lf + n_cr - n_crlf + (0 if last in (10, 13) else 1)


def _line_starts(data: bytes, start: int, stop: int) -> np.ndarray:
    """Offset (in ``data``) of the first byte of each physical line of ``data[start:stop]``."""
    a = np.frombuffer(data, dtype=np.uint8, count=stop - start, offset=start)
    ends: list[np.ndarray] = []
    for i in range(0, len(a), _CHUNK):
        c = a[i : i + _CHUNK + 1]
        head = c[:_CHUNK]
        lf = np.flatnonzero(head == 10)
        cr = np.flatnonzero(head == 13)
        if len(cr):
            nxt = cr + 1
            follows_lf = np.zeros(len(cr), dtype=bool)
            inside = nxt < len(c)
            follows_lf[inside] = c[nxt[inside]] == 10
            lf = np.union1d(lf, cr[~follows_lf])
        ends.append(lf + i)
    term = np.concatenate(ends) if ends else np.empty(0, dtype=np.int64)
    starts = np.concatenate([[0], term + 1]).astype(np.int64) + start
    return starts[starts < stop]


def _quote_opens_field(line: bytes, sep: str) -> bool:
    """The first quote of ``line`` (not a doubled ``""``) begins a field.

    That quote is the one that closed the field left open on an earlier line.
    When it follows a separator (or starts the line), it was meant to open a
    field of this line: the earlier quote was a stray one. Otherwise it ends
    a field that really spans several lines.
    """
    i = line.find(b'"')
    while 0 <= i < len(line) - 1 and line[i + 1 : i + 2] == b'"':
        i = line.find(b'"', i + 2)
    if i < 0:
        return True
    before = line[:i].rstrip(b" ")
    return before == b"" or before.endswith(sep.encode("utf-8"))


def _n_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _arrow_parse(
    data: bytes, start: int, stop: int, names: list[str], sep: str
) -> tuple[object, list[tuple[int, int, str]]]:
    """Parse ``data[start:stop]`` (no header) as text columns; ragged records aside.

    Returns the Arrow table and, for each ragged record, its record number
    (1-based, in the segment), its number of fields and its text.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ragged: list[tuple[int, int, str]] = []
    if stop <= start:
        return pa.table({n: pa.array([], pa.string()) for n in names}), ragged

    def on_invalid(row: object) -> str:
        ragged.append((int(row.number), int(row.actual_columns), str(row.text)))  # type: ignore[attr-defined]
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(data).slice(start, stop - start)),
        read_options=pacsv.ReadOptions(use_threads=False, column_names=names),
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
    return table, ragged


def _parse_segment(
    data: bytes,
    start: int,
    stop: int,
    first_line: int,
    names: list[str],
    sep: str,
    *,
    sentinel: bool,
) -> tuple[object, np.ndarray, list[RaggedRow], list[MultilineRecord], list[tuple[int, int, int]]]:
    """Parse the lines ``data[start:stop]``, the first being line ``first_line``.

    Returns the records that are exactly one line (table and line numbers),
    the ragged one-line records, the lines whose quote stays open, and the
    segments still to parse (the lines those quotes swallowed), as
    ``(start, stop, first_line)``. With ``sentinel``, a quote left open on the
    segment's last line is detected too (a closing quote is appended to a copy
    of the segment).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n_lines = _count_lines(data, start, stop)
    buf, b_start, b_stop = data, start, stop
    if sentinel and n_lines:
        seg = data[start:stop]
        if seg[-1:] not in (b"\n", b"\r"):
            seg += b"\n"
        buf, b_start = seg + b'"', 0
        b_stop = len(buf)
    table, ragged_raw = _arrow_parse(buf, b_start, b_stop, names, sep)
    expected = len(names)
    n_records = table.num_rows + len(ragged_raw)
    if not sentinel and n_records == n_lines:  # the common case: one record per line
        lines = np.arange(first_line, first_line + n_records, dtype=np.int64)
        bad = np.array([r[0] for r in ragged_raw], dtype=np.int64) + first_line - 1
        ragged = [RaggedRow(int(r[0]) + first_line - 1, r[1], expected, r[2]) for r in ragged_raw]
        if len(bad):
            lines = lines[~np.isin(lines, bad)]
        return table, lines, ragged, [], []

    # Line breaks inside each record, in record order.
    is_ragged = np.zeros(n_records, dtype=bool)
    rag_pos = np.array([r[0] - 1 for r in ragged_raw], dtype=np.int64)
    is_ragged[rag_pos] = True
    valid_breaks = np.zeros(table.num_rows, dtype=np.int64)
    for col in table.columns:
        counts = [
            pc.count_substring(col, x).to_numpy(zero_copy_only=False) for x in ("\n", "\r", "\r\n")
        ]
        valid_breaks += counts[0] + counts[1] - counts[2]
    breaks = np.zeros(n_records, dtype=np.int64)
    breaks[~is_ragged] = valid_breaks
    breaks[rag_pos] = [_n_breaks(r[2]) for r in ragged_raw]
    rec_line = first_line + np.concatenate([[0], np.cumsum(breaks + 1)[:-1]]).astype(np.int64)
    last_line = first_line + n_lines - 1
    real = rec_line <= last_line  # the sentinel's own record lies beyond the segment
    merged = (breaks > 0) & real
    one_line = ~merged & real

    keep_valid = one_line[~is_ragged]
    out_table = table.filter(pa.array(keep_valid)) if not keep_valid.all() else table
    lines = rec_line[~is_ragged][keep_valid]
    ragged = [
        RaggedRow(int(rec_line[r[0] - 1]), r[1], expected, r[2])
        for r in ragged_raw
        if one_line[r[0] - 1]
    ]
    multiline: list[MultilineRecord] = []
    todo: list[tuple[int, int, int]] = []
    if merged.any():
        starts = _line_starts(data, start, stop)
        for m in np.flatnonzero(merged):
            line = int(rec_line[m])
            last = min(line + int(breaks[m]), last_line)
            k = line - first_line
            line_end = int(starts[k + 1]) if k + 1 < len(starts) else stop
            text = data[int(starts[k]) : line_end].decode("utf-8", "replace").rstrip("\r\n")
            j = last - first_line
            seg_end = int(starts[j + 1]) if j + 1 < len(starts) else stop
            whole = last > line and not _quote_opens_field(data[int(starts[j]) : seg_end], sep)
            multiline.append(MultilineRecord(line, last, whole, text))
            if last > line and not whole:
                todo.append((line_end, seg_end, line + 1))
    return out_table, lines, ragged, multiline, todo


def _parse_csv_body(
    data: bytes, start: int, names: list[str], sep: str
) -> tuple[object, np.ndarray, list[RaggedRow], list[MultilineRecord]]:
    """Parse the data lines of a CSV file (``data[start:]``, line 2 onwards).

    Every physical line is one record. A line whose quoted field is not closed
    on the line would make the CSV reader merge the following lines into one
    field; such a line is reported as a :class:`MultilineRecord` (rejected by
    the loader) and the lines it swallowed are parsed again, one record per
    line, so no row vanishes and every row keeps its line number. The first
    parse costs nothing more than the line count (a vectorised byte count);
    re-parsing happens only around unclosed quotes.

    Returns
    -------
    table : pyarrow.Table
        The one-line records with the header's number of fields, in line order.
    lines : ndarray of int64
        Their line numbers (header = 1).
    ragged : list of RaggedRow
        One-line records with another number of fields.
    multiline : list of MultilineRecord
        Lines with an unclosed quote.
    """
    import pyarrow as pa

    table, lines, ragged, multiline, todo = _parse_segment(
        data, start, len(data), 2, names, sep, sentinel=False
    )
    tables, all_lines = [table], [lines]
    while todo:
        s, e, first = todo.pop()
        t, ln, rg, ml, more = _parse_segment(data, s, e, first, names, sep, sentinel=True)
        tables.append(t)
        all_lines.append(ln)
        ragged.extend(rg)
        multiline.extend(ml)
        todo.extend(more)
    if len(tables) > 1:
        table = pa.concat_tables(tables)
        lines = np.concatenate(all_lines)
        order = np.argsort(lines, kind="stable")
        table = table.take(pa.array(order))
        lines = lines[order]
    ragged.sort(key=lambda r: r.source_row)
    multiline.sort(key=lambda r: r.source_row)
    return table, lines, ragged, multiline


# A header cell made of digits and punctuation only (an identifier, an amount, a
# date) is a value, not a column name: the export has no header line.
_DATA_LIKE = re.compile(r"^[\s+\-]*\d[\d\s.,/:\-]*$")


def _check_header(p: Path, names: list[str]) -> None:
    if all(n == "" for n in names):
        raise InputError("La ligne d'en-tête est vide.", file=str(p), rule="en_tete")
    data_like = sum(bool(_DATA_LIKE.match(n)) for n in names)
    if data_like:
        # never echo the cells: on a headerless export they are the first data row
        raise InputError(
            f"La première ligne ne ressemble pas à un en-tête : sur {len(names)} colonne(s) "
            f"trouvée(s), {data_like} ont pour nom un nombre ou une date, comme une ligne de "
            "données. Le fichier doit commencer par la ligne des noms de colonnes "
            "(par exemple num_unique, date_depot …) ; ajoutez-la ou exportez-la.",
            file=str(p),
            rule="en_tete_absent",
        )
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


def _nul_cells(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Source rows of the cells holding a NUL character, per column (Arrow kernels)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, np.ndarray] = {}
    for col in df.columns:
        arr = pa.array(df[col].astype(TEXT_DTYPE).array)
        hit = pc.fill_null(pc.match_substring(arr, "\x00"), False).to_numpy(zero_copy_only=False)
        if hit.any():
            out[col] = df.index.to_numpy()[hit]
    return out


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
    numeric = {
        n: df.index.to_numpy()[raw[c].notna().to_numpy()]
        for n, c in zip(names, raw.columns, strict=True)
        if pd.api.types.is_numeric_dtype(raw[c]) and not pd.api.types.is_bool_dtype(raw[c])
    }
    df = _drop_blank_rows(df)
    return df, ReadInfo(path=p, format="parquet", numeric=numeric, nul=_nul_cells(df))


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
    numeric = {}
    for i, n in enumerate(names):
        is_num = body.iloc[:, i].map(_is_number).to_numpy(dtype=bool)
        if is_num.any():
            numeric[n] = df.index.to_numpy()[is_num]
    df = _drop_blank_rows(df)
    info = ReadInfo(path=p, format="xlsx", sheet=sheet_name, numeric=numeric, nul=_nul_cells(df))
    return df, info


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_
    )
