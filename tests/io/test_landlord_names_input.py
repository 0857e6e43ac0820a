"""Optional input ``bailleurs`` (``bailleur_siren``, ``nom``): validated like the other
tables, every row accounted for, one name per SIREN."""

from __future__ import annotations

import pytest
from conftest import write_csv

from allocation_analysis.config import InputPaths
from allocation_analysis.errors import InputError
from allocation_analysis.io import load_inputs, load_table

HEADER = "bailleur_siren;nom"


def test_landlord_names_are_read_with_french_accents(tmp_path):
    p = write_csv(tmp_path / "bailleurs.csv", HEADER,
                  ["123456789;Habitat Métropole", "987654321;Logis de l'Escaut"])  # fmt: skip
    res = load_table(p, "bailleurs")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (2, 2, 0)
    assert res.data["nom"].tolist() == ["Habitat Métropole", "Logis de l'Escaut"]


def test_duplicate_siren_bad_siren_and_missing_name_are_rejected_rows_named(tmp_path):
    rows = [
        "123456789;Habitat Métropole",
        "123456789;Autre nom",  # row 3: same SIREN twice
        "12345;Trop court",  # row 4
        "987654321;",  # row 5: no name
        "111222333;Logis du Nord",
    ]
    res = load_table(write_csv(tmp_path / "bailleurs.csv", HEADER, rows), "bailleurs")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (5, 2, 3)
    rej = res.rejects.sort_values("source_row")
    assert rej[["source_row", "column", "rule"]].values.tolist() == [
        [3, "bailleur_siren", "doublon"],
        [4, "bailleur_siren", "siren"],
        [5, "nom", "obligatoire"],
    ]
    assert "ligne 2" in rej["message"].iloc[0]  # the first occurrence is named
    assert all(rej["table"] == "bailleurs")


def test_missing_name_column_refuses_the_file_in_french(tmp_path):
    p = write_csv(tmp_path / "bailleurs.csv", "bailleur_siren;raison_sociale",
                  ["123456789;Habitat Métropole"])  # fmt: skip
    with pytest.raises(InputError, match="nom") as exc:
        load_table(p, "bailleurs")
    assert exc.value.column == "nom"
    assert "bailleurs.csv" in str(exc.value)


def test_load_inputs_gives_landlord_names_by_siren_and_none_without_the_file(valid_files, tmp_path):
    paths = InputPaths(**valid_files)
    assert load_inputs(paths).landlord_names() == {}
    named = InputPaths(
        **valid_files,
        bailleurs=write_csv(tmp_path / "b.csv", HEADER, ["123456789;Habitat Métropole"]),
    )
    inputs = load_inputs(named)
    assert inputs.landlord_names() == {"123456789": "Habitat Métropole"}
    assert inputs.report.tables["bailleurs"].accepted == 1
