"""``Session.propositions``: carried from the inputs through prepare, the working
folder and ``open_session``, joined to the demands by the shared pseudonym."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocation_analysis.config import InputPaths, load_config_file
from allocation_analysis.io import load_inputs
from allocation_analysis.session import open_session, prepare, save_prepared
from allocation_analysis.synth import synth_command

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)


@pytest.fixture(scope="module")
def tiny_process(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("tiny_process")
    synth_command(output=out, seed=4, scale="tiny", propositions=True)
    return load_config_file(out / "config.yaml")


def _opts(cfg: dict, *, with_propositions: bool = True) -> dict:
    keys = ["demandes", "attributions", "logements", "seuils", "siren_epci", "period"]
    out = {k: cfg[k] for k in keys}
    if with_propositions:
        out["propositions"] = cfg["propositions"]
    return out


def test_session_propositions_join_the_demands_and_leases(tiny_process, tmp_path):
    s = open_session(**_opts(tiny_process), territory="t", output_dir=str(tmp_path / "o"))
    p = s.propositions
    assert p is not None
    raw = pd.read_csv(tiny_process["propositions"], dtype=str, keep_default_na=False)
    assert len(p) == len(raw)
    assert set(p["demande_id"]) <= set(s.demandes["demande_id"])
    # the accepted offers are the leases: same pseudonym and same dwelling
    acc = p[p["reponse_demandeur"] == "acceptation"]
    leases = set(zip(s.allocations["demande_id"], s.allocations["rpls_id"], strict=True))
    assert all((d, r) in leases for d, r in zip(acc["demande_id"], acc["rpls_id"], strict=True))
    assert set(p["decision_cal"]) <= {
        "attribution", "attribution_sous_condition", "non_attribution", "irrecevabilite",
    }  # fmt: skip
    # the dwelling's QPV status on the commission date, from the QPV codes
    in_qpv = raw["qpv_logement"].str.contains("QN") & (raw["date_cal"] >= "2024-01-01") | raw[
        "qpv_logement"
    ].str.contains("QP") & (raw["date_cal"] < "2024-01-01")
    assert int(p["logement_en_qpv"].sum()) == int(in_qpv.sum())
    assert {"score_cotation", "cotation_anciennete"} <= set(s.demandes.columns)


def test_working_folder_round_trip_keeps_propositions(tiny_process, tmp_path):
    inputs = load_inputs(InputPaths.from_mapping(_opts(tiny_process)))
    s0 = open_session(**_opts(tiny_process), territory="t", output_dir=str(tmp_path / "o"))
    frames = prepare(inputs, s0.config)
    work = tmp_path / "work"
    save_prepared(work, frames, inputs, {"counts": []})
    s = open_session(period=tiny_process["period"], work_dir=str(work), output_dir=str(tmp_path))
    # same values (the text columns come back from parquet with another string storage,
    # as for the other prepared frames)
    pd.testing.assert_frame_equal(
        s.propositions.reset_index(drop=True),
        frames["propositions"].reset_index(drop=True),
        check_dtype=False,
    )
    # a later run without propositions must not read the earlier file
    inputs2 = load_inputs(InputPaths.from_mapping(_opts(tiny_process, with_propositions=False)))
    save_prepared(work, prepare(inputs2, s0.config), inputs2, {"counts": []})
    assert not (Path(work) / "propositions.parquet").exists()
    s2 = open_session(period=tiny_process["period"], work_dir=str(work), output_dir=str(tmp_path))
    assert s2.propositions is None
