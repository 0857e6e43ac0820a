"""French sentences write numbers the French way, through one formatter.

A format specification such as ``{auc:.2f}`` or ``{power:.0%}`` in an f-string
writes « 0.58 » or « 80% » where a French reader expects « 0,58 » and « 80 % »;
every number meant for a reader goes through :mod:`allocation_analysis.text`.
Log records (``logger.*``), developer ``__repr__`` and the formatter itself are
exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import allocation_analysis
from allocation_analysis.text import fmt_num

PACKAGE = Path(allocation_analysis.__file__).parent
_FLOAT_TYPES = set("eEfFgG%")


def _float_specs(tree: ast.AST) -> list[int]:
    """Lines of f-strings with a float format outside logs and __repr__."""
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__repr__":
            exempt |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and "log" in owner.id.lower():
                exempt |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FormattedValue) or node.format_spec is None:
            continue
        spec = "".join(v.value for v in node.format_spec.values if isinstance(v, ast.Constant))
        if spec and spec[-1] in _FLOAT_TYPES and node.lineno not in exempt:
            lines.append(node.lineno)
    return lines


def test_the_check_finds_a_float_format():
    assert _float_specs(ast.parse('x = f"AUC = {auc:.2f}"')) == [1]
    assert _float_specs(ast.parse('logger.info(f"{t:.1f} s")')) == []


def test_messages_and_sentences_use_the_french_number_formatter():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "text.py":  # the formatter
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(PACKAGE)}:{line}" for line in _float_specs(tree)]
    assert found == []


def test_fmt_num_is_the_french_g_format():
    assert fmt_num(0.05) == "0,05"
    assert fmt_num(3.14159) == "3,14159"
    assert fmt_num(704512.0) == "704\u202f512"
    assert fmt_num(12.0) == "12"
    assert fmt_num(-0.5) == "\u22120,5"
    assert fmt_num(12.3456, significant=3) == "12,3"
