"""The semi-annual run: validate, prepare, execute the notebooks, publish atomically.

Flow (docs/data-model.md): raw files → :mod:`allocation_analysis.io` (validated,
pseudonymised) → :mod:`allocation_analysis.derive` → notebooks executed by
papermill (they call :mod:`indicators`, :mod:`stats`, :mod:`maps`) → report,
tables, results.json, manifest.json.

Guarantees:

- **Atomic output.** Everything is written to a temporary folder next to the
  final one and moved to ``OUTPUT/<territory>/<period>/`` only when complete; the
  previous good output is replaced only then. A failed run leaves the previous
  output untouched, keeps the failed executed notebook and ``run.log`` in a
  ``failed-<period>-<timestamp>`` folder named in the error, and exits with 3.
- **One run at a time** per output folder (an exclusive lock file).
- **Private working data** (pseudonymised frames) live in ``_work/`` inside the
  temporary folder and are deleted before publication.
- **Deterministic**: same inputs, parameters and seed ⇒ every published file
  byte-identical, wherever the output folder is, except the timing fields of
  ``manifest.json`` listed in :data:`MANIFEST_TIMING_FIELDS` (and named in the
  manifest under ``timing_fields``): ``started_utc``, ``finished_utc`` and
  ``timings_seconds``. The executed notebooks carry no execution timestamps and
  no absolute path (their folders are passed as relative paths), ``run.log``
  no clock time, duration or absolute path, and map element ids are numbered
  (:func:`allocation_analysis.maps.render_map`).
- **One period, resolved as ``validate`` does**: ``auto`` is the last complete
  semester covered by the data and an explicit one must overlap it
  (:func:`allocation_analysis.io.validate.data_period`); the inputs are loaded by
  :func:`allocation_analysis.io.validate.load_checked` (thresholds of the chosen
  EPCI, for the years of the period only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import fields
from importlib import metadata
from pathlib import Path
from typing import Any

from allocation_analysis.config import AnalysisConfig, InputPaths, Period, typed_parameters
from allocation_analysis.errors import AnalysisError, InputError, UsageError
from allocation_analysis.outputs import (
    EXCEL_CSV_FOLDER,
    sha256_file,
    with_landlord_names,
    write_csv,
    write_csv_excel,
    write_json,
    write_xlsx,
)

__all__ = [
    "MANIFEST_TIMING_FIELDS",
    "NOTEBOOKS",
    "KERNEL_NAME",
    "demo_command",
    "run_analysis",
    "run_command",
]

log = logging.getLogger(__name__)

NOTEBOOKS = (
    "01_donnees.ipynb",
    "02_indicateurs_cia.ipynb",
    "03_disparites.ipynb",
    "04_processus.ipynb",
    "00_synthese.ipynb",
)
"""The notebooks in execution order. The synthesis runs last (it reads the published
tables of the others) and opens the report (:func:`report_order`)."""

PROCESS_NOTEBOOK = "04_processus.ipynb"
"""The allocation process stage by stage: run only when the inputs hold propositions."""


def notebooks_to_run(inputs: Any) -> tuple[str, ...]:
    """The notebooks of a run, in execution order (:data:`NOTEBOOKS`).

    The process notebook needs the ``propositions`` file: without it (the
    loaded ``inputs`` have no ``propositions``, or ``None``) it is not run and
    the report has no process chapter.
    """
    has = getattr(inputs, "propositions", None) is not None
    return tuple(nb for nb in NOTEBOOKS if has or nb != PROCESS_NOTEBOOK)


def report_order(notebooks: list[Path]) -> list[Path]:
    """The executed notebooks in the report's order: by file name, the synthesis first."""
    return sorted(notebooks, key=lambda p: p.name)


KERNEL_NAME = "allocation-analysis"
"""Jupyter kernel of the notebooks' metadata, registered by ``make install`` and ``make lab``."""
KERNEL_DISPLAY_NAME = f"{KERNEL_NAME} (Python 3)"
"""Name JupyterLab shows for :data:`KERNEL_NAME`."""
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MANIFEST_TIMING_FIELDS = ("started_utc", "finished_utc", "timings_seconds")
"""The only fields of a published output that differ between two runs on the same inputs."""


# ---------------------------------------------------------------------------
# options
# ---------------------------------------------------------------------------
def notebooks_dir() -> Path:
    """Folder of the parameterised notebooks.

    The notebooks have one source, the top-level ``notebooks/`` folder of the
    repository, which the build copies into the package (``setup.py``).

    Returns
    -------
    Path
        In a checkout (editable install, or the package imported from the
        repository), the repository's ``notebooks/``: the notebooks researchers
        edit in JupyterLab are the ones the pipeline runs. In an installed
        package, its ``notebooks/`` resource (:mod:`importlib.resources`).

    Raises
    ------
    AnalysisError
        Neither holds every notebook of :data:`NOTEBOOKS`.
    """
    from importlib import resources

    here = Path(__file__).resolve().parent
    checkout = here.parent
    candidates = []
    if (checkout / "pyproject.toml").is_file():
        candidates.append(checkout / "notebooks")
    packaged = resources.files(__package__ or "allocation_analysis") / "notebooks"
    if isinstance(packaged, Path):  # an installed package is a folder, not a zip archive
        candidates.append(packaged)
    for cand in candidates:
        if all((cand / nb).is_file() for nb in NOTEBOOKS):
            return cand
    where = " ou ".join(str(c) for c in candidates) or str(here / "notebooks")
    raise AnalysisError(
        f"Carnets introuvables (attendus dans {where} : {', '.join(NOTEBOOKS)}). "
        "Réinstallez le paquet à partir d'une roue construite avec ses carnets "
        "(pip install .) ou travaillez dans le dépôt (pip install -e .)."
    )


def check_name(value: str, what: str) -> str:
    """A territory or period used as a folder name: no separators, no traversal."""
    if not _SAFE_NAME.match(value or "") or value in {".", ".."}:
        raise UsageError(
            f"{what} invalide : « {value} » (lettres, chiffres, « _ », « - » et « . » seulement, "
            "sans « / » ni « .. »)."
        )
    return value


def resolve_period(value: str | None, paths: InputPaths | None = None) -> Period:
    """``YYYY-Sn``, or ``auto``: the last complete semester covered by the data.

    With ``paths`` the period is resolved (``auto``) or checked (explicit) on the
    allocations file, as ``validate`` does
    (:func:`allocation_analysis.io.validate.data_period`); without, ``auto`` is
    a usage error.
    """
    from allocation_analysis.io.validate import data_period

    if paths is not None:
        return data_period(paths, value)
    if value in (None, "") or str(value).strip().lower() == "auto":
        raise UsageError("La période « auto » se détermine sur les données : donnez les fichiers.")
    return Period.parse(value)


def config_from_options(options: dict[str, Any]) -> tuple[InputPaths, AnalysisConfig, Path]:
    """Turn merged CLI/config options into typed paths, config and output root.

    Everything that needs no data is checked first (files given, territory,
    period syntax, parameter types and ranges, output folder); then the period
    is resolved or checked on the allocations file.

    Raises
    ------
    UsageError
        Missing input file, invalid name, period or parameter value.
    InputError
        A parameter of the wrong type, an output folder that is a file, or a
        period outside the data (exit code 1).
    """
    from allocation_analysis.io.validate import check_output_folder

    options = typed_parameters(options)
    paths = InputPaths.from_mapping(options)
    missing = [k for k in ("demandes", "attributions", "seuils") if getattr(paths, k) is None]
    if missing:
        raise UsageError(
            "Fichier(s) d'entrée manquant(s) : "
            + ", ".join(f"--{m}" for m in missing)
            + " (ou les clés correspondantes dans --config)."
        )
    territory = check_name(str(options.get("territory") or "territoire"), "Nom de territoire")
    requested = options.get("period")
    explicit = (
        None
        if requested in (None, "") or str(requested).strip().lower() == "auto"
        else Period.parse(str(requested))
    )
    kwargs: dict[str, Any] = {
        # a placeholder until the data are read: the parameters are checked first
        "period": explicit or Period(2000, 1),
        "territory": territory,
    }
    for key in (
        "siren_epci",
        "alpha",
        "secret_threshold",
        "seed",
        "target_non_q1_en_qpv",
        "delai_anormal_mois",
    ):
        if options.get(key) is not None:
            kwargs[key] = options[key]
    if "siren_epci" in kwargs:
        kwargs["siren_epci"] = str(kwargs["siren_epci"])
    try:
        config = AnalysisConfig(**kwargs)
    except TypeError as exc:
        raise UsageError(f"Paramètre invalide : {exc}") from None
    output = check_output_folder(options.get("output") or "outputs", "Dossier de sortie (--output)")
    assert output is not None
    config = config.with_(period=resolve_period(explicit or "auto", paths))
    return paths, config, output


# ---------------------------------------------------------------------------
# locking, signals, atomic folders
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def run_lock(folder: Path, period: str) -> Iterator[None]:
    """Exclusive lock for one territory/period output (fails fast when taken)."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / f".{period}.lock"
    try:
        # never through a symbolic link, never truncating: the lock holds no data
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        if lock_path.is_symlink():
            raise AnalysisError(
                f"Le fichier de verrou {lock_path} est un lien symbolique : supprimez-le puis "
                "relancez (il n'est jamais suivi)."
            ) from None
        raise
    fh = os.fdopen(fd, "r+b")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnalysisError(
                f"Une autre exécution est en cours pour {folder.name}/{period} "
                f"(verrou {lock_path}). Réessayez quand elle sera terminée."
            ) from None
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def sweep_stale_work(terr_dir: Path, period: str) -> list[Path]:
    """Remove the temporary folders a killed run of ``period`` left in ``terr_dir``.

    Called with the period's lock held: no live run of that period can own
    them. They may hold pseudonymised working data (``_work/``). Other
    periods' folders are left to their own runs. Returns the removed folders.
    """
    removed = []
    for stale in sorted(terr_dir.glob(f".tmp-{period}-*")):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
            log.info("Dossier temporaire d'une exécution interrompue supprimé : %s", stale.name)
    return removed


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so that cleanup code runs."""
    if os.name != "posix" or not _in_main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def publish_atomically(tmp: Path, final: Path) -> None:
    """Move a complete ``tmp`` folder to ``final``, replacing a previous output last."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except BaseException:
        if old is not None and not final.exists():
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------
# kernel and notebooks
# ---------------------------------------------------------------------------
def ensure_kernel() -> str:
    """Return the name of a Jupyter kernel that runs this very interpreter.

    The notebooks name the kernel :data:`KERNEL_NAME` in their metadata, and
    ``make install`` and ``make lab`` register it; the pipeline passes it
    explicitly to papermill. When it is missing or runs another interpreter it
    is registered here, in ``sys.prefix``; when that fails (read-only prefix, or
    a kernel of the same name registered for another interpreter earlier on
    Jupyter's search path), the native ``python3`` kernel of this interpreter
    is used instead.

    Returns
    -------
    str
        :data:`KERNEL_NAME`, or ``python3``.

    Raises
    ------
    AnalysisError
        ``jupyter_client`` or ``ipykernel`` is not installed, or no kernel running
        this interpreter can be found or registered: a French message says how
        to register it, instead of papermill's ``NoSuchKernel`` at the first
        notebook.
    """
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError as exc:
        raise AnalysisError(_kernel_help(f"jupyter_client est absent : {exc}")) from None

    spec = _kernel_spec(KernelSpecManager(), KERNEL_NAME)
    if spec is not None and _runs_this_interpreter(spec.argv):
        return KERNEL_NAME
    try:
        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=sys.prefix)
    except ImportError as exc:
        raise AnalysisError(_kernel_help(f"ipykernel est absent : {exc}")) from None
    except OSError as exc:
        reason = f"enregistrement impossible dans {sys.prefix} : {exc.strerror or exc}"
    else:
        spec = _kernel_spec(KernelSpecManager(), KERNEL_NAME)
        if spec is not None and _runs_this_interpreter(spec.argv):
            return KERNEL_NAME
        reason = (
            f"introuvable après enregistrement dans {sys.prefix}"
            if spec is None
            else f"celui de {spec.resource_dir} lance un autre interpréteur"
        )
    native = _kernel_spec(KernelSpecManager(), "python3")
    if native is None or not _runs_this_interpreter(native.argv):
        raise AnalysisError(_kernel_help(reason))
    log.warning(
        "noyau %s inutilisable (%s) : noyau python3 de cet interpréteur", KERNEL_NAME, reason
    )
    return "python3"


def _kernel_spec(ksm: Any, name: str) -> Any:
    """The kernel spec called ``name``, or None when Jupyter finds none."""
    from jupyter_client.kernelspec import NoSuchKernel

    try:
        return ksm.get_kernel_spec(name)
    except NoSuchKernel:
        return None


def _runs_this_interpreter(argv: list[str]) -> bool:
    """A kernel command that starts ``sys.executable``.

    jupyter_client replaces a bare ``python``, ``python3`` or ``python3.X`` by the
    interpreter that launches the kernel (here, this one).
    """
    if not argv:
        return False
    major, minor = sys.version_info[:2]
    if argv[0] in {"python", f"python{major}", f"python{major}.{minor}"}:
        return True
    return Path(argv[0]).resolve() == Path(sys.executable).resolve()


def _kernel_help(reason: str) -> str:
    return (
        f"Noyau Jupyter « {KERNEL_NAME} » introuvable ({reason}). Les carnets s'exécutent "
        f"avec ce noyau : enregistrez-le pour cet interpréteur avec « {sys.executable} -m "
        f'ipykernel install --sys-prefix --name {KERNEL_NAME} --display-name "{KERNEL_DISPLAY_NAME}" '
        "» (--user au lieu de --sys-prefix si ce dossier est en lecture seule ; « make lab » "
        "dans le dépôt), puis relancez."
    )


def _delai_parameter(config: AnalysisConfig) -> int | dict[str, int] | None:
    """``delai_anormal_mois`` as a notebook parameter (``None``: the default, with its warning)."""
    value = config.delai_anormal_mois
    return dict(value) if isinstance(value, tuple) else value


def execute_notebook(
    src: Path, dst: Path, parameters: dict[str, Any], *, kernel: str, timeout: int
) -> None:
    """Execute one notebook with papermill (parameters injected after the ``parameters`` cell)."""
    import papermill as pm

    pm.execute_notebook(
        str(src),
        str(dst),
        parameters=parameters,
        kernel_name=kernel,
        progress_bar=False,
        execution_timeout=timeout,
        cwd=str(dst.parent),
        log_output=False,
    )


_CELL_TIMING_KEYS = ("execution", "papermill")
_NOTEBOOK_PAPERMILL_KEYS = ("start_time", "end_time", "duration", "input_path", "output_path")


def with_cell_ids(src: Path, folder: Path) -> Path:
    """``src``, or a copy in ``folder`` whose cells without an id get ``cell-<n>``.

    A cell saved without an id (nbformat < 4.5 or a hand edit) is given a random
    one at every execution; numbered ids keep the executed notebook identical
    from one run to the next.
    """
    nb = json.loads(src.read_text("utf-8"))
    cells = nb.get("cells", [])
    if all(c.get("id") for c in cells):
        return src
    used = {c.get("id") for c in cells}
    for i, cell in enumerate(cells):
        if not cell.get("id"):
            cell["id"] = next(
                name for k in range(i, i + len(cells) + 1) if (name := f"cell-{k}") not in used
            )
            used.add(cell["id"])
    nb["nbformat"], nb["nbformat_minor"] = 4, max(int(nb.get("nbformat_minor", 0)), 5)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / src.name
    dest.write_text(json.dumps(nb, ensure_ascii=False), "utf-8")
    return dest


def strip_execution_metadata(path: Path) -> None:
    """Remove what differs between two executions of a notebook from its metadata.

    papermill and nbclient record, per cell and for the notebook, the execution
    start and end times and duration, and the notebook's absolute input and
    output paths; papermill gives the injected parameters cell a random id
    (renamed ``injected-parameters``). The published notebook keeps its
    parameters, sources and outputs; the run's timings are in ``manifest.json``.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    pm = nb.metadata.get("papermill", {})
    for key in _NOTEBOOK_PAPERMILL_KEYS:
        pm.pop(key, None)
    for cell in nb.cells:
        for key in _CELL_TIMING_KEYS:
            cell.metadata.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill draws a random id
    nbformat.write(nb, str(path))


def render_report(notebooks: list[Path], dest: Path, *, title: str) -> Path:
    """Merge the executed notebooks into one French HTML report, code hidden, offline."""
    import nbformat
    from nbconvert import HTMLExporter

    merged = None
    for nb_path in notebooks:
        nb = nbformat.read(str(nb_path), as_version=4)
        cells = [
            c
            for c in nb.cells
            if "parameters" not in c.get("metadata", {}).get("tags", [])
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
        ]
        for c in cells:
            if c.cell_type == "code":
                # keep displayed results only: no stream output (logs, warnings) in the report
                c.outputs = [o for o in c.get("outputs", []) if o.get("output_type") != "stream"]
        if merged is None:
            merged = nb
            merged.cells = cells
        else:
            merged.cells.extend(cells)
    assert merged is not None
    merged.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(merged)
    body = _strip_external_scripts(body)
    body = body.replace("</head>", f"<style>{_PRINT_CSS}</style>\n</head>", 1)
    body = re.sub(r"<html(\s+lang=\"[^\"]*\")?>", '<html lang="fr">', body, count=1)
    dest.write_text(body, encoding="utf-8")
    return dest


_PRINT_CSS = """
.jp-RenderedHTMLCommon table { table-layout: auto; }
.jp-RenderedHTMLCommon th { text-align: left !important; }
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
  @bottom-center { content: "Page " counter(page) " / " counter(pages); font-size: 8pt; } }
@page large { size: A4 landscape; margin: 12mm 12mm 14mm 12mm; }
@media print {
  body, .jp-Notebook { font-size: 9.5pt; padding: 0 !important; margin: 0 !important; }
  .jp-Cell { padding: 0 !important; }
  .jp-InputPrompt, .jp-OutputPrompt, .jp-InputArea-prompt, .jp-OutputArea-prompt {
    display: none !important; }
  .jp-OutputArea-output, .jp-RenderedHTMLCommon { width: 100% !important; max-width: 100%;
    padding: 0 !important; }
  table { table-layout: auto !important; width: 100% !important; font-size: 7.5pt;
    border-collapse: collapse; }
  th, td { overflow-wrap: break-word; word-break: normal; hyphens: manual;
    padding: 2px 4px !important; vertical-align: top; }
  td:first-child { min-width: 9em; }
  .jp-OutputArea-output:has(table th:nth-child(9)) { page: large; }
  .jp-OutputArea-output:has(table th:nth-child(9)) table { font-size: 7pt; }
  thead { display: table-header-group; }
  .jp-OutputArea-child { break-inside: auto !important; }
  tr, img { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  h1 { break-before: page; }
  .jp-Cell:first-child h1 { break-before: auto; }
}
"""
"""Stylesheet added to the report: columns sized to their content, headers aligned with
their cells; in print, A4, page numbers, tables across the page width with their header
repeated, columns sized to their content and words never cut inside (a column is at
least as wide as its longest word), tables of nine columns or more on a landscape page
of their own, headings kept with what follows, each part on a new page."""

_EXTERNAL_TAG = re.compile(
    r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>|<link[^>]+href=[\"']https?://[^>]*>", re.I
)


def _strip_external_scripts(html: str) -> str:
    """Remove every script/stylesheet loaded from the network (the report must open offline)."""
    return _EXTERNAL_TAG.sub("", html)


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------
def _package_versions() -> dict[str, str]:
    names = [
        "allocation_analysis",
        "numpy",
        "pandas",
        "scipy",
        "statsmodels",
        "scikit-learn",
        "lifelines",
        "geopandas",
        "shapely",
        "folium",
        "matplotlib",
        "papermill",
        "nbconvert",
        "pandera",
        "pyarrow",
        "openpyxl",
    ]
    out = {"python": platform.python_version()}
    for n in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[n] = metadata.version(n)
    return out


class _Timer:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str, label: str, index: int, total: int) -> Iterator[None]:
        log.info("Étape %d/%d : %s", index, total, label)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = round(time.perf_counter() - t0, 3)


class _StableFormatter(logging.Formatter):
    """``run.log`` lines that two runs on the same inputs write identically.

    No clock time (the timings are in ``manifest.json``), no duration such as
    ``(0.3 s)``, and no absolute path: input files appear by their name and the
    run's temporary folder as ``.``.
    """

    _DURATION = re.compile(r"\s*\(\d+(?:[.,]\d+)?\s*s\)")

    def __init__(self, replacements: dict[str, str]) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s")
        # longest first: a folder must not be replaced inside a longer path
        self._replacements = sorted(replacements.items(), key=lambda kv: -len(kv[0]))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for old, new in self._replacements:
            text = text.replace(old, new)
        return self._DURATION.sub("", text)


def _path_replacements(paths: InputPaths | None, tmp: Path | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if paths is not None:
        for f in vars(paths).values():
            if f is not None:
                out[str(f)] = Path(f).name
                with contextlib.suppress(OSError):
                    out[str(Path(f).resolve())] = Path(f).name
    if tmp is not None:
        out[str(tmp)] = "."
    return out


def _attach_log(
    path: Path, paths: InputPaths | None = None, tmp: Path | None = None
) -> logging.Handler:
    """Log the run to ``run.log`` at INFO at least, whatever the caller configured.

    The lines carry no clock time, duration or absolute path (:class:`_StableFormatter`).
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_StableFormatter(_path_replacements(paths, tmp)))
    handler.setLevel(logging.INFO)
    pkg = logging.getLogger("allocation_analysis")
    if pkg.getEffectiveLevel() > logging.INFO:
        pkg.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    return handler


def run_analysis(
    paths: InputPaths,
    config: AnalysisConfig,
    output: Path,
    *,
    timeout: int = 1800,
    notebooks: Path | None = None,
) -> Path:
    """Run the whole semi-annual analysis and publish it atomically.

    Parameters
    ----------
    paths : InputPaths
        Input files.
    config : AnalysisConfig
        Period, territory, thresholds, seed.
    output : Path
        Output root; results land in ``output/<territory>/<period>/``.
    timeout : int
        Execution timeout of one notebook cell, in seconds.
    notebooks : Path, optional
        Folder of the notebooks (default: the project's ``notebooks/``).

    Returns
    -------
    Path
        The published output folder.

    Raises
    ------
    InputError
        Invalid input (exit code 1).
    AnalysisError
        A notebook failed, a lock is held, or publication failed (exit code 3).
    """
    from allocation_analysis.io.validate import load_checked
    from allocation_analysis.session import prepare, save_prepared, validation_summary

    check_name(config.territory, "Nom de territoire")
    period = config.period.label
    # Absolute: the notebooks run with their own working directory.
    terr_dir = Path(output).resolve() / config.territory
    final = terr_dir / period
    nb_dir = notebooks or notebooks_dir()
    timer = _Timer()
    started = dt.datetime.now(dt.UTC)
    total = 6
    with run_lock(terr_dir, period), sigterm_as_interrupt():
        sweep_stale_work(terr_dir, period)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{period}-", dir=terr_dir))
        handler = _attach_log(tmp / "run.log", paths, tmp)
        current_nb: Path | None = None
        try:
            log.info("Analyse %s, %s", config.territory, period)
            with timer.step("validation", "lecture et validation des données", 1, total):
                inputs = load_checked(paths, config.period, siren_epci=config.siren_epci)
                if config.siren_epci is None and inputs.siren_epci is not None:
                    config = config.with_(siren_epci=inputs.siren_epci)  # the file's only EPCI
                validation = validation_summary(inputs)
                for table, rej in (inputs.rejects or {}).items():
                    if rej is not None and len(rej):
                        write_csv(rej, tmp / "rejects" / f"{table}.csv")
                log.info("%s", inputs.report.summary())
            with timer.step("derive", "calcul des grandeurs dérivées", 2, total):
                frames = prepare(inputs, config)
                work = tmp / "_work"
                save_prepared(work, frames, inputs, validation)
            kernel = ensure_kernel()
            params = {
                "period": period,
                "territory": config.territory,
                "siren_epci": config.siren_epci,
                "target_non_q1_en_qpv": config.target_non_q1_en_qpv,
                "alpha": config.alpha,
                "secret_threshold": config.secret_threshold,
                "seed": config.seed,
                "language": config.language,
                "delai_anormal_mois": _delai_parameter(config),
                # relative to the notebooks' working directory (tmp/notebooks): no
                # absolute path in the executed notebooks
                "output_dir": "..",
                "work_dir": "../_work",
            }
            executed: list[Path] = []
            (tmp / "notebooks").mkdir()
            for i, nb in enumerate(notebooks_to_run(inputs), start=3):
                current_nb = tmp / "notebooks" / nb
                with timer.step(nb, f"exécution du carnet {nb}", min(i, 5), total):
                    try:
                        src = with_cell_ids(nb_dir / nb, work / "notebooks")
                        execute_notebook(src, current_nb, params, kernel=kernel, timeout=timeout)
                    except Exception as exc:
                        raise _NotebookFailedError(nb, exc) from exc
                    strip_execution_metadata(current_nb)
                executed.append(current_nb)
            current_nb = None
            with timer.step("report", "rapport, tableaux et résultats", 6, total):
                manifest = _assemble(
                    tmp,
                    config,
                    validation,
                    paths,
                    executed,
                    started,
                    landlord_names=inputs.landlord_names(),
                )
            manifest["timings_seconds"] = timer.steps
            manifest["timing_fields"] = list(MANIFEST_TIMING_FIELDS)
            write_json(manifest, tmp / "manifest.json")
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(tmp / "_parts", ignore_errors=True)
            logging.getLogger().removeHandler(handler)
            handler.close()
            publish_atomically(tmp, final)
            log.info("Résultats publiés dans %s", final)
            return final
        except _NotebookFailedError as exc:
            failed = _keep_failed(tmp, terr_dir, period, current_nb, handler)
            raise AnalysisError(
                f"Le carnet {exc.notebook} a échoué ({exc.reason}). Le carnet exécuté et le journal "
                f"sont conservés dans {failed} ; la sortie précédente est intacte."
            ) from None
        except (InputError, UsageError):
            _discard(tmp, handler)
            raise
        except KeyboardInterrupt:
            _discard(tmp, handler)
            raise AnalysisError(
                "Exécution interrompue ; la sortie précédente est intacte."
            ) from None
        except OSError as exc:
            _discard(tmp, handler)
            raise AnalysisError(
                f"Écriture impossible ({exc.strerror or exc}) : {getattr(exc, 'filename', '')}. "
                "La sortie précédente est intacte."
            ) from None
        except BaseException:
            _discard(tmp, handler)
            raise


class _NotebookFailedError(Exception):
    def __init__(self, notebook: str, exc: BaseException) -> None:
        super().__init__(notebook)
        self.notebook = notebook
        name = type(exc).__name__
        text = str(exc).strip().splitlines()
        detail = text[-1] if text else ""
        self.reason = f"{name}: {detail}"[:300]


def _discard(tmp: Path, handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
    shutil.rmtree(tmp, ignore_errors=True)


def _keep_failed(
    tmp: Path, terr_dir: Path, period: str, nb: Path | None, handler: logging.Handler
) -> Path:
    logging.getLogger().removeHandler(handler)
    handler.close()
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    failed = terr_dir / f"failed-{period}-{stamp}"
    failed.mkdir(parents=True, exist_ok=True)
    if nb is not None and nb.exists():
        shutil.copy2(nb, failed / nb.name)
    if (tmp / "run.log").exists():
        shutil.copy2(tmp / "run.log", failed / "run.log")
    shutil.rmtree(tmp, ignore_errors=True)  # private working data never kept
    return failed


def _assemble(
    tmp: Path,
    config: AnalysisConfig,
    validation: dict,
    paths: InputPaths,
    executed: list[Path],
    started: dt.datetime,
    *,
    landlord_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write results.json, tables.xlsx, tables_excel/, report.html and report.pdf; return
    the manifest (without timings)."""
    import pandas as pd

    from allocation_analysis.labels import source_line_fr, territory_label
    from allocation_analysis.pdf import print_to_pdf

    parts = tmp / "_parts"

    def part(name: str) -> list:
        f = parts / f"{name}.json"
        return json.loads(f.read_text("utf-8")) if f.exists() else []

    p = config.period
    results = {
        "territory": config.territory,
        "period": p.label,
        "window": {"start": p.start.isoformat(), "end": p.end.isoformat()},
        "rolling_window": {"start": p.rolling_start.isoformat(), "end": p.end.isoformat()},
        "secret_threshold": config.secret_threshold,
        "indicators": part("indicators"),
        "trend": part("trend"),
        "tests": part("tests")
        + part("process_tests")
        + part("tests_delai_anormal")
        + part("tests_tension"),
        "tension": part("tension"),
    }
    if (parts / "process.json").exists():
        results["process"] = part("process")
    write_json(results, tmp / "results.json")
    tables = {
        f.stem: pd.read_csv(f, dtype=str, keep_default_na=False)
        for f in sorted((tmp / "tables").glob("*.csv"))
    }
    if tables:
        # for people: landlord names beside their SIREN when a ``bailleurs`` file is given
        named = {k: with_landlord_names(v, landlord_names or {}) for k, v in tables.items()}
        notice = {
            "title": f"Analyse des attributions — {territory_label(config.territory)} — "
            f"{p.label_fr}",
            "source": source_line_fr(config.territory),
        }
        write_xlsx({k: _numeric(v) for k, v in named.items()}, tmp / "tables.xlsx", notice=notice)
        for k, v in named.items():
            write_csv_excel(
                _numeric(v, keep=_IDENTIFIER_COLUMNS), tmp / EXCEL_CSV_FOLDER / f"{k}.csv"
            )
    render_report(
        report_order(executed),
        tmp / "report.html",
        title=f"Analyse des attributions — {config.territory} — {p.label_fr}",
    )
    pdf = print_to_pdf(tmp / "report.html", tmp / "report.pdf")
    inputs_info = {}
    for key in (field.name for field in fields(InputPaths)):
        f = getattr(paths, key)
        if f is not None and Path(f).exists():
            inputs_info[key] = {
                "file": Path(f).name,
                "sha256": sha256_file(f),
                "bytes": Path(f).stat().st_size,
            }
    manifest = {
        "territory": config.territory,
        "period": p.label,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": inputs_info,
        "parameters": {
            "alpha": config.alpha,
            "secret_threshold": config.secret_threshold,
            "seed": config.seed,
            "siren_epci": config.siren_epci,
            "target_q1_hors_qpv": config.target_q1_hors_qpv,
            "target_non_q1_en_qpv": config.target_non_q1_en_qpv,
            "target_prioritaires": config.target_prioritaires,
            "language": config.language,
            "uc_scale": vars(config.uc_scale),
            "delai_anormal_mois": config.delai_anormal,
        },
        "row_counts": validation.get("counts", []),
        "pdf": pdf.as_manifest(),
        "packages": _package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "outputs": sorted(
            str(f.relative_to(tmp))
            for f in tmp.rglob("*")
            if f.is_file() and not str(f.relative_to(tmp)).startswith(("_work", "_parts"))
        ),
    }
    return manifest


_IDENTIFIER_COLUMNS = frozenset(
    {"scope_value", "insee_com", "commune", "bailleur_siren", "siren_epci", "qpv", "code_qpv"}
)
"""Columns of codes kept as text in the CSV for office software (leading zeros, SIREN)."""


def _numeric(frame, keep=frozenset()):
    import pandas as pd

    out = frame.copy()
    for c in out.columns:
        if c in keep:
            continue
        conv = pd.to_numeric(out[c].replace("", None), errors="coerce")
        if conv.notna().sum() == (out[c] != "").sum():
            out[c] = conv
    return out


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------
def run_command(options: dict[str, Any]) -> int:
    """``allocation-analysis run``: returns the exit code (errors raise typed exceptions)."""
    paths, config, output = config_from_options(options)
    final = run_analysis(paths, config, output)
    sys.stdout.write(f"Rapport : {final / 'report.html'}\n")
    return 0


def demo_command(*, output: str = "outputs", seed: int = 1, scale: str = "demo") -> int:
    """``allocation-analysis demo``: synthetic territory, then the full analysis, offline."""
    from allocation_analysis import synth
    from allocation_analysis.io.validate import check_output_folder

    out = check_output_folder(output, "Dossier de sortie (--output)") or Path("outputs")
    data_dir = out / "demo" / "donnees_synthetiques"
    log.info("Génération du territoire synthétique (échelle %s, graine %d)…", scale, seed)
    ds = synth.generate(scale=scale, seed=seed)
    synth.write_dataset(ds, data_dir)
    cfg = dict(ds.config)
    options = {
        k: (str(data_dir / v) if k in {field.name for field in fields(InputPaths)} and v else v)
        for k, v in cfg.items()
    }
    options["output"] = str(out)
    options["territory"] = "demo"
    options["seed"] = seed
    paths, config, output_root = config_from_options(options)
    final = run_analysis(paths, config, output_root)
    sys.stdout.write(
        f"Démonstration terminée (données synthétiques, territoire fictif).\nRapport : {final / 'report.html'}\n"
    )
    return 0
