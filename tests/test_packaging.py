"""Packaging and JupyterLab: what a researcher installs, opens and runs.

- The built wheel carries every notebook of the repository's top-level
  ``notebooks/`` and, installed on its own (``pip install --no-deps --target``,
  the running interpreter's dependencies reused), runs the demo from a folder
  outside the checkout.
- The kernel named in every notebook is the one the pipeline passes to papermill
  and the one ``make lab`` registers; a kernel that cannot be found or
  registered stops the run with a French message.
- Each notebook runs with its default parameters ("Run all" on a fresh clone):
  the built-in demo territory is generated on first use into ``outputs/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))
KEY = "5e" * 32  # pseudonymisation key of the child processes: no key file written in $HOME


# --------------------------------------------------------------------------- helpers
def _copy_source_tree(dest: Path) -> Path:
    """Copy what a fresh clone holds (tracked and new unignored files) to ``dest``.

    The wheel is built from this copy: nothing git ignores (``build/``, ``.venv``,
    ``outputs/``) can leak into it, and the checkout gets no ``build/`` folder.
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        files = [f for f in listed.split("\0") if f]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
        ignore = shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "outputs", "__pycache__", ".*cache"
        )
        shutil.copytree(ROOT, dest, ignore=ignore)
        return dest
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _can_build_without_isolation() -> bool:
    """The running interpreter has the build backend ``pyproject.toml`` asks for."""
    from importlib import metadata

    try:
        major, minor = (int(x) for x in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    if (major, minor) < (68, 0):
        return False
    if (major, minor) >= (70, 1):  # bdist_wheel is part of setuptools
        return True
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of the checkout.

    Without isolation when this interpreter has setuptools >= 68 (and ``wheel``);
    otherwise pip fetches the build backend alone from its configured index (the
    project's dependencies are never downloaded: ``--no-deps``).
    """
    base = tmp_path_factory.mktemp("wheel")
    src = _copy_source_tree(base / "src")
    dist = base / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(src)]
    if _can_build_without_isolation():
        cmd.insert(4, "--no-build-isolation")
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=base)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    wheels = sorted(dist.glob("allocation_analysis-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


# --------------------------------------------------------------------------- the wheel
@pytest.mark.slow
def test_wheel_ships_every_notebook_of_the_repository(wheel):
    assert NOTEBOOK_SOURCES, "no notebook in notebooks/"
    names = set(zipfile.ZipFile(wheel).namelist())
    for nb in NOTEBOOK_SOURCES:
        packed = f"allocation_analysis/notebooks/{nb.name}"
        assert packed in names, f"{nb.name} missing from {wheel.name}"
        assert zipfile.ZipFile(wheel).read(packed) == nb.read_bytes(), nb.name
    # no stray top-level folder (the notebooks belong to the package)
    assert {n.split("/")[0] for n in names} == {
        "allocation_analysis",
        f"allocation_analysis-{wheel.name.split('-')[1]}.dist-info",
    }


@pytest.mark.slow
def test_installed_wheel_runs_the_demo_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "ALLOCATION_ANALYSIS_KEY": KEY}
    env.pop("ALLOCATION_ANALYSIS_KEY_FILE", None)
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import allocation_analysis.pipeline as p; print(p.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout  # not the checkout
    out = tmp_path / "out"
    t0 = time.perf_counter()
    demo = subprocess.run(
        [sys.executable, "-m", "allocation_analysis", "demo", "--scale", "small"]
        + ["--output", str(out)],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    seconds = time.perf_counter() - t0
    assert demo.returncode == 0, demo.stderr[-3000:]
    reports = list(out.glob("demo/*/report.html"))
    assert len(reports) == 1 and reports[0].stat().st_size > 0, list(out.rglob("*"))[:50]
    print(f"demo from the installed wheel: {seconds:.1f} s")


def test_the_checkout_runs_its_own_top_level_notebooks():
    """Editable install (or the repository on the path): no packaged copy is used."""
    import allocation_analysis
    from allocation_analysis.pipeline import NOTEBOOKS, notebooks_dir

    if not Path(allocation_analysis.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("allocation_analysis is not imported from this checkout")
    assert notebooks_dir() == ROOT / "notebooks"
    # the report's notebooks, and the library tutorial that the report does not run
    assert sorted([*NOTEBOOKS, "tutoriel_bibliotheque.ipynb"]) == [
        nb.name for nb in NOTEBOOK_SOURCES
    ]


def test_environment_yml_installs_the_project_and_its_dependencies():
    """``conda env create -f environment.yml``: every runtime dependency, then the project."""
    import tomllib

    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text("utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]

    def name(req: str) -> str:
        return re.split(r"[\s<>=!~;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")

    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    have = {name(d) for d in conda + pip}
    wanted = {name(r) for r in project["dependencies"] + project["optional-dependencies"]["lab"]}
    wanted |= {"distributed"}  # dask[distributed]: conda-forge ships it as its own package
    assert wanted <= have, sorted(wanted - have)
    assert "pip" in have
    assert any(re.fullmatch(r"(-e\s+)?\.", p.strip()) for p in pip), pip  # the project itself


# --------------------------------------------------------------------------- kernel
def test_every_notebook_names_the_kernel_the_pipeline_and_make_lab_register():
    """The pipeline passes ``KERNEL_NAME`` to papermill; JupyterLab reads the metadata."""
    from allocation_analysis.pipeline import KERNEL_DISPLAY_NAME, KERNEL_NAME

    for nb in NOTEBOOK_SOURCES:
        spec = json.loads(nb.read_text("utf-8"))["metadata"]["kernelspec"]
        assert spec["name"] == KERNEL_NAME, nb.name
        assert spec["display_name"] == KERNEL_DISPLAY_NAME, nb.name
    make = (ROOT / "Makefile").read_text("utf-8")
    variables = dict(re.findall(r"^([A-Z_]+)\s*[:?]?=\s*(.*?)\s*$", make, flags=re.M))

    def expand(text: str) -> str:
        return re.sub(r"\$\((\w+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)

    installs = [expand(line) for line in make.splitlines() if "ipykernel install" in line]
    assert installs
    for line in installs:
        assert re.search(rf"--name {re.escape(KERNEL_NAME)}(\s|$)", line), line
        assert f'--display-name "{KERNEL_DISPLAY_NAME}"' in line, line
    lab = re.search(r"^lab:.*\n((?:\t.*\n)+)", make, flags=re.M)
    assert lab, "no lab target in the Makefile"
    assert "ipykernel install" in lab.group(1) and "jupyter lab" in lab.group(1)
    assert "--notebook-dir=notebooks" in lab.group(1)


def _no_kernel_anywhere(monkeypatch, *, specs: dict | None = None, read_only: bool = True):
    """Jupyter finds only ``specs``; registering a kernel fails (read-only prefix) or does
    nothing visible."""
    import ipykernel.kernelspec
    from jupyter_client import kernelspec

    def get_kernel_spec(self, name):
        if specs and name in specs:
            return specs[name]
        raise kernelspec.NoSuchKernel(name)

    def install(**kwargs):
        if read_only:
            raise PermissionError(13, "Permission denied", kwargs.get("prefix"))

    monkeypatch.setattr(kernelspec.KernelSpecManager, "get_kernel_spec", get_kernel_spec)
    monkeypatch.setattr(ipykernel.kernelspec, "install", install)


def test_a_missing_kernel_that_cannot_be_registered_is_a_french_error(monkeypatch):
    from allocation_analysis.errors import AnalysisError
    from allocation_analysis.pipeline import KERNEL_NAME, ensure_kernel

    _no_kernel_anywhere(monkeypatch)
    with pytest.raises(AnalysisError) as err:
        ensure_kernel()
    msg = str(err.value)
    assert f"Noyau Jupyter « {KERNEL_NAME} » introuvable" in msg, msg
    assert f"-m ipykernel install --sys-prefix --name {KERNEL_NAME}" in msg, msg
    assert "lecture seule" in msg and "NoSuchKernel" not in msg, msg


def test_the_demo_stops_before_the_notebooks_with_that_message(monkeypatch, tmp_path, capsys):
    from allocation_analysis.cli import main

    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY)
    _no_kernel_anywhere(monkeypatch)
    assert main(["demo", "--scale", "tiny", "--output", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "Échec de l'analyse : Noyau Jupyter « allocation-analysis » introuvable" in err, err
    assert "a échoué" not in err  # not reported as a failure of the first notebook
    assert not list((tmp_path / "out" / "demo").glob("failed-*"))
    assert not list((tmp_path / "out" / "demo").glob(".tmp-*"))


def test_a_kernel_of_another_interpreter_is_replaced_by_this_ones_python3(monkeypatch):
    """A same-named kernel earlier on Jupyter's path (``--user``) would run another Python."""
    from jupyter_client.kernelspec import KernelSpec

    from allocation_analysis.pipeline import KERNEL_NAME, ensure_kernel

    other = KernelSpec(argv=["/opt/other/bin/python", "-m", "ipykernel_launcher"], resource_dir="")
    native = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher"], resource_dir="")
    _no_kernel_anywhere(monkeypatch, specs={KERNEL_NAME: other, "python3": native}, read_only=False)
    assert ensure_kernel() == "python3"
    _no_kernel_anywhere(monkeypatch, specs={KERNEL_NAME: native}, read_only=False)
    assert ensure_kernel() == KERNEL_NAME


# --------------------------------------------------------------------------- notebooks
def test_the_notebooks_demo_territory_is_the_one_of_the_demo_command():
    import inspect

    from allocation_analysis.cli import build_parser
    from allocation_analysis.pipeline import demo_command
    from allocation_analysis.session import DEMO_DATA, DEMO_SCALE, DEMO_SEED

    args = build_parser().parse_args(["demo"])
    defaults = inspect.signature(demo_command).parameters
    assert (args.seed, args.scale) == (DEMO_SEED, DEMO_SCALE)
    assert (defaults["seed"].default, defaults["scale"].default) == (DEMO_SEED, DEMO_SCALE)
    assert "demo" / Path("donnees_synthetiques") == DEMO_DATA  # where demo_command writes it
    assert '"demo" / "donnees_synthetiques"' in inspect.getsource(demo_command)


def test_interactive_outputs_go_to_the_projects_outputs_folder(tmp_path):
    from allocation_analysis.session import default_output_root

    project = tmp_path / "clone"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\n", "utf-8")
    assert default_output_root(project / "notebooks") == project / "outputs"
    assert default_output_root(tmp_path / "anywhere") == tmp_path / "anywhere" / "outputs"
    (tmp_path / "notebooks").mkdir()  # a notebooks folder outside a project
    assert default_output_root(tmp_path / "notebooks") == tmp_path / "notebooks" / "outputs"


@pytest.mark.slow
def test_notebooks_run_all_with_their_default_parameters_on_a_fresh_clone(tmp_path, monkeypatch):
    """« Run all » in JupyterLab, each notebook in turn, with no parameter given.

    The notebooks run from the ``notebooks/`` folder of a fresh project (a copy with
    no ``outputs/``); the first one generates the demo territory into ``outputs/``,
    the next ones reuse it.
    """
    import papermill as pm

    from allocation_analysis.pipeline import ensure_kernel
    from allocation_analysis.synth import DEMO_PERIOD

    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY)
    project = tmp_path / "clone"
    nb_dir = project / "notebooks"
    nb_dir.mkdir(parents=True)
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    for nb in NOTEBOOK_SOURCES:
        shutil.copy2(nb, nb_dir / nb.name)
    kernel = ensure_kernel()
    for nb in NOTEBOOK_SOURCES:
        pm.execute_notebook(
            str(nb_dir / nb.name),
            str(tmp_path / f"executed-{nb.name}"),
            kernel_name=kernel,
            cwd=str(nb_dir),
            progress_bar=False,
        )
    outputs = project / "outputs"
    data = outputs / "demo" / "donnees_synthetiques"
    assert (data / "config.yaml").is_file() and (data / "demandes.csv").is_file()
    assert not list(outputs.glob("demo/.tmp-*"))
    session = outputs / "session" / "demo" / DEMO_PERIOD
    tables = {f.stem for f in (session / "tables").glob("*.csv")}
    # one table of each notebook
    assert {"controle_lignes", "indicateurs", "tests"} <= tables, sorted(outputs.rglob("*"))[:50]
    assert (session / "maps").is_dir() and (session / "figures").is_dir()
    assert not (nb_dir / "outputs").exists()  # the project's outputs/, ignored by git
