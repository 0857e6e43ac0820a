"""Session-scoped runs of the whole pipeline on a synthetic territory with planted identifiers.

The full analysis takes one to two minutes, so the reliability tests share a
few runs (import the fixtures explicitly from the test modules)::

    from pipeline_fixtures import planted_dataset, planted_run  # noqa: F401

``planted_dataset``
    A small synthetic territory whose ``num_unique`` are replaced by
    recognisable strings (``SECRETID000123``, consistent between demandes and
    attributions), whose household coordinates carry distinctive decimals and
    whose ``qpv_residence`` is left empty (so that the coordinates are really
    used), plus two rows that are rejected on purpose (an unknown nationality and
    a latitude out of range).
``planted_run``
    One published analysis of that territory.
``killed_then_rerun``
    A copy of that published output, then a run whose notebook 02 kills its own
    kernel, then a rerun with the project notebooks in a subprocess, during which
    a second run on the same output is attempted in-process (it must meet the lock).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from allocation_analysis import pipeline, synth
from allocation_analysis.config import AnalysisConfig, InputPaths, Period

TEST_KEY_HEX = "5e" * 32
"""Pseudonymisation key of the test runs (never the user's key)."""

SEED = 20251
PERIOD = "2025-S2"
TERRITORY = "demo"
ID_PREFIX = "SECRETID"
LON_SUFFIX = "3917"
LAT_SUFFIX = "8263"

# The fixtures below are imported into several test modules, and pytest makes one
# fixture definition per module: the expensive results are cached here so that the
# pipeline runs once per test session, whichever modules are collected.
_CACHE: dict[str, object] = {}

KILLER_CELL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"


@dataclass
class PlantedDataset:
    """A synthetic input folder with planted identifiers and coordinates."""

    folder: Path
    options: dict
    raw_ids: list[str]
    coordinates: list[str]  # as written in demandes.csv
    key: bytes = field(default=bytes.fromhex(TEST_KEY_HEX))

    def paths_and_config(self, output: Path) -> tuple[InputPaths, AnalysisConfig, Path]:
        opts = dict(self.options, output=str(output))
        return pipeline.config_from_options(opts)


@dataclass
class PlantedRun:
    dataset: PlantedDataset
    root: Path
    final: Path
    seconds: float


@dataclass
class KilledThenRerun:
    dataset: PlantedDataset
    root: Path
    final: Path
    before: dict[str, str]  # relative path -> sha256 of the good output before the faulty run
    after_kill: dict[str, str]
    kill_error: BaseException | None
    tmp_after_kill: list[str]
    failed_dirs: list[Path]
    rerun_rc: int
    rerun_stderr: str
    lock_error: BaseException | None
    lock_seconds: float
    tmp_after_rerun: list[str]


def tree_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` (relative path → digest)."""
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def tmp_leftovers(terr_dir: Path) -> list[str]:
    """Temporary or half-replaced folders left in a territory folder."""
    return sorted(p.name for p in terr_dir.iterdir() if p.name.startswith((".tmp-", ".old-")))


@pytest.fixture(scope="session")
def test_environment(tmp_path_factory):
    """Test key in the environment and a private config home (never the real one)."""
    home = tmp_path_factory.mktemp("config_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLOCATION_ANALYSIS_KEY", TEST_KEY_HEX)
        mp.setenv("XDG_CONFIG_HOME", str(home))
        mp.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
        yield home


def _plant(folder: Path) -> tuple[list[str], list[str]]:
    dem = pd.read_csv(folder / "demandes.csv", dtype=str, keep_default_na=False)
    att = pd.read_csv(folder / "attributions.csv", dtype=str, keep_default_na=False)
    originals = sorted(set(dem["num_unique"]) | set(att["num_unique"]))
    new_id = {old: f"{ID_PREFIX}{i:06d}" for i, old in enumerate(originals, start=1)}
    dem["num_unique"] = dem["num_unique"].map(new_id)
    att["num_unique"] = att["num_unique"].map(new_id)
    # Coordinates kept within ~10 m of the generated ones, with distinctive trailing digits.
    has = dem["lon"] != ""
    dem.loc[has, "lon"] = [f"{float(v):.4f}{LON_SUFFIX}" for v in dem.loc[has, "lon"]]
    dem.loc[has, "lat"] = [f"{float(v):.4f}{LAT_SUFFIX}" for v in dem.loc[has, "lat"]]
    dem["qpv_residence"] = ""
    # Two rows rejected on purpose: their raw values must not reach rejects/.
    first, second = dem.index[has][:2]
    dem.loc[first, "nationalite"] = '=HYPERLINK("http://example.invalid","x")'
    dem.loc[second, "lat"] = f"95.1234{LAT_SUFFIX}"
    dem.to_csv(folder / "demandes.csv", index=False)
    att.to_csv(folder / "attributions.csv", index=False)
    coords = list(dem.loc[has, "lon"]) + list(dem.loc[has, "lat"])
    return list(new_id.values()), coords


@pytest.fixture(scope="session")
def planted_dataset(tmp_path_factory, test_environment) -> PlantedDataset:
    if "dataset" not in _CACHE:
        _CACHE["dataset"] = _make_dataset(tmp_path_factory)
    return _CACHE["dataset"]


def _make_dataset(tmp_path_factory) -> PlantedDataset:
    folder = tmp_path_factory.mktemp("planted_inputs")
    ds = synth.generate(scale="small", seed=SEED)
    synth.write_dataset(ds, folder)
    raw_ids, coords = _plant(folder)
    options = ds.run_options(folder)
    options.update(territory=TERRITORY, period=PERIOD)  # default seed, as the CLI run
    assert Period.parse(PERIOD).label == PERIOD
    return PlantedDataset(folder=folder, options=options, raw_ids=raw_ids, coordinates=coords)


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory, planted_dataset) -> PlantedRun:
    if "run" not in _CACHE:
        _CACHE["run"] = _make_run(tmp_path_factory, planted_dataset)
    return _CACHE["run"]


def _make_run(tmp_path_factory, planted_dataset: PlantedDataset) -> PlantedRun:
    root = tmp_path_factory.mktemp("planted_output")
    paths, config, output = planted_dataset.paths_and_config(root)
    t0 = time.perf_counter()
    # Everything the library logs, down to DEBUG, goes to run.log and is scanned.
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.DEBUG)
    try:
        final = pipeline.run_analysis(paths, config, output)
    finally:
        root_logger.setLevel(level)
    return PlantedRun(planted_dataset, root, final, time.perf_counter() - t0)


def killer_notebooks(dest: Path, victim: str = "02_indicateurs_cia.ipynb") -> Path:
    """Copy of the project notebooks in which ``victim`` SIGKILLs its own kernel."""
    src = pipeline.notebooks_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for nb in pipeline.NOTEBOOKS:
        shutil.copy2(src / nb, dest / nb)
    path = dest / victim
    nb = json.loads(path.read_text("utf-8"))
    # After the parameters cell, so that papermill really starts executing it.
    at = next(
        (
            i + 1
            for i, c in enumerate(nb["cells"])
            if "parameters" in c.get("metadata", {}).get("tags", [])
        ),
        0,
    )
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "killer",
        "metadata": {},
        "outputs": [],
        "source": KILLER_CELL,
    }
    nb["cells"].insert(at + 1, cell)
    path.write_text(json.dumps(nb), "utf-8")
    return dest


def cli_run_args(dataset: PlantedDataset, output: Path) -> list[str]:
    """``allocation-analysis run`` arguments for the planted dataset."""
    o = dataset.options
    args = [sys.executable, "-m", "allocation_analysis", "run"]
    for f in dataclasses.fields(InputPaths):
        if o.get(f.name):  # every input file of the data set, as the in-process run
            args += [f"--{f.name.replace('_', '-')}", o[f.name]]
    args += ["--period", PERIOD, "--territory", TERRITORY, "--siren-epci", str(o["siren_epci"])]
    args += ["--output", str(output)]
    return args


def wait_for(predicate, timeout: float, step: float = 0.2) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.fixture(scope="session")
def killed_then_rerun(tmp_path_factory, planted_run) -> KilledThenRerun:
    if "killed" not in _CACHE:
        _CACHE["killed"] = _make_killed_then_rerun(tmp_path_factory, planted_run)
    return _CACHE["killed"]


def _make_killed_then_rerun(tmp_path_factory, planted_run: PlantedRun) -> KilledThenRerun:
    ds = planted_run.dataset
    root = tmp_path_factory.mktemp("faults_output")
    terr = root / TERRITORY
    terr.mkdir()
    final = terr / PERIOD
    shutil.copytree(planted_run.final, final)
    before = tree_digest(final)
    paths, config, output = ds.paths_and_config(root)
    nbs = killer_notebooks(tmp_path_factory.mktemp("killer_notebooks"))
    kill_error = None
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.DEBUG)  # the failed run.log is scanned too
    try:
        pipeline.run_analysis(paths, config, output, notebooks=nbs, timeout=300)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        kill_error = exc
    finally:
        root_logger.setLevel(level)
    after_kill = tree_digest(final)
    tmp_after_kill = tmp_leftovers(terr)
    failed = sorted(p for p in terr.iterdir() if p.name.startswith("failed-"))

    # Rerun with the project notebooks; try a second run on the same output meanwhile.
    env = dict(os.environ)
    proc = subprocess.Popen(
        cli_run_args(ds, root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lock_error = None
    lock_seconds = float("nan")
    try:
        # The run creates its temporary folder only once it holds the lock.
        started = wait_for(lambda: bool(set(tmp_leftovers(terr)) - set(tmp_after_kill)), 120)
        if started:
            t0 = time.perf_counter()
            try:
                pipeline.run_analysis(paths, config, output)
            except BaseException as exc:  # noqa: BLE001
                lock_error = exc
            lock_seconds = time.perf_counter() - t0
        _, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return KilledThenRerun(
        dataset=ds,
        root=root,
        final=final,
        before=before,
        after_kill=after_kill,
        kill_error=kill_error,
        tmp_after_kill=tmp_after_kill,
        failed_dirs=failed,
        rerun_rc=proc.returncode,
        rerun_stderr=err,
        lock_error=lock_error,
        lock_seconds=lock_seconds,
        tmp_after_rerun=tmp_leftovers(terr),
    )
