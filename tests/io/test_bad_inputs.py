"""Catalogue of bad inputs: each one names its error class, its message and the row accounting.

The files are written by hand here: the bad rows are known, so the expected
counts do not come from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    ATTRIBUTIONS_HEADER,
    ATTRIBUTIONS_ROWS,
    DEMANDES_HEADER,
    DEMANDES_ROWS,
    LOGEMENTS_HEADER,
    LOGEMENTS_ROWS,
    SEUILS_HEADER,
    SEUILS_ROWS,
    write_csv,
)

from allocation_analysis.config import InputPaths, Period
from allocation_analysis.errors import InputError, UsageError
from allocation_analysis.io import load_inputs, load_table

# The columns of DEMANDES_HEADER, to edit one field of a valid row by name.
DCOLS = DEMANDES_HEADER.split(";")
ACOLS = ATTRIBUTIONS_HEADER.split(";")


def edit(row: str, cols: list[str] = DCOLS, **changes: str) -> str:
    fields = row.split(";")
    for name, value in changes.items():
        fields[cols.index(name)] = value
    return ";".join(fields)


def demand(num: str, **changes: str) -> str:
    """A valid demand row (copy of the first one) with another num_unique and some edits."""
    return edit(DEMANDES_ROWS[0], num_unique=num, **changes)


def load_demandes(tmp_path: Path, rows: list[str], **kw) -> object:
    return load_table(write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, rows), "demandes", **kw)


# ----------------------------------------------------------------- row-level rejects

ROW_CASES = {
    "negative_income": (dict(revenus_mensuels="-5"), "revenus_mensuels", "minimum", "(masqué)"),
    "household_of_zero": (dict(nb_personnes="0", nb_adultes_sup="", nb_enfants_moins_14=""),
                          "nb_personnes", "minimum", "0"),
    "impossible_date": (dict(date_depot="31/02/2023"), "date_depot", "type_date", "31/02/2023"),
    "unreadable_date": (dict(date_depot="2023/13/45"), "date_depot", "type_date", "2023/13/45"),
    "insee_code_turned_into_number": (dict(commune_residence="59009.0"), "commune_residence",
                                      "code_insee", "59009.0"),
    "insee_code_lost_leading_zero": (dict(commune_residence="1053"), "commune_residence",
                                     "code_insee", "1053"),
    "text_in_numeric_column": (dict(revenus_mensuels="beaucoup"), "revenus_mensuels",
                               "type_nombre", "(masqué)"),
    "age_out_of_range": (dict(age_demandeur="12"), "age_demandeur", "minimum", "(masqué)"),
    "bad_rent_shown": (dict(nb_personnes="x"), "nb_personnes", "type_entier", "x"),
    "fractional_household_size": (dict(nb_personnes="2,5"), "nb_personnes", "type_entier", "2,5"),
    "motif_without_date": (dict(motif_radiation="renonciation"), "motif_radiation",
                           "motif_sans_date_radiation", "renonciation"),
    "date_without_motif": (dict(date_radiation="01/01/2024"), "motif_radiation",
                           "motif_radiation_manquant", ""),
    "closing_before_filing": (dict(date_radiation="01/01/2021", motif_radiation="renonciation"),
                              "date_radiation", "radiation_avant_depot", "01/01/2021"),
    "missing_required_value": (dict(nationalite=""), "nationalite", "obligatoire", ""),
    "missing_required_boolean": (dict(dalo=""), "dalo", "obligatoire", ""),
    "bad_boolean": (dict(prioritaire="peut-être"), "prioritaire", "type_booleen", "peut-être"),
    "inconsistent_household": (dict(nb_adultes_sup="3"), "nb_personnes", "composition_menage", "3"),
    "longitude_without_latitude": (dict(lat=""), "lon", "coordonnees_incompletes", "(masqué)"),
    "latitude_out_of_range": (dict(lat="150"), "lat", "maximum", "(masqué)"),
    "bad_qpv_code": (dict(qpv_residence="Q59"), "qpv_residence", "code_qpv", "Q59"),
    "bad_desired_commune_list": (dict(communes_souhaitees="59350;59009".replace(";", "/")),
                                 "communes_souhaitees", "code_insee", "59350/59009"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ROW_CASES), ids=list(ROW_CASES))
def test_bad_demand_row_is_rejected_with_its_reason(tmp_path, case):
    changes, column, rule, value = ROW_CASES[case]
    rows = [*DEMANDES_ROWS, demand("059199999", **changes)]
    res = load_demandes(tmp_path, rows)
    assert (res.n_read, res.n_accepted, res.n_rejected) == (6, 5, 1)
    rej = res.rejects
    assert rej["source_row"].tolist() == [7]
    assert (rej.loc[0, "table"], rej.loc[0, "column"], rej.loc[0, "rule"]) == (
        "demandes",
        column,
        rule,
    )
    assert rej.loc[0, "value"] == value
    assert column in rej.loc[0, "message"] or rule in (
        "motif_sans_date_radiation",
        "motif_radiation_manquant",
        "radiation_avant_depot",
        "composition_menage",
        "coordonnees_incompletes",
    )
    assert list(rej.columns) == ["table", "source_row", "column", "value", "rule", "message"]


def test_row_with_several_problems_gives_one_reject_row_per_reason(tmp_path):
    rows = [*DEMANDES_ROWS, demand("059199999", revenus_mensuels="-1", date_depot="hier")]
    res = load_demandes(tmp_path, rows)
    assert (res.n_read, res.n_accepted, res.n_rejected) == (6, 5, 1)
    assert sorted(res.rejects["rule"]) == ["minimum", "type_date"]
    assert set(res.rejects["source_row"]) == {7}


def test_duplicate_num_unique_keeps_first_and_rejects_later_with_masked_value(tmp_path):
    rows = [*DEMANDES_ROWS, edit(DEMANDES_ROWS[1], num_unique="059100001")]
    res = load_demandes(tmp_path, rows)
    assert (res.n_read, res.n_accepted, res.n_rejected) == (6, 5, 1)
    r = res.rejects.iloc[0]
    assert (r["source_row"], r["rule"], r["column"], r["value"]) == (
        7,
        "doublon",
        "num_unique",
        "(masqué)",
    )
    assert "ligne 2" in r["message"]
    assert "059100001" not in res.rejects.to_csv()


def test_ragged_rows_are_rejected_not_dropped(tmp_path):
    truncated = ";".join(DEMANDES_ROWS[0].split(";")[:6])  # cut after commune_residence
    too_long = DEMANDES_ROWS[1] + ";extra;extra"
    res = load_demandes(tmp_path, [DEMANDES_ROWS[0], truncated, too_long, DEMANDES_ROWS[2]])
    assert (res.n_read, res.n_accepted, res.n_rejected) == (4, 2, 2)
    assert res.rejects["source_row"].tolist() == [3, 4]
    assert set(res.rejects["rule"]) == {"nombre_de_champs"}
    assert res.data["source_row"].tolist() == [2, 5]
    assert "6 champs au lieu de 21" in res.rejects.loc[0, "message"]


def test_unknown_enum_within_tolerance_is_a_row_reject(tmp_path):
    rows = [demand(f"0591{i:05d}") for i in range(20)]
    rows.append(demand("059199999", nationalite="martienne"))  # 1 of 21 rows = 4.8 % <= 5 %
    res = load_demandes(tmp_path, rows)
    assert (res.n_read, res.n_accepted, res.n_rejected) == (21, 20, 1)
    r = res.rejects.iloc[0]
    assert (r["source_row"], r["rule"], r["value"]) == (22, "valeur_inconnue", "martienne")
    assert "hors_ue" in r["message"]


# --------------------------------------------------------------- file-level errors


def test_unknown_enum_above_tolerance_refuses_the_file(tmp_path):
    rows = [demand(f"0591{i:05d}") for i in range(18)]
    rows += [demand("059199998", nationalite="1"), demand("059199999", nationalite="2")]
    with pytest.raises(InputError) as exc:  # 2 of 20 = 10 % > 5 %
        load_demandes(tmp_path, rows)
    e = exc.value
    assert e.column == "nationalite" and e.file.endswith("demandes.csv")
    assert list(e.rows) == [20, 21]
    assert (
        "10,0\u202f%, tolérance 5\u202f%" in str(e)
        and "« 1 »" in str(e)
        and "demandes.csv" in str(e)
    )
    # A larger tolerance accepts them as row rejects.
    res = load_demandes(tmp_path, rows, unknown_share=0.2)
    assert (res.n_read, res.n_accepted, res.n_rejected) == (20, 18, 2)


def test_missing_required_column(tmp_path):
    header = DEMANDES_HEADER.replace("revenus_mensuels", "salaire")
    p = write_csv(tmp_path / "demandes.csv", header, DEMANDES_ROWS)
    with pytest.raises(InputError, match="revenus_mensuels") as exc:
        load_table(p, "demandes")
    assert exc.value.column == "revenus_mensuels"
    assert "demandes.csv" in str(exc.value) and "salaire" in str(exc.value)


def test_empty_file(tmp_path):
    p = tmp_path / "demandes.csv"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="vide") as exc:
        load_table(p, "demandes")
    assert "demandes.csv" in str(exc.value)


def test_header_only(tmp_path):
    p = write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, [])
    with pytest.raises(InputError, match="aucune ligne de données") as exc:
        load_table(p, "demandes")
    assert "demandes.csv" in str(exc.value)


def test_binary_garbage(tmp_path):
    p = tmp_path / "demandes.csv"
    p.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(InputError, match="binaire") as exc:
        load_table(p, "demandes")
    assert "demandes.csv" in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="introuvable") as exc:
        load_table(tmp_path / "absent.csv", "demandes")
    assert "absent.csv" in str(exc.value)


def test_wrong_separator_gives_one_column(tmp_path):
    p = tmp_path / "demandes.csv"
    lines = [DEMANDES_HEADER, *DEMANDES_ROWS]
    p.write_text("\n".join(line.replace(";", "|") for line in lines), encoding="utf-8")
    with pytest.raises(InputError, match="séparateur") as exc:
        load_table(p, "demandes")
    assert "demandes.csv" in str(exc.value)


def test_declared_separator_contradicted_by_header(tmp_path):
    p = write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, DEMANDES_ROWS)
    with pytest.raises(InputError, match="séparateur"):
        load_table(p, "demandes", sep=",")


def test_non_utf8_bytes_inside_a_utf8_file(tmp_path):
    p = tmp_path / "demandes.csv"
    body = "\n".join([DEMANDES_HEADER, *DEMANDES_ROWS]).encode("utf-8")  # has é as C3 A9
    p.write_bytes(body + b"\n059100006;01/01/2023;;;fran\xe7aise;59350\n")
    with pytest.raises(InputError, match="Encodage incohérent") as exc:
        load_table(p, "demandes")
    assert list(exc.value.rows) == [7] and "demandes.csv" in str(exc.value)


def test_declared_encoding_that_does_not_fit(tmp_path):
    p = write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, DEMANDES_ROWS, encoding="cp1252")
    with pytest.raises(InputError, match="encodage déclaré"):
        load_table(p, "demandes", encoding="utf-8")


def test_duplicate_header(tmp_path):
    p = write_csv(
        tmp_path / "demandes.csv", DEMANDES_HEADER + ";dalo", [r + ";oui" for r in DEMANDES_ROWS]
    )
    with pytest.raises(InputError, match="en double") as exc:
        load_table(p, "demandes")
    assert exc.value.column == "dalo"


def test_old_excel_format(tmp_path):
    p = tmp_path / "demandes.xls"
    p.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    with pytest.raises(InputError, match=r"\.xls"):
        load_table(p, "demandes")


def test_unknown_xlsx_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.append(["annee", "siren_epci", "seuil_uc_annuel"])
    p = tmp_path / "seuils.xlsx"
    wb.save(p)
    with pytest.raises(InputError, match="Feuille « 2024 » introuvable") as exc:
        load_table(p, "seuils_q1", sheet="2024")
    assert "seuils.xlsx" in str(exc.value)


def test_corrupt_parquet(tmp_path):
    p = tmp_path / "demandes.parquet"
    p.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match="Parquet illisible"):
        load_table(p, "demandes")


# -------------------------------------------------------------- cross-table checks


def _files(tmp_path: Path, *, dem=DEMANDES_ROWS, att=ATTRIBUTIONS_ROWS, log=LOGEMENTS_ROWS,
           seu=SEUILS_ROWS) -> InputPaths:  # fmt: skip
    return InputPaths(
        demandes=write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, dem),
        attributions=write_csv(tmp_path / "attributions.csv", ATTRIBUTIONS_HEADER, att),
        logements=write_csv(tmp_path / "logements.csv", LOGEMENTS_HEADER, log),
        seuils=write_csv(tmp_path / "seuils.csv", SEUILS_HEADER, seu),
    )


def test_allocation_for_unknown_demand_refuses_the_file(tmp_path):
    att = [*ATTRIBUTIONS_ROWS, edit(ATTRIBUTIONS_ROWS[1], ACOLS, num_unique="059177777")]
    with pytest.raises(InputError, match="demande absente") as exc:
        load_inputs(_files(tmp_path, att=att))
    e = exc.value
    assert e.column == "num_unique" and list(e.rows) == [5]
    assert e.file.endswith("attributions.csv") and "059177777" not in str(e)


def test_allocation_for_unknown_dwelling_refuses_the_file(tmp_path):
    att = [*ATTRIBUTIONS_ROWS[:2], edit(ATTRIBUTIONS_ROWS[2], ACOLS, rpls_id="R999")]
    with pytest.raises(InputError, match="rpls_id") as exc:
        load_inputs(_files(tmp_path, att=att))
    assert exc.value.column == "rpls_id" and list(exc.value.rows) == [4]
    assert "attributions.csv" in str(exc.value)


def test_lease_before_filing_date_rejects_the_allocation(tmp_path):
    # Demand 059100002 was filed on 2023-03-02: a lease on 01/02/2023 is impossible.
    att = [edit(ATTRIBUTIONS_ROWS[0], ACOLS, date_bail="01/02/2023"), *ATTRIBUTIONS_ROWS[1:]]
    inputs = load_inputs(_files(tmp_path, att=att))
    counts = inputs.report.tables["attributions"]
    assert (counts.read, counts.accepted, counts.rejected) == (3, 2, 1)
    rej = inputs.rejects["attributions"]
    assert rej[["source_row", "column", "rule", "value"]].values.tolist() == [
        [2, "date_bail", "bail_avant_depot", "2023-02-01"]
    ]


def test_allocation_of_a_rejected_demand_is_rejected(tmp_path):
    dem = [edit(DEMANDES_ROWS[0], revenus_mensuels="-3"), *DEMANDES_ROWS[1:]]
    inputs = load_inputs(_files(tmp_path, dem=dem))
    assert inputs.report.tables["demandes"].rejected == 1
    c = inputs.report.tables["attributions"]
    assert (c.read, c.accepted, c.rejected) == (3, 2, 1)
    r = inputs.rejects["attributions"].iloc[0]
    assert (r["source_row"], r["rule"], r["value"]) == (3, "demande_rejetee", "(masqué)")


def test_allocation_without_dwelling_nor_commune_is_rejected(tmp_path):
    att = [*ATTRIBUTIONS_ROWS, edit(ATTRIBUTIONS_ROWS[1], ACOLS, num_unique="059100004",
                                    commune_logement="")]  # fmt: skip
    inputs = load_inputs(_files(tmp_path, att=att))
    r = inputs.rejects["attributions"]
    assert r[["source_row", "rule"]].values.tolist() == [[5, "commune_logement_manquante"]]


def test_missing_threshold_year(tmp_path):
    with pytest.raises(InputError, match="année\\(s\\) 2022") as exc:
        load_inputs(_files(tmp_path), period=Period.parse("2022-S2"))
    assert exc.value.column == "annee" and "seuils.csv" in str(exc.value)


def test_threshold_years_from_lease_dates_without_period(tmp_path):
    seu = [SEUILS_ROWS[0], SEUILS_ROWS[2]]  # 2023 and 2025; leases are in 2024
    with pytest.raises(InputError, match="2024"):
        load_inputs(_files(tmp_path, seu=seu))


def test_several_epcis_without_flag_is_a_usage_error(tmp_path):
    seu = [*SEUILS_ROWS, "2024;245900410;9900"]
    with pytest.raises(UsageError, match="--siren-epci"):
        load_inputs(_files(tmp_path, seu=seu))
    inputs = load_inputs(
        _files(tmp_path, seu=seu), siren_epci="245900410", period=Period.parse("2024-S2")
    )
    assert inputs.siren_epci == "245900410"


def test_unknown_epci_flag(tmp_path):
    with pytest.raises(InputError, match="Aucun seuil pour l'EPCI 111111111"):
        load_inputs(_files(tmp_path), siren_epci="111111111")


def test_duplicate_threshold_and_non_positive_threshold(tmp_path):
    p = write_csv(tmp_path / "seuils.csv", SEUILS_HEADER,
                  [*SEUILS_ROWS, "2024;200093201;1", "2026;200093201;0"])  # fmt: skip
    res = load_table(p, "seuils_q1")
    assert (res.n_read, res.n_accepted, res.n_rejected) == (5, 3, 2)
    assert res.rejects[["source_row", "rule"]].values.tolist() == [
        [5, "doublon"],
        [6, "strictement_positif"],
    ]


def test_accounting_holds_for_the_whole_catalogue_at_once(tmp_path):
    bad = [demand(f"05919999{i}", **changes) for i, (changes, *_) in enumerate(ROW_CASES.values())]
    rows = [demand(f"0591{i:05d}") for i in range(400)] + bad
    res = load_demandes(tmp_path, rows)
    assert res.n_read == 400 + len(ROW_CASES)
    assert (res.n_accepted, res.n_rejected) == (400, len(ROW_CASES))
    assert res.data["revenus_mensuels"].notna().all() and res.data["date_depot"].notna().all()
