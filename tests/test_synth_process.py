"""The allocation process of the generator (``propositions=True``).

The per-stage counts of ``truth.json`` are recounted here with pandas from the
written CSV files only (the funnel's definitions of methods §5 applied to the
contract columns), never with the toolkit.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocation_analysis.synth import generate, load_effects, synth_command

SEMESTERS = [
    (f"{y}-S{h}", pd.Timestamp(f"{y}-{'01' if h == 1 else '07'}-01"),
     pd.Timestamp(f"{y}-{'06-30' if h == 1 else '12-31'}"))
    for y in range(2022, 2026) for h in (1, 2)
]  # fmt: skip


def _read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def process_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("process")
    assert synth_command(output=out, seed=5, scale="small", fmt="csv", propositions=True) == 0
    return out


def test_truth_stage_counts_match_an_independent_recount_of_the_files(process_dir: Path) -> None:
    truth = json.loads((process_dir / "truth.json").read_text("utf-8"))
    dem = _read(process_dir, "demandes")
    pro = _read(process_dir, "propositions")
    att = _read(process_dir, "attributions")
    depot = pd.to_datetime(dem["date_depot"])
    rad = pd.to_datetime(dem["date_radiation"].replace("", None))
    groups = {("nationalite", g): dem["nationalite"] == g for g in ("francaise", "ue", "hors_ue")}
    groups[("residence", "qpv")] = dem["qpv_residence"] != ""
    groups[("residence", "hors_qpv")] = dem["qpv_residence"] == ""
    leases = set(zip(att["num_unique"], att["rpls_id"], strict=True))
    pro["date_cal"] = pd.to_datetime(pro["date_cal"])
    pro["fav"] = pro["decision_cal"].isin(["attribution", "attribution_sous_condition"])
    pro["off"] = pro["reponse_demandeur"] != ""
    pro["acc"] = pro["reponse_demandeur"] == "acceptation"
    pro["bail"] = pro["acc"] & np.array(
        [(n, r) in leases for n, r in zip(pro["num_unique"], pro["rpls_id"], strict=True)]
    )
    expected = {}
    for label, start, end in SEMESTERS:
        active = (depot <= end) & (rad.isna() | (rad >= start))
        p = pro[(pro["date_cal"] >= start) & (pro["date_cal"] <= end)]
        by_dem = p.groupby("num_unique")[["fav", "off", "acc", "bail"]].any()
        stage_sets = [set(by_dem.index)] + [set(by_dem.index[by_dem[c]]) for c in by_dem]
        for (comp, g), mask in groups.items():
            ids = dem.loc[active & mask, "num_unique"]
            counts = [int(ids.isin(s).sum()) for s in stage_sets]
            expected[(label, comp, g)] = [int(len(ids)), *counts]
    got = {
        (r["periode"], r["comparaison"], r["groupe"]): [
            r["actives"], r["designees"], r["favorables"], r["proposees"], r["acceptees"],
            r["baux"],
        ]
        for r in truth["processus"]["etapes"]
    }  # fmt: skip
    assert got == expected
    # every demand designated in the semester is active in it
    assert sum(v[1] for v in got.values()) > 0


def test_leases_without_a_recorded_proposition_are_counted_exactly(process_dir: Path) -> None:
    truth = json.loads((process_dir / "truth.json").read_text("utf-8"))
    att = _read(process_dir, "attributions")
    pro = _read(process_dir, "propositions")
    recorded = set(
        zip(
            pro.loc[pro["reponse_demandeur"] == "acceptation", "num_unique"],
            pro.loc[pro["reponse_demandeur"] == "acceptation", "rpls_id"],
            strict=True,
        )
    )
    att["date_bail"] = pd.to_datetime(att["date_bail"])
    unrec = ~pd.Series(
        [(n, r) in recorded for n, r in zip(att["num_unique"], att["rpls_id"], strict=True)]
    )
    for label, start, end in SEMESTERS:
        n = int((unrec & (att["date_bail"] >= start) & (att["date_bail"] <= end)).sum())
        recs = [
            r for r in truth["processus"]["etapes"]
            if r["periode"] == label and r["comparaison"] == "nationalite"
        ]  # fmt: skip
        assert sum(r["baux_sans_proposition"] for r in recs) == n
    assert 0 < unrec.mean() < 0.15  # about 5 % of the vacancies


def test_generated_process_files_pass_validation_with_zero_rejects(process_dir: Path) -> None:
    from allocation_analysis.config import InputPaths, load_config_file
    from allocation_analysis.io import load_inputs

    cfg = load_config_file(process_dir / "config.yaml")
    assert Path(cfg["propositions"]).name == "propositions.csv"
    inputs = load_inputs(InputPaths.from_mapping(cfg))
    for name, rejects in inputs.rejects.items():
        assert len(rejects) == 0, (name, rejects.head())
    assert len(inputs.propositions) == len(_read(process_dir, "propositions"))
    assert set(inputs.propositions["demande_id"]) <= set(inputs.demandes["demande_id"])
    cot = [c for c in inputs.demandes.columns if c.startswith("cotation_")]
    assert len(cot) == 5
    np.testing.assert_allclose(
        inputs.demandes[cot].sum(axis=1), inputs.demandes["score_cotation"], atol=0.01
    )


def test_every_commission_has_one_to_three_candidates_and_consistent_ranks(
    process_dir: Path,
) -> None:
    pro = _read(process_dir, "propositions")
    size = pro.groupby("id_offre").size()
    assert size.between(1, 3).all() and set(size) == {1, 2, 3}
    fav = pro[pro["decision_cal"].isin(["attribution", "attribution_sous_condition"])]
    for _, g in fav.groupby("id_offre"):
        ranks = sorted(int(r) for r in g["rang"])
        assert ranks == list(range(1, len(g) + 1))
        order = g.assign(r=g["rang"].astype(int)).sort_values("r")["reponse_demandeur"].tolist()
        # offers go down the ranks until an acceptance; no one after it is offered
        k = order.index("acceptation") if "acceptation" in order else len(order)
        assert all(a in ("refus", "sans_reponse") for a in order[:k])
        assert all(a == "" for a in order[k + 1 :])


def test_every_acceptance_is_the_lease_of_its_dwelling_and_each_dwelling_is_let_once(
    process_dir: Path,
) -> None:
    pro = _read(process_dir, "propositions")
    att = _read(process_dir, "attributions")
    accepted = pro[pro["reponse_demandeur"] == "acceptation"]
    assert not accepted.duplicated(["num_unique", "rpls_id"]).any()
    linked = accepted.merge(att, on=["num_unique", "rpls_id"], how="left", indicator=True)
    assert (linked["_merge"] == "both").all() and len(linked) == len(accepted)
    assert (pd.to_datetime(linked["date_bail"]) > pd.to_datetime(linked["date_cal"])).all()
    # the other leases are those of the vacancies without a recorded proposition
    truth = json.loads((process_dir / "truth.json").read_text("utf-8"))
    etapes = pd.DataFrame(truth["processus"]["etapes"])
    unrecorded = etapes.loc[etapes["comparaison"] == "nationalite", "baux_sans_proposition"]
    assert len(att) - len(accepted) == unrecorded.sum() > 0
    assert att["num_unique"].is_unique


# file digests of ``synth --scale tiny --seed 5`` (CSV) as written before the
# allocation process was added to the generator
DIGESTS_WITHOUT_PROCESS = {
    "attributions.csv": "3ddedaedbcb0bace49ed27dc737e89b6dea2daaf629d2b8353ca2ca6b1efc871",
    "demandes.csv": "da6d15944f744293e923d774a3e4dd242a3e25551613e598b30a57c9bcabc615",
    "logements.csv": "0533c65988ccc44ab427896992c1f2f075cfdddcd571983d5ed896c6a5347df4",
    "seuils_q1.csv": "c1c1cba8bd91ecc62d2cf96edd0b386a830dc0ce80871c9b74c7c5f3be70f991",
}
# (truth.json is not compared: other features add entries to it)


def test_runs_without_propositions_are_byte_identical_to_the_generator_without_process(
    tmp_path: Path,
) -> None:
    synth_command(output=tmp_path, seed=5, scale="tiny")
    digests = {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        for name in DIGESTS_WITHOUT_PROCESS
    }
    assert digests == DIGESTS_WITHOUT_PROCESS
    assert not (tmp_path / "propositions.csv").exists()


def test_process_keeps_the_dwellings_thresholds_and_vacancies(tmp_path: Path) -> None:
    synth_command(output=tmp_path / "a", seed=5, scale="tiny")
    synth_command(output=tmp_path / "b", seed=5, scale="tiny", propositions=True)
    for name in ("logements.csv", "seuils_q1.csv", "qpv.geojson"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    att_a, att_b = _read(tmp_path / "a", "attributions"), _read(tmp_path / "b", "attributions")
    # the leases are let on the access model's vacancies (dwelling, date, reservataire)
    # to the candidates the process retained; a vacancy no one accepted stays empty
    key = ["rpls_id", "date_bail", "reservataire"]
    assert set(map(tuple, att_b[key].to_numpy())) <= set(map(tuple, att_a[key].to_numpy()))
    assert len(att_b) > 0.95 * len(att_a)
    dem_a, dem_b = _read(tmp_path / "a", "demandes"), _read(tmp_path / "b", "demandes")
    assert dem_a["num_unique"].tolist() == dem_b["num_unique"].tolist()
    assert dem_a["date_depot"].tolist() == dem_b["date_depot"].tolist()
    assert not list((tmp_path / "a").glob("propositions.*"))
    assert list((tmp_path / "b").glob("propositions.*"))


def test_planted_designation_odds_ratio_lowers_the_designation_of_its_group() -> None:
    # same seed, same population and vacancies: only the designation odds ratio of
    # hors UE demands differs (0.6 planted vs 1); their designation rate relative
    # to French demands must be lower with the planted effect
    planted = load_effects("processus")
    assert planted["processus"]["designation"]["nationalite"]["hors_ue"] == 0.6
    neutral = json.loads(json.dumps(planted))
    neutral["processus"]["designation"]["nationalite"]["hors_ue"] = 1.0

    def relative_rate(eff: dict) -> float:
        ds = generate(scale="small", seed=11, effects=eff, propositions=True)
        et = pd.DataFrame(ds.truth["processus"]["etapes"])
        nat = et[et["comparaison"] == "nationalite"].groupby("groupe")[["actives", "designees"]]
        rate = nat.sum()["designees"] / nat.sum()["actives"]
        return float(rate["hors_ue"] / rate["francaise"])

    assert relative_rate(planted) < 0.85 * relative_rate(neutral)


def test_null_process_effects_have_every_group_ratio_one() -> None:
    eff = load_effects("processus_null")
    for stage in ("designation", "decision_cal", "refus"):
        assert eff["processus"][stage]["nationalite"] == {"ue": 1.0, "hors_ue": 1.0}
        assert eff["processus"][stage]["residence_qpv"] == 1.0
    assert "composition" in eff


@pytest.mark.parametrize("fmt", ["fr-csv", "parquet"])
def test_process_files_in_other_formats_load_with_zero_rejects(tmp_path: Path, fmt: str) -> None:
    from allocation_analysis.config import InputPaths, load_config_file
    from allocation_analysis.io import load_inputs

    synth_command(output=tmp_path, seed=2, scale="tiny", fmt=fmt, propositions=True)
    inputs = load_inputs(InputPaths.from_mapping(load_config_file(tmp_path / "config.yaml")))
    assert all(len(r) == 0 for r in inputs.rejects.values())
    truth = json.loads((tmp_path / "truth.json").read_text("utf-8"))
    assert len(inputs.propositions) == truth["counts"]["propositions"] > 0
    assert inputs.demandes["score_cotation"].notna().all()


def _with(eff: dict, path: tuple[str, ...], value: float) -> dict:
    out = json.loads(json.dumps(eff))
    node = out["processus"]
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def test_planted_cal_decision_odds_ratio_lowers_favourable_decisions_of_qpv_residents() -> None:
    planted = load_effects("processus")
    assert planted["processus"]["decision_cal"]["residence_qpv"] == 0.6
    neutral = _with(planted, ("decision_cal", "residence_qpv"), 1.0)

    def relative_rate(eff: dict) -> float:
        ds = generate(scale="small", seed=12, effects=eff, propositions=True)
        et = pd.DataFrame(ds.truth["processus"]["etapes"])
        res = et[et["comparaison"] == "residence"].groupby("groupe")[["designees", "favorables"]]
        rate = res.sum()["favorables"] / res.sum()["designees"]
        return float(rate["qpv"] / rate["hors_qpv"])

    assert relative_rate(planted) < relative_rate(neutral) - 0.03


def test_planted_refusal_odds_ratio_of_qpv_dwellings_shows_among_offers() -> None:
    planted = load_effects("processus")
    neutral = _with(planted, ("refus", "logement_qpv"), 1.0)

    def refusal_gap(eff: dict) -> float:
        p = generate(scale="small", seed=13, effects=eff, propositions=True).propositions
        offered = p[p["reponse_demandeur"].notna()]
        in_force = np.where(offered["date_cal"] >= pd.Timestamp("2024-01-01"), "QN", "QP")
        qpv = [c in str(q) for c, q in zip(in_force, offered["qpv_logement"], strict=True)]
        refused = offered["reponse_demandeur"] != "acceptation"
        share = refused.groupby(np.array(qpv)).mean()
        return float(share[True] - share[False])

    assert refusal_gap(planted) > refusal_gap(neutral) + 0.03


def test_truth_with_propositions_does_not_call_the_access_odds_ratios_exact() -> None:
    truth = generate(scale="tiny", seed=3, propositions=True).truth
    assert not any(k.startswith(("access.", "placement_qpv.")) for k in truth["exact"])
    assert "processus" in truth["exact"]
    assert "access_placement" in truth["processus"]["estimands"]
    without = generate(scale="tiny", seed=3).truth
    assert "access.nationalite" in without["exact"]
