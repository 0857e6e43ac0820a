"""Fixtures of the input-layer tests: small hand-made input files.

Every file is written by hand in the test (or here), so the number of bad
rows, and hence the expected accounting, is known independently of the code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

DEMANDES_HEADER = (
    "num_unique;date_depot;date_radiation;motif_radiation;nationalite;commune_residence;"
    "qpv_residence;lon;lat;nb_personnes;nb_adultes_sup;nb_enfants_moins_14;revenus_mensuels;"
    "situation_logement;prioritaire;dalo;typologie_demandee;communes_souhaitees;age_demandeur;"
    "situation_professionnelle;handicap"
)
# Five valid demands in the French spreadsheet dialect (";", decimal comma, DD/MM/YYYY).
DEMANDES_ROWS = [
    "059100001;15/01/2022;;;Française;59350;QP059001;3,0573;50,6292;3;1;1;1 234,56;"
    "Locataire privé;oui;non;T3;59350|59009;34;CDI;non",
    "059100002;2023-03-02;20/06/2024;attribution;Hors UE;59009;;;;1;0;0;850;hébergé;non;non;"
    "T1;;51;chômage;",
    "059100003;01/12/2021;;;UE;2A004;;;;4;1;2;2100,5;locataire_social;Non;Oui;T5 et +;;40;;",
    "059100004;10/10/2020;;;francaise;59512;;;;2;1;0;0;sans logement;N;O;t2;;29;;oui",
    "059100005;05/05/2023;;;HORS_UE;59350;;;;5;;;1800;structure;faux;vrai;T5+;;45;;",
]
ATTRIBUTIONS_HEADER = (
    "num_unique;date_bail;rpls_id;commune_logement;qpv_logement;bailleur_siren;reservataire;"
    "revenus_mensuels;nb_personnes;relogement_anru;dalo;prioritaire;typologie;loyer"
)
ATTRIBUTIONS_ROWS = [
    "059100002;15/06/2024;R001;;;123456789;Etat;900,5;1;non;non;non;T1;310,20",
    "059100001;2024-09-01;;59350;QP059001;987654321;Action logement;;;oui;;;T3;",
    "059100003;03/03/2024;R002;;;123456789;collectivité;;;;;;;",
]
LOGEMENTS_HEADER = (
    "rpls_id;commune;qpv;lon;lat;nb_pieces;typologie;financement;loyer;annee_construction;dpe;"
    "bailleur_siren"
)
LOGEMENTS_ROWS = [
    "R001;59350;;3,06;50,63;1;T1;PLAI;310,2;1975;D;123456789",
    "R002;59009;QP059002;;;5;T5+;PLUS;650;2001;c;123456789",
    "R003;59512;;;;3;T3;PLS;480;1990;E;987654321",
]
SEUILS_HEADER = "annee;siren_epci;seuil_uc_annuel"
SEUILS_ROWS = ["2023;200093201;9800", "2024;200093201;10120,5", "2025;200093201;10400"]


def write_csv(
    path: Path, header: str, rows: list[str], *, encoding: str = "cp1252", sep: str = ";"
) -> Path:
    """Write a CSV file (rows given with ``;``, converted to ``sep``)."""
    lines = [header, *rows]
    if sep != ";":
        lines = [line.replace(";", sep) for line in lines]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed key from the environment: no key file is ever written by the tests."""
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)


@pytest.fixture
def key() -> bytes:
    return bytes.fromhex(KEY_HEX)


@pytest.fixture
def valid_files(tmp_path: Path) -> dict[str, Path]:
    """A complete, valid cp1252 / ``;`` / decimal-comma export of the four tables."""
    return {
        "demandes": write_csv(tmp_path / "demandes.csv", DEMANDES_HEADER, DEMANDES_ROWS),
        "attributions": write_csv(
            tmp_path / "attributions.csv", ATTRIBUTIONS_HEADER, ATTRIBUTIONS_ROWS
        ),
        "logements": write_csv(tmp_path / "logements.csv", LOGEMENTS_HEADER, LOGEMENTS_ROWS),
        "seuils": write_csv(tmp_path / "seuils.csv", SEUILS_HEADER, SEUILS_ROWS),
    }
