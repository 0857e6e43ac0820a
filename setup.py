"""Build step that ships the notebooks inside the package.

The notebooks have one source, the repository's top-level ``notebooks/`` folder
(where researchers open them in JupyterLab). A built wheel must carry them, so
``build_py`` copies ``notebooks/*.ipynb`` to ``allocation_analysis/notebooks/``
of the build tree; the installed package finds them with :mod:`importlib.resources`
(:func:`allocation_analysis.pipeline.notebooks_dir`). An editable install copies
nothing: the package is the checkout's, and so are the notebooks. Everything
else is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
PACKAGE = "allocation_analysis"


class BuildPyWithNotebooks(build_py):
    """``build_py`` that also copies the top-level notebooks into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the checkout's notebooks are used in place
        sources = sorted(NOTEBOOKS.glob("*.ipynb"))
        if not sources:
            raise SystemExit(f"no notebook found in {NOTEBOOKS}: the package would not run")
        dest = Path(self.build_lib) / PACKAGE / "notebooks"
        dest.mkdir(parents=True, exist_ok=True)
        for stale in dest.glob("*.ipynb"):  # a notebook removed from the source
            stale.unlink()
        for nb in sources:
            shutil.copyfile(nb, dest / nb.name)


setup(cmdclass={"build_py": BuildPyWithNotebooks})
