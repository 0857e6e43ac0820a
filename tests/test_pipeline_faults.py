"""Faults during a run: killed kernel, full disk, SIGTERM, two runs at once, hostile names.

In every case the previous good output survives byte for byte, no temporary folder
is left behind, the error says what failed, and a rerun completes.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pipeline_fixtures
import pytest
from pipeline_fixtures import PERIOD, TERRITORY, cli_run_args, tmp_leftovers, tree_digest, wait_for

from allocation_analysis import outputs, pipeline
from allocation_analysis.cli import main as cli_main
from allocation_analysis.errors import AnalysisError, UsageError

# Shared session fixtures (see tests/pipeline_fixtures.py).
killed_then_rerun = pipeline_fixtures.killed_then_rerun
planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment


def _good_copy(planted_run, root: Path) -> Path:
    final = root / TERRITORY / PERIOD
    final.parent.mkdir(parents=True)
    shutil.copytree(planted_run.final, final)
    return final


# --------------------------------------------------------------------------- (a) kernel killed
@pytest.mark.slow
def test_killed_kernel_fails_with_the_notebook_and_failed_folder_named(killed_then_rerun):
    r = killed_then_rerun
    assert isinstance(r.kill_error, AnalysisError), repr(r.kill_error)
    msg = str(r.kill_error)
    assert "02_indicateurs_cia.ipynb" in msg
    assert len(r.failed_dirs) == 1
    assert str(r.failed_dirs[0]) in msg
    assert (r.failed_dirs[0] / "02_indicateurs_cia.ipynb").is_file()
    assert (r.failed_dirs[0] / "run.log").is_file()
    # No working data in the failed folder.
    assert sorted(p.name for p in r.failed_dirs[0].iterdir()) == [
        "02_indicateurs_cia.ipynb",
        "run.log",
    ]


@pytest.mark.slow
def test_killed_kernel_leaves_previous_output_intact_and_no_temporary_folder(killed_then_rerun):
    r = killed_then_rerun
    assert r.after_kill == r.before
    assert r.tmp_after_kill == []


@pytest.mark.slow
def test_rerun_after_a_killed_kernel_completes(killed_then_rerun):
    r = killed_then_rerun
    assert r.rerun_rc == 0, r.rerun_stderr[-2000:]
    assert (r.final / "report.html").is_file()
    assert r.tmp_after_rerun == []


def test_killed_kernel_exit_code_is_3(planted_dataset, tmp_path, monkeypatch, capsys):
    nbs = pipeline_fixtures.killer_notebooks(tmp_path / "nb", victim="01_donnees.ipynb")
    monkeypatch.setattr(pipeline, "notebooks_dir", lambda: nbs)
    args = cli_run_args(planted_dataset, tmp_path / "out")[3:]
    assert cli_main(args) == 3
    err = capsys.readouterr().err
    assert "01_donnees.ipynb" in err and "failed-" in err
    assert tmp_leftovers(tmp_path / "out" / TERRITORY) == []


# --------------------------------------------------------------------------- (d) lock
@pytest.mark.slow
def test_second_run_on_the_same_output_fails_fast_on_the_lock(killed_then_rerun):
    r = killed_then_rerun
    assert isinstance(r.lock_error, AnalysisError), repr(r.lock_error)
    assert "Une autre exécution est en cours" in str(r.lock_error)
    assert r.lock_seconds < 5
    assert r.rerun_rc == 0  # the first run was not disturbed


def test_lock_is_released_after_a_failure(planted_dataset, tmp_path):
    paths, config, output = planted_dataset.paths_and_config(tmp_path)
    with (
        pytest.raises(AnalysisError, match="Une autre exécution"),
        pipeline.run_lock(tmp_path / TERRITORY, PERIOD),
    ):
        pipeline.run_analysis(paths, config, output)
    with pipeline.run_lock(tmp_path / TERRITORY, PERIOD):
        pass  # acquired again: not left held


# --------------------------------------------------------------------------- (b) disk full
def _failing_writer(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results.json")


@pytest.mark.slow
def test_disk_full_in_the_writer_keeps_previous_output(planted_run, tmp_path, monkeypatch):
    final = _good_copy(planted_run, tmp_path)
    before = tree_digest(final)
    paths, config, output = planted_run.dataset.paths_and_config(tmp_path)

    def full_disk_after_validation(*a, **k):  # the first private write of the run
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x.parquet"))

    import allocation_analysis.session as session

    monkeypatch.setattr(session, "save_prepared", full_disk_after_validation)
    monkeypatch.setattr(outputs, "_atomic_write_bytes", _failing_writer)
    with pytest.raises(AnalysisError, match="Écriture impossible") as exc:
        pipeline.run_analysis(paths, config, output)
    assert "sortie précédente est intacte" in str(exc.value)
    assert tree_digest(final) == before
    assert tmp_leftovers(final.parent) == []


def _mount_tmpfs(where: Path, size: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
    )
    return res.returncode == 0


@pytest.mark.slow
def test_real_full_disk_keeps_previous_output_and_says_so(planted_run, tmp_path):
    mnt = tmp_path / "small_disk"
    size = sum(f.stat().st_size for f in planted_run.final.rglob("*") if f.is_file())
    if not _mount_tmpfs(mnt, size + 300_000):
        pytest.skip("tmpfs cannot be mounted here; the patched-writer test covers this case")
    try:
        final = _good_copy(planted_run, mnt)
        before = tree_digest(final)
        paths, config, output = planted_run.dataset.paths_and_config(mnt)
        with pytest.raises(AnalysisError) as exc:
            pipeline.run_analysis(paths, config, output, timeout=300)
        msg = str(exc.value)
        assert "intacte" in msg
        assert tree_digest(final) == before
        assert tmp_leftovers(final.parent) == []
        # The lock is free for a rerun (a complete rerun after a failure is checked
        # after the killed kernel).
        with pipeline.run_lock(final.parent, PERIOD):
            pass
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


# --------------------------------------------------------------------------- (c) SIGTERM
def _kernel_pids(marker: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (d / "environ").read_bytes()
        except OSError:
            continue
        if "ipykernel" in cmd and marker.encode() in environ:
            pids.append(int(d.name))
    return pids


@pytest.mark.slow
def test_sigterm_during_a_notebook_keeps_previous_output(planted_run, tmp_path):
    final = _good_copy(planted_run, tmp_path)
    before = tree_digest(final)
    marker = f"AA_SIGTERM_TEST_{os.getpid()}_{time.time_ns()}"
    env = dict(os.environ, AA_TEST_MARKER=marker)
    proc = subprocess.Popen(
        cli_run_args(planted_run.dataset, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Wait until a kernel of this run executes a notebook.
        assert wait_for(lambda: _kernel_pids(marker), 180), "no kernel started"
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "interrompue" in err
    assert tree_digest(final) == before
    assert tmp_leftovers(final.parent) == []
    assert wait_for(lambda: not _kernel_pids(marker), 15), "kernel left running"


# --------------------------------------------------------------------------- hostile names
@pytest.mark.parametrize("name", ["..", ".", "../evil", "a/b", "/etc", "x\\..\\y", "", "a" * 80])
def test_territory_names_cannot_escape_the_output_folder(name):
    with pytest.raises(UsageError):
        pipeline.check_name(name, "Nom de territoire")


def test_config_with_traversal_in_territory_is_refused_before_writing(planted_dataset, tmp_path):
    opts = dict(planted_dataset.options, territory="../../escape", output=str(tmp_path / "out"))
    with pytest.raises(UsageError):
        pipeline.config_from_options(opts)
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "out").exists()


def test_traversal_in_an_input_path_is_a_clear_input_error(planted_dataset, tmp_path, capsys):
    args = cli_run_args(planted_dataset, tmp_path / "out")[3:]
    i = args.index("--demandes")
    args[i + 1] = str(tmp_path / ".." / ".." / "no" / "such" / "demandes.csv")
    assert cli_main(args) == 1
    assert "introuvable" in capsys.readouterr().err


# --------------------------------------------------------------------------- lock and leftovers
def test_lock_file_symlink_is_refused_and_its_target_left_intact(tmp_path):
    folder = tmp_path / TERRITORY
    folder.mkdir()
    precious = tmp_path / "precieux.txt"
    precious.write_text("ne pas effacer", encoding="utf-8")
    (folder / f".{PERIOD}.lock").symlink_to(precious)
    with pytest.raises(AnalysisError, match="lien symbolique"), pipeline.run_lock(folder, PERIOD):
        pass
    assert precious.read_text(encoding="utf-8") == "ne pas effacer"


def test_run_sweeps_the_working_data_a_killed_run_left_behind(planted_dataset, tmp_path):
    """A run killed outright (SIGKILL, power cut) leaves ``.tmp-<period>-*`` with its
    pseudonymised working files; the next run of that period, holding the lock,
    removes it. Another period's folder is not touched (its own run may be alive)."""
    paths, config, output = planted_dataset.paths_and_config(tmp_path)
    terr = Path(output).resolve() / TERRITORY
    stale = terr / f".tmp-{PERIOD}-killed" / "_work"
    stale.mkdir(parents=True)
    (stale / "demandes.parquet").write_bytes(b"pseudonymised rows")
    other = terr / ".tmp-2024-S1-alive"
    other.mkdir()
    pipeline.run_analysis(paths, config, output)
    assert not (terr / f".tmp-{PERIOD}-killed").exists()
    assert other.exists()
