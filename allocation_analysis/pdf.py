"""A4 PDF of the report, printed by a headless Chromium when one is installed.

The run writes ``report.pdf`` beside ``report.html`` with the report's own print
stylesheet (A4, page numbers, tables across the page, headings kept with their
content; see :data:`allocation_analysis.pipeline._PRINT_CSS`). The printer is the
Chromium browser of the operating system, used headless and offline (no proxy is
reachable, the report embeds everything it shows): on Debian or Ubuntu
``apt-get install chromium``, elsewhere Google Chrome or Chromium from the system's
packages. No Python package is needed at run time.

The PDF's creation and modification dates are set to a fixed value (the same
number of bytes, so that the file's cross-reference offsets stay valid): two runs
on the same inputs give the same bytes, as every other published file; the
production date is on the report's cover and in ``manifest.json``.

When no browser is found, or printing fails, the run still succeeds: a French
warning is logged and ``manifest.json`` records ``"pdf": {"produced": false,
"reason": …}``.

The browser is looked up, in order, in the environment variable
``ALLOCATION_ANALYSIS_BROWSER`` (a path or a command name; an empty value means
"no browser": the PDF is then skipped), then as ``chromium``,
``chromium-browser``, ``google-chrome`` and ``google-chrome-stable`` on the
``PATH``.

References
----------
Chromium headless mode, ``--print-to-pdf``:
https://developer.chrome.com/docs/chromium/headless
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from allocation_analysis.text import fmt_int

__all__ = ["BROWSER_ENV", "PdfOutcome", "find_browser", "print_to_pdf"]

log = logging.getLogger(__name__)

BROWSER_ENV = "ALLOCATION_ANALYSIS_BROWSER"
"""Environment variable naming the browser that prints the PDF (empty: no PDF)."""

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass(frozen=True)
class PdfOutcome:
    """What became of the PDF: written or not, why not, how long it took."""

    produced: bool
    reason: str = ""
    browser: str = ""
    seconds: float = 0.0

    def as_manifest(self) -> dict[str, object]:
        """Entry ``pdf`` of ``manifest.json`` (no absolute path: the browser's name only)."""
        out: dict[str, object] = {"produced": self.produced}
        if self.browser:
            out["browser"] = Path(self.browser).name
        if self.reason:
            out["reason"] = self.reason
        return out


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}([^)]*)\)")


def _fix_dates(path: Path) -> None:
    """Replace the PDF's creation and modification dates by a fixed one, same length."""
    data = path.read_bytes()
    fixed = _PDF_DATE.sub(
        lambda m: b"/" + m.group(1) + b" (D:20000101000000" + m.group(2) + b")", data
    )
    if fixed != data:
        path.write_bytes(fixed)


_URI = re.compile(rb"/URI \((file://[^)]*)\)")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_SUBSECTION = re.compile(rb"(\d+) (\d+)[ \t]*\r?\n")


def _relative_links(path: Path, base: Path) -> None:
    """Make the links to the run's own files (``maps/…``) relative to the PDF.

    Chromium writes a relative link of the page as an absolute ``file://`` address:
    here the temporary folder of the run, gone once the output is published, and a
    path that differs from one machine to another. Each such address is replaced by
    the relative one (``maps/x.html``, which PDF readers resolve against the PDF's
    own folder) and the cross-reference table is rewritten with the shifted offsets.
    Other links are left as they are; a file whose structure is not the classic
    cross-reference table that Chromium writes is left unchanged.
    """
    prefix = (base.as_uri().rstrip("/") + "/").encode()
    data = path.read_bytes()
    edits = [
        (m.start(1), m.end(1), m.group(1)[len(prefix) :])
        for m in _URI.finditer(data)
        if m.group(1).startswith(prefix)
    ]
    tail = _STARTXREF.search(data)
    if not edits or tail is None:
        return
    xref = int(tail.group(1))
    if data[xref : xref + 4] != b"xref" or edits[-1][1] > xref:
        return

    def shift(offset: int) -> int:
        return offset - sum(e - s - len(new) for s, e, new in edits if e <= offset)

    out, pos = [], 0
    for start, end, new in edits:
        out += [data[pos:start], new]
        pos = end
    out.append(data[pos:xref])
    table = bytearray(data[xref : tail.start()])
    at = 4 + (1 if table[4:5] == b"\r" else 0) + 1  # past « xref » and its end of line
    while (sub := _SUBSECTION.match(bytes(table), at)) is not None:
        at = sub.end()
        for _ in range(int(sub.group(2))):
            entry = bytes(table[at : at + 20])
            if entry[17:18] == b"n":
                table[at : at + 10] = b"%010d" % shift(int(entry[:10]))
            at += 20
    out += [bytes(table), b"startxref\n%d\n%%%%EOF\n" % shift(xref)]
    path.write_bytes(b"".join(out))


def find_browser() -> str | None:
    """Path of the browser that prints the PDF, or ``None`` when there is none.

    Returns
    -------
    str or None
        ``$ALLOCATION_ANALYSIS_BROWSER`` when set (``None`` when it is empty or
        names nothing executable), else the first of ``chromium``,
        ``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` found on
        the ``PATH``.
    """
    if BROWSER_ENV in os.environ:
        value = os.environ[BROWSER_ENV].strip()
        return shutil.which(value) if value else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_to_pdf(html: Path, pdf: Path, *, timeout: float = 180.0) -> PdfOutcome:
    """Print ``html`` to the A4 file ``pdf`` with a headless browser, never raising.

    Parameters
    ----------
    html : Path
        The rendered report (self-contained HTML).
    pdf : Path
        Destination; written only when printing succeeded (atomically).
    timeout : float
        Seconds allowed to the browser.

    Returns
    -------
    PdfOutcome
        ``produced`` is False, with a French reason, when no browser is found or
        the browser failed; a warning in French is then logged.
    """
    browser = find_browser()
    if browser is None:
        reason = (
            "aucun navigateur Chromium trouvé (paquet « chromium » sous Debian/Ubuntu, "
            f"ou variable {BROWSER_ENV})"
        )
        log.warning("Rapport PDF non produit : %s. Le rapport HTML est complet.", reason)
        return PdfOutcome(False, reason)
    start = time.perf_counter()
    part = pdf.with_name(f".{pdf.name}.part")
    with tempfile.TemporaryDirectory(prefix="aa-pdf-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--proxy-server=127.0.0.1:9",  # offline: the report embeds what it shows
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--no-pdf-header-footer",
            f"--print-to-pdf={part}",
            Path(html).resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(  # noqa: S603 - fixed arguments, no shell
                cmd,
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "HOME": profile},
            )
            ok = proc.returncode == 0 and part.exists() and part.stat().st_size > 0
            why = f"le navigateur a renvoyé le code {proc.returncode}"
        except subprocess.TimeoutExpired:
            ok, why = False, f"le navigateur n'a pas fini en {fmt_int(timeout)} s"
        except OSError as exc:
            ok, why = False, f"le navigateur n'a pas pu être lancé ({exc.strerror or exc})"
    seconds = round(time.perf_counter() - start, 2)
    if not ok:
        part.unlink(missing_ok=True)
        log.warning("Rapport PDF non produit : %s. Le rapport HTML est complet.", why)
        return PdfOutcome(False, why, browser, seconds)
    _fix_dates(part)
    try:
        _relative_links(part, Path(html).resolve().parent)
    except (ValueError, IndexError):  # an unexpected file structure: links left absolute
        log.warning("Liens du rapport PDF laissés tels que le navigateur les a écrits.")
    os.replace(part, pdf)
    log.info("Rapport PDF (A4) écrit : %s (%.1f s)", pdf.name, seconds)
    return PdfOutcome(True, "", browser, seconds)
