"""The notebooks' entry point: one object holding the prepared data and the publishers.

A notebook opens a :class:`Session` with its parameters. Under the pipeline the
prepared (pseudonymised) frames are read from ``work_dir``; a researcher working
interactively leaves ``work_dir`` empty and the session loads and derives the
raw inputs itself. Either way the notebook only calls the library and displays.

Everything a session publishes goes through disclosure control and the
formula-safe writers of :mod:`allocation_analysis.outputs`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from allocation_analysis.config import RUN_PARAMETERS, AnalysisConfig, InputPaths, Period
from allocation_analysis.outputs import write_csv, write_json

__all__ = ["Session", "open_session", "PREPARED_FRAMES", "default_output_root", "demo_inputs"]

log = logging.getLogger(__name__)

PREPARED_FRAMES = ("demandes", "allocations", "access")
"""Frames the pipeline prepares once and the notebooks read (parquet, private)."""
OPTIONAL_FRAMES = ("propositions",)
"""Prepared frames that exist only when their input was given (``None`` otherwise)."""

INPUT_KEYS = tuple(p.name for p in RUN_PARAMETERS if p.path)
"""The input-file parameters of a notebook (all ``None``: the built-in demo territory)."""

DEMO_DATA = Path("demo") / "donnees_synthetiques"
"""Folder of the demo territory's files under the outputs folder, as ``allocation-analysis demo``
writes them."""
DEMO_SEED, DEMO_SCALE = 1, "demo"
"""Seed and scale of the demo territory, the defaults of ``allocation-analysis demo``."""


@dataclass
class Session:
    """Prepared data and publication helpers for one analysis.

    Attributes
    ----------
    config : AnalysisConfig
    demandes, allocations, access : DataFrame
        Derived frames (docs/data-model.md §2); ``allocations`` holds every lease
        of the data (windows are selected by the indicator functions).
    communes, qpv : GeoDataFrame or None
    propositions : DataFrame or None
        Candidates examined by the allocation commissions
        (:func:`allocation_analysis.derive.prepare_propositions`): contract
        columns and codes, ``demande_id`` shared with ``demandes`` and
        ``allocations``; ``None`` when no propositions file was given.
    validation : dict
        Row counts per table (read, accepted, rejected) and reject reasons.
    output_dir : Path
        Where tables, figures, maps and results parts are written.
    """

    config: AnalysisConfig
    demandes: pd.DataFrame
    allocations: pd.DataFrame
    access: pd.DataFrame
    communes: Any = None
    qpv: Any = None
    validation: dict = field(default_factory=dict)
    output_dir: Path = Path("outputs/session")
    propositions: pd.DataFrame | None = None

    @property
    def period(self) -> Period:
        """The semester analysed (from the session's configuration)."""
        return self.config.period

    @property
    def source(self) -> str:
        """Source line of the maps and figures (fictional data for the demo territory)."""
        from allocation_analysis.labels import source_line_fr

        return source_line_fr(self.config.territory)

    def semester_allocations(self) -> pd.DataFrame:
        """Leases signed within the semester."""
        d = self.allocations["date_bail"]
        p = self.period
        return self.allocations[(d >= pd.Timestamp(p.start)) & (d <= pd.Timestamp(p.end))]

    # -- publication ----------------------------------------------------
    def publish_table(self, name: str, frame: pd.DataFrame, *, count_columns=()) -> Path:
        """Write ``tables/<name>.csv`` after checking no count in [1, threshold-1] is left."""
        from allocation_analysis.privacy import check_no_small_counts

        if count_columns:
            check_no_small_counts(
                frame[list(count_columns)], threshold=self.config.secret_threshold
            )
        return write_csv(frame, self.output_dir / "tables" / f"{name}.csv")

    def published_table(self, name: str) -> pd.DataFrame | None:
        """Read back ``tables/<name>.csv`` as published (after the secret), or None.

        The synthesis, run after the other notebooks, reads the published tests
        from here: it can only repeat numbers that are already published.
        """
        path = self.output_dir / "tables" / f"{name}.csv"
        if not path.is_file():
            return None
        return pd.read_csv(path, encoding="utf-8")

    def publish_results(self, section: str, entries: list[dict]) -> Path:
        """Record entries of ``results.json`` (``indicators`` or ``tests``)."""
        return write_json(entries, self.output_dir / "_parts" / f"{section}.json")

    def save_figure(self, fig: Any, name: str) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` (300 dpi)."""
        from allocation_analysis.figures import save_figure

        path = self.output_dir / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_figure(fig, path)
        return path

    def show_figure(self, fig: Any, name: str, *, alt: str | None = None) -> Any:
        """Save a figure (``figures/<name>.png``) and return it for display in the notebook.

        The returned object renders as an ``<img>`` with a French alternative
        text (``alt``, by default the figure's title), for readers of the
        report who use a screen reader.
        """
        import matplotlib.pyplot as plt

        if alt is None:
            titles = [fig._suptitle.get_text()] if getattr(fig, "_suptitle", None) else []
            titles += [ax.get_title() for ax in fig.axes]
            alt = next((t for t in titles if t), f"Figure : {name}")
        path = self.save_figure(fig, name)
        plt.close(fig)
        return _FigureDisplay(path.read_bytes(), alt)

    @staticmethod
    def show_table(frame: pd.DataFrame) -> Any:
        """An HTML view of a table without its index (for the report)."""
        from IPython.display import HTML

        html = frame.to_html(index=False, na_rep="—", escape=True, border=0)
        return HTML(html.replace("<td>", '<td style="text-align:left">'))

    def save_map(self, m: Any, name: str) -> Path:
        """Save a folium map as ``maps/<name>.html`` (self-contained, offline)."""
        from allocation_analysis.maps import save_map

        path = self.output_dir / "maps" / f"{name}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_map(m, path)
        return path


def _config_from(params: dict[str, Any]) -> AnalysisConfig:
    kwargs: dict[str, Any] = {"period": Period.parse(params["period"])}
    for key in (
        "territory",
        "siren_epci",
        "target_non_q1_en_qpv",
        "alpha",
        "secret_threshold",
        "seed",
        "language",
        "delai_anormal_mois",
    ):
        if params.get(key) is not None:
            kwargs[key] = params[key]
    if "secret_threshold" in kwargs:
        kwargs["secret_threshold"] = int(kwargs["secret_threshold"])
    return AnalysisConfig(**kwargs)


def _leases_with_a_threshold(inputs: Any, config: AnalysisConfig) -> Any:
    """The inputs without the leases of years that have no first-quartile threshold.

    The loader requires thresholds for the years of the analysed period only
    (its rolling 12 months), as ``validate`` does; the first-quartile status of
    a lease of another year without a threshold cannot be computed, so such
    leases (older history) are left out of the allocations, with a warning,
    instead of stopping the run.
    """
    seuils = getattr(inputs, "seuils", None)
    if seuils is None or inputs.attributions is None or inputs.attributions.empty:
        return inputs
    siren = config.siren_epci or getattr(inputs, "siren_epci", None)
    epcis = seuils["siren_epci"].astype("string").str.strip()
    rows = seuils if siren is None else seuils[(epcis == str(siren).strip()).fillna(False)]
    have = set(pd.to_numeric(rows["annee"], errors="coerce").dropna().astype(int))
    years = pd.to_datetime(inputs.attributions["date_bail"], errors="coerce").dt.year
    keep = (years.isna() | years.isin(have)).to_numpy()
    if keep.all():
        return inputs
    dropped = sorted({int(y) for y in years[~keep].dropna()})
    log.warning(
        "%d bail(s) des années %s, sans seuil du premier quartile, laissé(s) hors des "
        "attributions (la période analysée n'en a pas besoin).",
        int((~keep).sum()),
        ", ".join(map(str, dropped)),
    )
    return replace(inputs, attributions=inputs.attributions.loc[keep])


def prepare(inputs: Any, config: AnalysisConfig) -> dict[str, pd.DataFrame]:
    """Derive the analysis frames from loaded inputs (one definition each, in derive).

    ``propositions`` is among the frames only when the inputs hold a
    propositions file.

    Leases of years without a first-quartile threshold are left out
    (:func:`_leases_with_a_threshold`).
    """
    from allocation_analysis import derive

    inputs = _leases_with_a_threshold(inputs, config)
    demandes = derive.prepare_demandes(inputs, config=config)
    allocations = derive.prepare_allocations(inputs, config=config)
    access = derive.access_frame(demandes, config.period)
    frames = {"demandes": demandes, "allocations": allocations, "access": access}
    propositions = derive.prepare_propositions(inputs)
    if propositions is not None:
        frames["propositions"] = propositions
    return frames


def save_prepared(
    work_dir: Path, frames: dict[str, pd.DataFrame], inputs: Any, validation: dict
) -> None:
    """Store the prepared frames for the notebooks (private working folder)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in PREPARED_FRAMES:
        frames[name].to_parquet(work_dir / f"{name}.parquet", index=False)
    for name in OPTIONAL_FRAMES:
        stale = work_dir / f"{name}.parquet"
        if frames.get(name) is not None:
            frames[name].to_parquet(stale, index=False)
        elif stale.exists():  # a previous run's file must not pass for this run's
            stale.unlink()
    for name in ("communes", "qpv"):
        gdf = getattr(inputs, name, None)
        if gdf is not None:
            gdf.to_parquet(work_dir / f"{name}.parquet", index=False)
    (work_dir / "validation.json").write_text(json.dumps(validation, ensure_ascii=False), "utf-8")


def default_output_root(cwd: str | Path | None = None) -> Path:
    """Outputs folder of an interactive session (a notebook run in JupyterLab).

    Parameters
    ----------
    cwd : str or Path, optional
        The notebook's working directory (its folder, in JupyterLab); by default
        the current one.

    Returns
    -------
    Path
        From the ``notebooks/`` folder of a project (a folder whose parent holds
        ``pyproject.toml``, as in a clone of the repository), the project's
        ``outputs/``: ignored by git, and where ``make demo`` writes. Elsewhere
        ``outputs/`` in the working directory.
    """
    here = Path.cwd() if cwd is None else Path(cwd)
    if here.name == "notebooks" and (here.parent / "pyproject.toml").is_file():
        return here.parent / "outputs"
    return here / "outputs"


def demo_inputs(output: str | Path | None = None) -> dict[str, Any]:
    """The built-in demo territory's run options, its files generated on first use.

    The fictional territory of ``allocation-analysis demo`` (same generator,
    :func:`allocation_analysis.synth.generate` and
    :func:`allocation_analysis.synth.write_dataset`, same seed and scale) is
    written to ``<output>/demo/donnees_synthetiques/`` when that folder holds no
    complete data set yet (its ``config.yaml`` is written last), and reused
    afterwards, whoever wrote it.

    Parameters
    ----------
    output : str or Path, optional
        Outputs folder (default: :func:`default_output_root`).

    Returns
    -------
    dict
        The data set's ``config.yaml``: absolute input paths, ``period``,
        ``territory`` and ``siren_epci``.
    """
    import shutil
    import tempfile

    from allocation_analysis import synth
    from allocation_analysis.config import load_config_file

    folder = Path(output or default_output_root()) / DEMO_DATA
    if not (folder / "config.yaml").is_file():
        log.warning(
            "Aucun fichier d'entrée : génération du territoire de démonstration (fictif) dans %s",
            folder,
        )
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-donnees-", dir=folder.parent))
        try:
            synth.write_dataset(synth.generate(scale=DEMO_SCALE, seed=DEMO_SEED), tmp)
            if not (folder / "config.yaml").is_file():  # not written meanwhile by another run
                if folder.exists():  # an interrupted generation
                    shutil.rmtree(folder)
                tmp.replace(folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        log.warning(
            "Aucun fichier d'entrée : territoire de démonstration (fictif), données de %s", folder
        )
    return load_config_file(folder / "config.yaml")


def _interactive_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """A notebook's parameters outside the pipeline, defaults filled in.

    No input file: the demo territory (:func:`demo_inputs`), its period, name and
    EPCI unless given. Period ``auto`` (or none): the last complete semester
    covered by the allocations, as ``run`` resolves it. No territory name:
    ``territoire``.
    """
    from allocation_analysis.io.validate import data_period

    params = dict(params)
    if all(params.get(k) in (None, "") for k in INPUT_KEYS):
        demo = demo_inputs()
        params.update({k: demo.get(k) for k in INPUT_KEYS})
        for key in ("territory", "siren_epci", "period"):
            if params.get(key) in (None, "") or (key == "period" and _is_auto(params[key])):
                params[key] = demo.get(key)
    params["territory"] = params.get("territory") or "territoire"
    if _is_auto(params.get("period")):
        paths = InputPaths.from_mapping({k: params.get(k) for k in INPUT_KEYS})
        params["period"] = data_period(paths, "auto").label
    return params


def _is_auto(period: Any) -> bool:
    return period in (None, "") or str(period).strip().lower() == "auto"


def open_session(
    *,
    period: str | None = "auto",
    territory: str | None = None,
    demandes: str | None = None,
    attributions: str | None = None,
    logements: str | None = None,
    seuils: str | None = None,
    communes: str | None = None,
    qpv: str | None = None,
    column_map: str | None = None,
    propositions: str | None = None,
    bailleurs: str | None = None,
    siren_epci: str | None = None,
    target_non_q1_en_qpv: float = 0.5,
    alpha: float = 0.05,
    secret_threshold: int = 11,
    seed: int = 20240101,
    language: str = "fr",
    delai_anormal_mois: int | dict[str, int] | None = None,
    output_dir: str | None = None,
    work_dir: str | None = None,
) -> Session:
    """Open a session from the notebook's parameters.

    With ``work_dir`` (set by the pipeline) the prepared frames are read from it;
    otherwise the raw input files are loaded, validated and derived here. A
    notebook run as it is stored ("Run all" in JupyterLab, no input file) works
    on the built-in demo territory, generated on first use into the outputs
    folder (:func:`demo_inputs`); ``period="auto"`` is the last complete semester
    of the data, and ``output_dir`` defaults to
    ``<outputs>/session/<territory>/<period>`` (:func:`default_output_root`).

    The BLAS of the kernel is set to one thread for the rest of the session:
    every matrix of the analysis is small (at most a few hundred columns), and
    a multi-threaded BLAS made such operations up to several hundred times
    slower on a busy 2-core machine (a 70 x 159 SVD: 0.65 s instead of 2 ms).
    """
    params = dict(locals())
    from allocation_analysis.threads import single_thread

    single_thread()
    if not work_dir:
        params = _interactive_parameters(params)
    config = _config_from(params)
    out = (
        Path(output_dir)
        if output_dir
        else default_output_root() / "session" / config.territory / config.period.label
    )
    out.mkdir(parents=True, exist_ok=True)
    if work_dir:
        wd = Path(work_dir)
        frames = {n: pd.read_parquet(wd / f"{n}.parquet") for n in PREPARED_FRAMES}
        for name in OPTIONAL_FRAMES:
            f = wd / f"{name}.parquet"
            frames[name] = pd.read_parquet(f) if f.exists() else None
        geo = {}
        for name in ("communes", "qpv"):
            f = wd / f"{name}.parquet"
            if f.exists():
                import geopandas as gpd

                geo[name] = gpd.read_parquet(f)
        validation = json.loads((wd / "validation.json").read_text("utf-8"))
        return Session(
            config=config,
            **frames,
            communes=geo.get("communes"),
            qpv=geo.get("qpv"),
            validation=validation,
            output_dir=out,
        )
    from allocation_analysis.io import load_inputs

    paths = InputPaths.from_mapping({k: params.get(k) for k in INPUT_KEYS})
    inputs = load_inputs(paths, column_map=paths.column_map)
    frames = prepare(inputs, config)
    return Session(
        config=config,
        **frames,
        communes=inputs.communes,
        qpv=inputs.qpv,
        validation=validation_summary(inputs),
        output_dir=out,
    )


def validation_summary(inputs: Any) -> dict:
    """Counts per table and reject reasons (rule → count), for the data notebook.

    Files are named without their folder (``demandes.csv``).
    """
    report = inputs.report
    counts = report.to_frame()
    reasons: dict[str, dict[str, int]] = {}
    for table, rej in (inputs.rejects or {}).items():
        if rej is not None and len(rej):
            reasons[table] = (
                rej.drop_duplicates(["source_row", "rule"])
                .groupby("rule")
                .size()
                .sort_index()
                .to_dict()
            )
    records = json.loads(counts.to_json(orient="records"))
    for row in records:
        # the file's name, not its path: outputs are the same wherever the inputs are
        if row.get("file"):
            row["file"] = Path(str(row["file"])).name
    return {"counts": records, "reasons": reasons}


class _FigureDisplay:
    """A saved PNG shown with an alternative text (HTML) or as a plain image."""

    def __init__(self, png: bytes, alt: str, width: int = 900) -> None:
        self.png, self.alt, self.width = png, alt, width

    def __repr__(self) -> str:
        # the plain-text form is stored in the executed notebook: no memory address
        return f"Figure : {self.alt}"

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        import base64
        import html

        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<img src="data:image/png;base64,{data}" width="{self.width}" '
            f'alt="{html.escape(self.alt, quote=True)}">'
        )
