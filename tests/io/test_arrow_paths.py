"""Vectorised paths of loading and preparation: the same answers as the definitions.

The expected values come from the definitions themselves, computed independently
of the code under test: membership and lookups written out by hand, pseudonyms
from the standard library's :func:`hmac.digest`, QPV membership from a polygon
drawn around known coordinates.
"""

from __future__ import annotations

import hmac
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.derive import prepare_allocations, semester_of
from allocation_analysis.io import _arrow
from allocation_analysis.io.readers import read_table
from allocation_analysis.privacy import _pseudonymise, pseudonymise

TEXT = pd.StringDtype("pyarrow")


def _hmac16(key: bytes, text: str) -> str:
    return hmac.digest(key, text.strip().encode("utf-8"), "sha256").hex()[:16]


# --------------------------------------------------------------------------- membership


def test_isin_is_membership_with_missing_values_never_members():
    values = pd.Series(["a", None, "b", "c", "a"], dtype=TEXT)
    candidates = pd.Series(["b", None, "a", "b"], dtype="string")
    # by hand: a ∈ {a, b}; missing never; b ∈; c ∉; a ∈
    assert _arrow.isin(values, candidates).tolist() == [True, False, True, False, True]


def test_isin_accepts_object_and_python_string_columns():
    values = pd.Series(["x", "y", np.nan], dtype=object)
    assert _arrow.isin(values, pd.Index(["y"])).tolist() == [False, True, False]


def test_lookup_takes_first_match_and_leaves_unknown_keys_missing():
    keys = pd.Series(["k2", "zz", None, "k1"], dtype=TEXT)
    index = pd.Series(["k1", "k2", "k1"], dtype=TEXT)
    dates = pd.Series(pd.to_datetime(["2020-01-01", "2021-06-30", "2022-01-01"]))
    out = pd.Series(_arrow.lookup(keys, index, dates))
    # k2 -> 2021-06-30; zz unknown; missing key; k1 -> first row 2020-01-01
    assert out.iloc[0] == pd.Timestamp("2021-06-30")
    assert out.isna().tolist() == [False, True, True, False]
    assert out.iloc[3] == pd.Timestamp("2020-01-01")


# --------------------------------------------------------------------------- pseudonyms


@pytest.mark.parametrize("key", [b"\x01" * 32, b"k" * 100, b"short"], ids=["32", "100", "5"])
def test_pseudonyms_are_rfc2104_hmac_sha256_for_any_key_length(key):
    ids = pd.Series([" 059000000000123 ", "059000000000124", None, "é", "059000000000124"])
    for values in (ids.astype(TEXT), ids.astype("string"), ids):
        out = pseudonymise(values, key)
        expected = [None if v is None else _hmac16(key, v) for v in ids]
        assert [None if pd.isna(v) else v for v in out] == expected
        assert out.index.equals(values.index)


def test_reused_pseudonyms_equal_fresh_ones():
    key = bytes(range(32))
    demands = pd.Series(["d1", " d2", "d3", None], dtype=TEXT)
    allocations = pd.Series(["d3", "new", None, " d2", "d1", "new"], dtype=TEXT)
    _, known = _pseudonymise(demands, key)
    reused, _ = _pseudonymise(allocations, key, known)
    expected = [None if pd.isna(v) else _hmac16(key, v) for v in allocations]
    assert [None if pd.isna(v) else v for v in reused] == expected


# --------------------------------------------------------------------------- reader


def test_declared_utf8_with_bom_crlf_and_leading_blank_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeff\r\n\r\nnom;ville\r\nÉlodie;Lille\r\nZoé;Roubaix\r\n".encode())
    for encoding in (None, "utf-8", "UTF8", "utf-8-sig"):
        df, info = read_table(p, encoding=encoding)
        assert list(df.columns) == ["nom", "ville"]
        assert df["nom"].tolist() == ["Élodie", "Zoé"]
        assert df["ville"].tolist() == ["Lille", "Roubaix"]
        assert info.sep == ";"
    assert read_table(p)[1].encoding == "utf-8-sig"


def test_invalid_utf8_is_still_read_as_windows_1252(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"nom,ville\n\xc9lodie,Li\x80lle\n")  # 0xC9 = É, 0x80 = € in cp1252
    df, info = read_table(p)
    assert info.encoding == "cp1252"
    assert df["nom"].tolist() == ["Élodie"]
    assert df["ville"].tolist() == ["Li€lle"]


# --------------------------------------------------------------------------- derive


def test_semester_labels_built_once_per_semester_match_calendar():
    dates = pd.Series(pd.to_datetime(["2024-06-30", "2024-07-01", None, "1999-01-15"]))
    out = semester_of(dates)
    assert out.tolist()[:2] == ["2024-S1", "2024-S2"]
    assert out.isna().tolist() == [False, False, True, False]
    assert out.iloc[3] == "1999-S1"
    assert out.name == "semestre"


def _square(lon: float, lat: float, half_side_m: float = 200.0) -> shapely.Polygon:
    x, y = Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)
    return shapely.box(x - half_side_m, y - half_side_m, x + half_side_m, y + half_side_m)


def test_dwelling_qpv_from_coordinates_only_where_referenced():
    qpv = gpd.GeoDataFrame(
        {"code_qpv": ["QN05965M"], "nom_qpv": ["Test"], "liste": ["2024"]},
        geometry=[_square(3.1, 50.6)],
        crs="EPSG:2154",
    )
    demandes = pd.DataFrame(
        {
            "demande_id": pd.array(["a", "b", "c"], dtype="string"),
            "date_depot": pd.to_datetime(["2024-02-01"] * 3),
            "date_radiation": pd.Series([pd.NaT] * 3, dtype="datetime64[ns]"),
            "motif_radiation": pd.array([pd.NA] * 3, dtype="string"),
            "nationalite": pd.array(["francaise"] * 3, dtype="string"),
            "commune_residence": pd.array(["59350"] * 3, dtype="string"),
            "qpv_residence": pd.array([pd.NA] * 3, dtype="string"),
            "nb_personnes": pd.array([1, 1, 1], dtype="Int64"),
            "revenus_mensuels": [900.0, 900.0, 900.0],
            "situation_logement": pd.array(["heberge"] * 3, dtype="string"),
            "prioritaire": [False] * 3,
            "dalo": [False] * 3,
            "typologie_demandee": pd.array(["T2"] * 3, dtype="string"),
        }
    )
    allocations = pd.DataFrame(
        {
            "demande_id": pd.array(["a", "b", "c"], dtype="string"),
            "date_bail": pd.to_datetime(["2025-03-01"] * 3),
            # b's dwelling is listed twice: the first row counts; c's is not listed
            "rpls_id": pd.array(["R-IN", "R-OUT", "R-NONE"], dtype="string"),
            "commune_logement": pd.array(["59000", "59000", "59009"], dtype="string"),
            "qpv_logement": pd.array([pd.NA, pd.NA, pd.NA], dtype="string"),
            "bailleur_siren": pd.array([pd.NA] * 3, dtype="string"),
            "reservataire": pd.array(["etat"] * 3, dtype="string"),
        }
    )
    logements = pd.DataFrame(
        {
            "rpls_id": pd.array(["R-UNUSED", "R-OUT", "R-IN", "R-OUT"], dtype="string"),
            "commune": pd.array(["59001", "59512", "59350", "59999"], dtype="string"),
            "qpv": pd.array([pd.NA] * 4, dtype="string"),
            # 3.1 E 50.6 N is the square's centre; 3.2 E is ~7 km away
            "lon": [3.1, 3.2, 3.1, 3.1],
            "lat": [50.6, 50.6, 50.6, 50.6],
            "bailleur_siren": pd.array(["111111111", "222222222", "333333333", "444444444"]),
        }
    )
    seuils = pd.DataFrame(
        {
            "annee": pd.array([2025], dtype="Int64"),
            "siren_epci": pd.array(["200093201"], dtype="string"),
            "seuil_uc_annuel": [8000.0],
        }
    )
    inputs = SimpleNamespace(
        demandes=demandes,
        attributions=allocations,
        logements=logements,
        seuils=seuils,
        communes=None,
        qpv=qpv,
    )
    cfg = AnalysisConfig(period=Period.parse("2025-S1"), siren_epci="200093201")
    out = prepare_allocations(inputs, config=cfg)
    assert out["qpv_logement"].iloc[0] == "QN05965M"
    assert out["qpv_logement"].isna().tolist() == [False, True, True]
    assert out["logement_en_qpv"].tolist() == [True, False, False]
    assert out["commune_logement"].tolist() == ["59350", "59512", "59009"]
    assert out["bailleur_siren"].iloc[:2].tolist() == ["333333333", "222222222"]
    assert pd.isna(out["bailleur_siren"].iloc[2])


# --------------------------------------------------------------------------- numbers


def test_plain_decimal_column_converted_by_one_cast_like_the_parser():
    from allocation_analysis.io.parsing import parse_float_plain

    huge = "1" + "0" * 400  # overflows a double: invalid, as in parse_float
    raw = pd.Series(["2.925775", "-0,5", "", None, "007", huge, "50.570048"], dtype=TEXT)
    values, bad = parse_float_plain(raw)
    # Python's float() is a correctly rounded decimal conversion: the reference
    expected = [float("2.925775"), -0.5, np.nan, np.nan, 7.0, np.nan, float("50.570048")]
    np.testing.assert_array_equal(values.to_numpy(), np.array(expected))
    assert bad.tolist() == [False, False, False, False, False, True, False]


@pytest.mark.parametrize("cell", ["1 234,5", "+3", "1e5", "1.234,5", "abc", " 3.5"])
def test_other_number_spellings_go_to_the_general_parser(cell):
    from allocation_analysis.io.parsing import parse_float_plain

    assert parse_float_plain(pd.Series(["1.5", cell], dtype=TEXT)) is None


def test_pseudonyms_of_plain_ascii_identifiers_are_rfc2104_hmac_sha256():
    key = b"\x2a" * 32
    ids = pd.Series(["059000000000123", "2A0040000X", "a-b_c.d", ""], dtype=TEXT)
    assert pseudonymise(ids, key).tolist() == [_hmac16(key, v) for v in ids]
