"""``load_inputs`` passes the geography files to the geography loaders (real public layers)."""

from __future__ import annotations

from allocation_analysis.cli import main
from allocation_analysis.config import InputPaths
from allocation_analysis.io import load_inputs


def test_load_inputs_with_real_communes_and_qpv(valid_files, shared_geo):
    paths = InputPaths(
        demandes=valid_files["demandes"],
        attributions=valid_files["attributions"],
        seuils=valid_files["seuils"],
        communes=shared_geo / "mel_communes.geojson",
        qpv=shared_geo / "occitanie_qpv_2015.geojson",
    )
    inputs = load_inputs(paths)
    assert {"insee_com", "geometry"} <= set(inputs.communes.columns)
    assert {"code_qpv", "liste", "geometry"} <= set(inputs.qpv.columns)
    assert inputs.communes.crs.to_epsg() == 2154
    assert "59350" in set(inputs.communes["insee_com"])  # Lille
    assert inputs.logements is None
    assert any("logements" in n for n in inputs.report.notes)


def test_validate_command_with_geography(valid_files, shared_geo, capsys):
    args = ["validate", "--demandes", str(valid_files["demandes"])]
    args += ["--attributions", str(valid_files["attributions"])]
    args += ["--communes", str(shared_geo / "mel_communes.geojson")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5 lignes lues, 5 acceptées, 0 rejetées" in out
    assert "- communes : 95 contours" in out
