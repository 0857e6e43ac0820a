"""Periods, configuration files and parameter validation."""

from __future__ import annotations

import datetime as dt

import pytest

from allocation_analysis.config import AnalysisConfig, Period, load_config_file
from allocation_analysis.errors import UsageError


@pytest.mark.parametrize(
    ("label", "start", "end", "rolling_start"),
    [
        ("2025-S1", dt.date(2025, 1, 1), dt.date(2025, 6, 30), dt.date(2024, 7, 1)),
        ("2025-S2", dt.date(2025, 7, 1), dt.date(2025, 12, 31), dt.date(2025, 1, 1)),
        ("2024-s1", dt.date(2024, 1, 1), dt.date(2024, 6, 30), dt.date(2023, 7, 1)),
    ],
)
def test_semester_bounds_and_rolling_year(label, start, end, rolling_start):
    p = Period.parse(label)
    assert (p.start, p.end, p.rolling_start) == (start, end, rolling_start)


def test_june_30_is_first_semester_and_july_1_second():
    assert Period.containing(dt.date(2025, 6, 30)).label == "2025-S1"
    assert Period.containing(dt.date(2025, 7, 1)).label == "2025-S2"


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 11, 28), "2026-S1"),
        (dt.date(2026, 1, 15), "2025-S2"),
        (dt.date(2026, 7, 1), "2026-S1"),
    ],
)
def test_auto_period_is_last_complete_semester(today, expected):
    assert Period.last_complete(today).label == expected


@pytest.mark.parametrize("bad", ["2025", "2025-S3", "S1-2025", "", "2025-T1"])
def test_bad_period_is_a_usage_error_in_french(bad):
    with pytest.raises(UsageError, match="Période invalide"):
        Period.parse(bad)


def test_french_label():
    assert Period.parse("2025-S2").label_fr == "2e semestre 2025"
    assert Period.parse("2025-S1").label_fr == "1er semestre 2025"


@pytest.mark.parametrize(
    ("field", "value"), [("alpha", 1.5), ("secret_threshold", 0), ("target_non_q1_en_qpv", 0)]
)
def test_invalid_parameters_are_refused(field, value):
    with pytest.raises(UsageError):
        AnalysisConfig(period=Period.parse("2025-S2"), **{field: value})


def test_config_file_resolves_paths_relative_to_itself(tmp_path):
    cfg = tmp_path / "sub" / "run.yaml"
    cfg.parent.mkdir()
    cfg.write_text("demandes: d.csv\nperiod: 2025-S2\noutput: out\n", encoding="utf-8")
    opts = load_config_file(cfg)
    assert opts["demandes"] == str(tmp_path / "sub" / "d.csv")
    assert opts["output"] == str(tmp_path / "sub" / "out")
    assert opts["period"] == "2025-S2"


def test_config_file_with_unknown_key_names_it(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("demande: d.csv\n", encoding="utf-8")
    with pytest.raises(UsageError, match="demande"):
        load_config_file(cfg)


def test_config_file_that_is_not_a_mapping_is_refused(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(UsageError, match="clé: valeur"):
        load_config_file(cfg)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("secret_threshold: abc\n", "secret_threshold"),
        ("alpha: [0.05]\n", "alpha"),
        ("seed: 1.5\n", "seed"),
        ("target_non_q1_en_qpv: moitié\n", "target_non_q1_en_qpv"),
        ("siren_epci: [1, 2]\n", "siren_epci"),
        ("demandes: {a: 1}\n", "demandes"),
    ],
)
def test_config_value_of_the_wrong_type_is_an_input_error_naming_key_and_file(tmp_path, text, key):
    from allocation_analysis.errors import InputError

    cfg = tmp_path / "run.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=key) as exc:
        load_config_file(cfg)
    assert "run.yaml" in str(exc.value) and "attendu" in str(exc.value)


def test_config_numbers_written_as_text_or_without_quotes_are_converted(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        'secret_threshold: "11"\nalpha: "0,1"\nsiren_epci: 299999999\nseed: 7\n', encoding="utf-8"
    )
    opts = load_config_file(cfg)
    assert opts["secret_threshold"] == 11 and opts["alpha"] == 0.1 and opts["seed"] == 7
    assert opts["siren_epci"] == "299999999"


def test_analysis_config_with_a_text_threshold_is_a_usage_error_not_a_traceback():
    with pytest.raises(UsageError, match="secret_threshold"):
        AnalysisConfig(period=Period.parse("2025-S2"), secret_threshold="abc")
