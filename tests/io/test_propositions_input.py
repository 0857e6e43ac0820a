"""The optional ``propositions`` file and the cotation columns of ``demandes``.

Every file is written by hand here; the expected codes, rejects and counts
are read off the rows, never taken from the loader.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from allocation_analysis.config import InputPaths
from allocation_analysis.errors import InputError
from allocation_analysis.io import load_inputs
from allocation_analysis.io.load import load_table
from tests.io.conftest import DEMANDES_HEADER, DEMANDES_ROWS, write_csv

PROPOSITIONS_HEADER = (
    "num_unique;id_offre;date_cal;rpls_id;commune_logement;qpv_logement;bailleur_siren;"
    "reservataire;decision_cal;rang;reponse_demandeur;motif_refus"
)
# Six valid candidates, typed as landlords type them.
PROPOSITIONS_ROWS = [
    "059100002;O1;01/06/2024;R001;;;123456789;Etat;Attribution;1;Acceptation;",
    "059100001;O1;01/06/2024;R001;;;123456789;Etat;Attribution sous condition;2;;",
    "059100004;O1;01/06/2024;R001;;;123456789;Etat;Irrecevabilité;;;",
    "059100003;O2;10/02/2024;R002;;;123456789;collectivité;ATTRIBUTION;1;Refus;État logement",
    "059100005;O2;10/02/2024;R002;;;123456789;collectivité;attribution;2;Sans réponse;",
    "059100001;O3;15/08/2024;;59350;QP059001;987654321;Action logement;Non attribution;;;",
]


def _paths(files: dict[str, Path], rows: list[str], tmp_path: Path) -> InputPaths:
    prop = write_csv(tmp_path / "propositions.csv", PROPOSITIONS_HEADER, rows)
    return InputPaths(
        demandes=files["demandes"],
        attributions=files["attributions"],
        logements=files["logements"],
        seuils=files["seuils"],
        propositions=prop,
    )


def _load(valid_files, tmp_path, rows, **kw):
    return load_inputs(_paths(valid_files, rows, tmp_path), siren_epci="200093201", **kw)


def test_landlord_spellings_of_decisions_answers_and_reasons_become_contract_codes(
    valid_files, tmp_path
):
    inputs = _load(valid_files, tmp_path, PROPOSITIONS_ROWS)
    p = inputs.propositions
    assert p is not None and len(p) == 6
    assert p["decision_cal"].tolist() == [
        "attribution",
        "attribution_sous_condition",
        "irrecevabilite",
        "attribution",
        "attribution",
        "non_attribution",
    ]
    assert p["reponse_demandeur"].fillna("").tolist() == [
        "acceptation",
        "",
        "",
        "refus",
        "sans_reponse",
        "",
    ]
    assert p["motif_refus"].fillna("").tolist() == ["", "", "", "etat_logement", "", ""]
    assert p["reservataire"].tolist()[3] == "collectivite"
    assert p["rang"].tolist()[:2] == [1, 2]
    assert "num_unique" not in p.columns


def test_propositions_identifiers_are_the_pseudonyms_of_the_demands(valid_files, tmp_path):
    inputs = _load(valid_files, tmp_path, PROPOSITIONS_ROWS)
    # demand file rows 2..6 hold 059100001..059100005 in order
    dem_id = dict(zip(inputs.demandes["source_row"], inputs.demandes["demande_id"], strict=True))
    expected_rows = [3, 2, 5, 4, 6, 2]  # demand row of each proposition, read off the files
    assert inputs.propositions["demande_id"].tolist() == [dem_id[r] for r in expected_rows]
    # and the allocations share them (059100002 signed a lease)
    assert dem_id[3] in set(inputs.attributions["demande_id"])


def _rejects(inputs) -> pd.DataFrame:
    return inputs.rejects["propositions"]


def test_rank_on_an_unfavourable_decision_is_a_row_reject_in_french(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, "059100005;O3;15/08/2024;R003;;;987654321;Etat;Non attribution;1;;"]
    inputs = _load(valid_files, tmp_path, rows)
    rej = _rejects(inputs)
    hit = rej[rej["rule"] == "rang_sans_decision_favorable"]
    assert hit["source_row"].tolist() == [8]
    assert hit["column"].tolist() == ["rang"]
    assert "sans décision favorable" in hit["message"].iloc[0]
    assert len(inputs.propositions) == 6


def test_answer_without_a_favourable_decision_is_a_row_reject(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, "059100005;O3;15/08/2024;R003;;;987654321;Etat;Irrecevable;;Refus;"]
    rej = _rejects(_load(valid_files, tmp_path, rows))
    hit = rej[rej["rule"] == "reponse_sans_decision_favorable"]
    assert hit["source_row"].tolist() == [8]
    assert "n'a pas pu lui être proposé" in hit["message"].iloc[0]


def test_refusal_reason_without_a_refusal_is_a_row_reject(valid_files, tmp_path):
    rows = [
        *PROPOSITIONS_ROWS,
        "059100005;O3;15/08/2024;R003;;;987654321;Etat;Attribution;1;Acceptation;Loyer",
    ]
    rej = _rejects(_load(valid_files, tmp_path, rows))
    hit = rej[rej["rule"] == "motif_sans_refus"]
    assert hit["source_row"].tolist() == [8]
    assert hit["column"].tolist() == ["motif_refus"]


def test_unknown_decision_is_a_row_reject_naming_the_allowed_values(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, "059100005;O3;15/08/2024;R003;;;987654321;Etat;Ajournée;;;"]
    rej = _rejects(_load(valid_files, tmp_path, rows, unknown_share=0.5))
    hit = rej[rej["column"] == "decision_cal"]
    assert hit["source_row"].tolist() == [8]
    assert hit["value"].tolist() == ["Ajournée"]
    assert "attribution_sous_condition" in hit["message"].iloc[0]


def test_commission_before_the_filing_is_a_row_reject(valid_files, tmp_path):
    # 059100005 was filed on 05/05/2023
    rows = [*PROPOSITIONS_ROWS, "059100005;O4;01/02/2023;R003;;;987654321;Etat;Attribution;1;;"]
    rej = _rejects(_load(valid_files, tmp_path, rows))
    hit = rej[rej["rule"] == "cal_avant_depot"]
    assert hit["source_row"].tolist() == [8]
    assert "antérieure à la date de dépôt" in hit["message"].iloc[0]


def test_same_candidate_twice_for_one_dwelling_is_a_duplicate(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, PROPOSITIONS_ROWS[0]]
    rej = _rejects(_load(valid_files, tmp_path, rows))
    hit = rej[rej["rule"] == "doublon"]
    assert hit["source_row"].tolist() == [8]
    assert "ligne 2" in hit["message"].iloc[0]


def test_candidate_unknown_to_the_demand_file_refuses_the_file(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, "059199999;O3;15/08/2024;R003;;;987654321;Etat;Attribution;1;;"]
    with pytest.raises(InputError) as exc:
        _load(valid_files, tmp_path, rows)
    assert exc.value.rule == "reference_demande"
    assert "1 proposition(s) renvoient à une demande absente" in str(exc.value)
    assert exc.value.column == "num_unique"
    assert 8 in exc.value.rows


def test_dwelling_unknown_to_the_dwelling_file_refuses_the_file(valid_files, tmp_path):
    rows = [*PROPOSITIONS_ROWS, "059100005;O3;15/08/2024;R999;;;987654321;Etat;Attribution;1;;"]
    with pytest.raises(InputError) as exc:
        _load(valid_files, tmp_path, rows)
    assert exc.value.rule == "reference_logement"
    assert "proposition(s) renvoient à un logement" in str(exc.value)


def test_every_physical_row_of_the_propositions_file_is_accounted_for(valid_files, tmp_path):
    rows = [
        *PROPOSITIONS_ROWS,
        "059100005;O3;15/08/2024;R003;;;987654321;Etat;Non attribution;1;;",  # rank, row 8
        "059100005;O5;15/08/2024;R003;;;987654321;Etat",  # too few fields, row 9
        "059100004;O5;15/08/2024;R003;;;987654321;Etat;Attribution;0;;",  # rank < 1, row 10
        "059100003;O5;15/08/2024;;;;987654321;Etat;Attribution;;;",  # no commune, row 11
    ]
    inputs = _load(valid_files, tmp_path, rows)
    t = inputs.report.tables["propositions"]
    assert (t.read, t.accepted, t.rejected) == (10, 6, 4)
    assert sorted(set(_rejects(inputs)["source_row"])) == [8, 9, 10, 11]
    assert "propositions" in inputs.report.summary()


def test_no_propositions_file_gives_none(valid_files):
    paths = InputPaths(**{k: valid_files[k] for k in valid_files})
    inputs = load_inputs(paths, siren_epci="200093201")
    assert inputs.propositions is None
    assert "propositions" not in inputs.rejects


# ------------------------------------------------------------------ cotation
def _demandes_with(tmp_path: Path, columns: str, values: list[str]) -> Path:
    rows = [f"{r};{v}" for r, v in zip(DEMANDES_ROWS, values, strict=True)]
    return write_csv(tmp_path / "demandes.csv", f"{DEMANDES_HEADER};{columns}", rows)


def test_cotation_columns_are_kept_and_a_wrong_sum_is_rejected_with_both_values(tmp_path, key):
    f = _demandes_with(
        tmp_path,
        "score_cotation;Cotation Ancienneté;cotation_sans_logement",
        ["12;4;8", "15;4;8", "10,5;10,5;0", ";;", "0,01;0;0"],
    )
    res = load_table(f, "demandes", key=key)
    rej = res.rejects
    hit = rej[rej["rule"] == "cotation_somme"]
    assert hit["source_row"].tolist() == [3]
    assert "(12,00 points)" in hit["message"].iloc[0]  # 4 + 8
    assert "score_cotation (15,00 points)" in hit["message"].iloc[0]
    # 0.01 point of difference is within the tolerance; a demand not scored is accepted
    assert res.n_accepted == 4
    assert {"score_cotation", "cotation_anciennete", "cotation_sans_logement"} <= set(
        res.data.columns
    )
    assert res.data["score_cotation"].tolist()[:2] == [12.0, 10.5]
    assert pd.isna(res.data["score_cotation"].iloc[2])


def test_half_filled_cotation_is_a_row_reject_naming_the_empty_cells(tmp_path, key):
    f = _demandes_with(
        tmp_path, "score_cotation;cotation_anciennete", ["12;12", "15;", "3;3", "4;4", "5;5"]
    )
    res = load_table(f, "demandes", key=key)
    hit = res.rejects[res.rejects["rule"] == "cotation_incomplete"]
    assert hit["source_row"].tolist() == [3]
    assert "cotation_anciennete" in hit["message"].iloc[0]


def test_negative_points_are_rejected(tmp_path, key):
    f = _demandes_with(
        tmp_path, "score_cotation;cotation_anciennete", ["12;12", "-1;-1", "3;3", "4;4", "5;5"]
    )
    res = load_table(f, "demandes", key=key)
    assert set(res.rejects.loc[res.rejects["rule"] == "minimum", "source_row"]) == {3}


def test_criteria_without_a_score_column_refuse_the_file(tmp_path, key):
    f = _demandes_with(tmp_path, "cotation_anciennete", ["1", "2", "3", "4", "5"])
    with pytest.raises(InputError) as exc:
        load_table(f, "demandes", key=key)
    assert exc.value.rule == "score_cotation_manquant"
    assert exc.value.column == "cotation_anciennete"
    assert "score_cotation" in str(exc.value)


def test_a_demand_file_without_cotation_gets_no_cotation_column(valid_files, key):
    res = load_table(valid_files["demandes"], "demandes", key=key)
    assert not [c for c in res.data.columns if "cotation" in c]


def test_validate_command_reads_the_propositions_flag(valid_files, tmp_path, capsys):
    from allocation_analysis.cli import main

    prop = write_csv(
        tmp_path / "propositions.csv",
        PROPOSITIONS_HEADER,
        [*PROPOSITIONS_ROWS, "059100005;O3;15/08/2024;R003;;;987654321;Etat;Non attribution;1;;"],
    )
    code = main(
        [
            "validate",
            "--demandes", str(valid_files["demandes"]),
            "--attributions", str(valid_files["attributions"]),
            "--logements", str(valid_files["logements"]),
            "--seuils", str(valid_files["seuils"]),
            "--siren-epci", "200093201",
            "--propositions", str(prop),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "propositions (" in out and "7 lignes lues, 6 acceptées, 1 rejetées" in out
    assert "ligne 8 : rang" in out


def test_batch_resolves_a_relative_propositions_path_against_its_file(tmp_path):
    from allocation_analysis.batch import plan_tasks

    (tmp_path / "b.yaml").write_text(
        "output: out\nruns:\n  - territory: t\n    demandes: d.csv\n    attributions: a.csv\n"
        "    seuils: s.csv\n    propositions: p.csv\n    period: 2024-S2\n",
        encoding="utf-8",
    )
    tasks, _ = plan_tasks(tmp_path / "b.yaml")
    assert tasks[0]["propositions"] == str(tmp_path / "p.csv")


def test_example_column_map_reads_a_propositions_export(tmp_path, key):
    example = (
        Path(__file__).resolve().parents[2] / "allocation_analysis/data/column_map.example.yaml"
    )
    header = (
        "N° unique;N° de l'offre;Date de la CAL;Identifiant RPLS;SIREN bailleur;Réservataire;"
        "Décision CAL;Rang;Réponse du demandeur;Motif du refus"
    )
    rows = [
        "059100002;O1;01/06/2024;R001;123456789;Préfecture;Attribution sous condition "
        "suspensive;1;Accord;",
        "059100001;O1;01/06/2024;R001;123456789;Préfecture;Refus d'attribution;;;",
    ]
    f = write_csv(tmp_path / "cal.csv", header, rows)
    res = load_table(f, "propositions", column_map=example, key=key)
    assert res.n_accepted == 2
    assert res.data["decision_cal"].tolist() == ["attribution_sous_condition", "non_attribution"]
    assert res.data["reponse_demandeur"].tolist()[0] == "acceptation"
