"""The pipeline treats the optional propositions file like every other input file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from allocation_analysis import pipeline, synth
from allocation_analysis.config import AnalysisConfig, InputPaths, Period


def test_manifest_lists_the_propositions_file_with_its_hash(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    files = {}
    for key, text in {
        "demandes": "a\n1\n",
        "attributions": "b\n2\n",
        "seuils": "c\n3\n",
        "propositions": "id_offre;id_demande\nO1;D1\n",
    }.items():
        f = data / f"{key}.csv"
        f.write_text(text, encoding="utf-8")
        files[key] = f
    paths = InputPaths(**files)
    monkeypatch.setattr(pipeline, "render_report", lambda *a, **k: None)
    tmp = tmp_path / "run"
    tmp.mkdir()
    manifest = pipeline._assemble(
        tmp,
        AnalysisConfig(period=Period.parse("2024-S1"), territory="t"),
        {"counts": []},
        paths,
        [],
        dt.datetime(2024, 7, 1, tzinfo=dt.UTC),
    )
    entry = manifest["inputs"]["propositions"]
    assert entry["file"] == "propositions.csv"
    assert entry["bytes"] == len(b"id_offre;id_demande\nO1;D1\n")
    # sha256 of the literal content, computed independently of the pipeline
    import hashlib

    assert entry["sha256"] == hashlib.sha256(b"id_offre;id_demande\nO1;D1\n").hexdigest()
    assert json.dumps(manifest)  # serialisable as written


def test_demo_command_points_the_propositions_key_at_the_generated_file(tmp_path, monkeypatch):
    real_generate = synth.generate

    def with_propositions(*, scale: str, seed: int):
        return real_generate(scale="tiny", seed=seed, propositions=True)

    captured: dict = {}

    def fake_run(paths, config, output_root):
        captured["paths"] = paths
        return Path(output_root)

    monkeypatch.setattr(synth, "generate", with_propositions)
    monkeypatch.setattr(pipeline, "run_analysis", fake_run)
    monkeypatch.chdir(tmp_path)
    assert pipeline.demo_command(output=str(tmp_path / "out")) == 0
    expected = tmp_path / "out" / "demo" / "donnees_synthetiques" / "propositions.csv"
    assert captured["paths"].propositions == expected
    assert captured["paths"].propositions.is_file()


@pytest.mark.parametrize("key", ["demandes", "attributions", "logements", "seuils"])
def test_demo_command_still_points_the_other_inputs_at_the_generated_files(
    tmp_path, monkeypatch, key
):
    captured: dict = {}
    real_generate = synth.generate
    monkeypatch.setattr(
        synth, "generate", lambda *, scale, seed: real_generate(scale="tiny", seed=seed)
    )
    monkeypatch.setattr(
        pipeline, "run_analysis", lambda p, c, o: captured.setdefault("paths", p) and Path(o)
    )
    monkeypatch.chdir(tmp_path)
    assert pipeline.demo_command(output=str(tmp_path / "out")) == 0
    assert (
        getattr(captured["paths"], key).parent == tmp_path / "out" / "demo" / "donnees_synthetiques"
    )
