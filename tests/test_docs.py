"""The documentation of the repository: API reference up to date, links inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from allocation_analysis import docs_api
from allocation_analysis.io.schemas import TABLES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_every_public_function_and_class_has_a_docstring():
    assert docs_api.missing_docstrings() == []


def test_api_reference_is_regenerated_from_the_docstrings():
    current = (DOCS / "api.md").read_text(encoding="utf-8")
    assert current == docs_api.render_api(), (
        "docs/api.md is stale: run `python -m allocation_analysis.docs_api`"
    )


def test_api_check_command_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "api.md"
    stale.write_text("# API reference\n", encoding="utf-8")
    assert docs_api.main(["--check", "--output", str(stale)]) == 1
    assert docs_api.main(["--output", str(stale)]) == 0
    assert docs_api.main(["--check", "--output", str(stale)]) == 0


def test_docstring_markdown_turns_numpydoc_sections_into_bold_titles_and_lists():
    doc = (
        "Sum.\n\nParameters\n----------\nx : int\n    First.\n\nExamples\n--------\n>>> 1 + 1\n2\n"
    )
    assert docs_api._docstring_md(doc) == (
        "Sum.\n\n**Parameters**\n\n- `x` : int\n  First.\n\n**Examples**\n\n"
        "```python\n>>> 1 + 1\n2\n```"
    )


def _package_texts():
    for path in sorted((ROOT / "allocation_analysis").rglob("*.py")):
        if path.name != "docs_api.py":  # writes links relative to docs/ itself
            yield path, path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["methods.md", "outputs.md", "data-contract.md", "data.md"])
def test_documents_cited_by_the_code_are_in_the_repository(name):
    cited = re.compile(r"(?:(?<=[\s`(])|^)(?:([\w./-]*/))?" + re.escape(name))
    for path, text in _package_texts():
        for m in cited.finditer(text):
            folder = m.group(1) or ""
            assert folder == "docs/" and (DOCS / name).is_file(), (
                f"{path.relative_to(ROOT)} cites {m.group(0)!r}, which is not a document "
                "of the repository's docs/ folder"
            )


def test_docs_links_point_to_existing_files():
    for doc in sorted(DOCS.glob("*.md")):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


def test_data_document_describes_every_column_of_the_contract():
    text = (DOCS / "data.md").read_text(encoding="utf-8")
    for table, spec in TABLES.items():
        if table == "seuils":
            continue
        assert f"`{table}`" in text
        for column in spec.columns:
            assert f"`{column.name}`" in text, f"docs/data.md: {table}.{column.name} missing"


def _examples() -> dict[str, str]:
    text = (DOCS / "data.md").read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- example: (\w+) -->\n```\w+\n(.*?)```", text, re.S))


def test_data_document_examples_load_without_a_rejected_row(tmp_path):
    from allocation_analysis.config import InputPaths
    from allocation_analysis.io import load_inputs

    examples = _examples()
    paths = {}
    for table in (
        "demandes",
        "attributions",
        "logements",
        "seuils_q1",
        "propositions",
        "bailleurs",
    ):
        paths[table] = tmp_path / f"{table}.csv"
        paths[table].write_text(examples[table], encoding="utf-8")
    inputs = load_inputs(
        InputPaths(
            demandes=paths["demandes"],
            attributions=paths["attributions"],
            logements=paths["logements"],
            seuils=paths["seuils_q1"],
            propositions=paths["propositions"],
            bailleurs=paths["bailleurs"],
        ),
        key=b"k" * 32,
        siren_epci="200093201",
        extract_date="2025-12-31",
    )
    counts = {t: (c.read, c.accepted) for t, c in inputs.report.tables.items()}
    assert counts == {
        "demandes": (3, 3),
        "attributions": (1, 1),
        "logements": (2, 2),
        "seuils_q1": (2, 2),
        "propositions": (3, 3),
        "bailleurs": (2, 2),
    }


def test_data_document_column_map_example_reads_the_export_example(tmp_path):
    from allocation_analysis.io import load_table

    examples = _examples()
    export = tmp_path / "export.csv"
    export.write_text(examples["export_demandes"], encoding="utf-8")
    colmap = tmp_path / "map.yaml"
    colmap.write_text(examples["column_map"], encoding="utf-8")
    res = load_table(
        export, "demandes", column_map=colmap, key=b"k" * 32, extract_date="2025-12-31"
    )
    assert (res.n_accepted, res.n_rejected) == (2, 0)
    assert res.data["nationalite"].tolist() == ["francaise", "hors_ue"]
    assert res.data["situation_logement"].tolist() == ["locataire_prive", "heberge"]
    assert res.data["prioritaire"].tolist() == [False, True]


def test_sections_of_the_methods_document_cited_by_the_code_exist():
    methods = (DOCS / "methods.md").read_text(encoding="utf-8")
    numbered = set(re.findall(r"^## (\d+)\. ", methods, re.M))
    for path, text in _package_texts():
        for first, last in re.findall(r"docs/methods\.md`{0,2} §(\d+)(?:–(\d+))?", text):
            for section in {first, last or first}:
                assert section in numbered, (
                    f"{path.relative_to(ROOT)} cites docs/methods.md §{section}, "
                    "which the document does not have"
                )
