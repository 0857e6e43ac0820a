"""Exceptions that carry a message meant for the user (in French).

A user mistake (unreadable file, missing column, unknown value …) raises an
:class:`InputError`; the command line prints its message and exits with code 1,
never with a traceback. Programming errors keep their ordinary exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class AllocationAnalysisError(Exception):
    """Base class of the toolkit's own exceptions."""


@dataclass
class InputError(AllocationAnalysisError):
    """Invalid input that the user must fix.

    Parameters
    ----------
    message : str
        What is wrong, in French, for the user.
    file : str, optional
        The file concerned.
    column : str, optional
        The column concerned.
    rows : sequence of int, optional
        Example row numbers (as a spreadsheet shows them: header = row 1).
    rule : str, optional
        Short machine-readable name of the rule that failed.
    """

    message: str
    file: str | None = None
    column: str | None = None
    rows: Sequence[int] = field(default_factory=tuple)
    rule: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"fichier « {self.file} »")
        if self.column:
            parts.append(f"colonne « {self.column} »")
        if self.rows:
            shown = ", ".join(str(r) for r in list(self.rows)[:5])
            more = "…" if len(self.rows) > 5 else ""
            parts.append(f"lignes {shown}{more}")
        where = (" [" + " ; ".join(parts) + "]") if parts else ""
        return f"{self.message}{where}"


class UsageError(AllocationAnalysisError):
    """Invalid command-line usage or parameter (exit code 2)."""


class AnalysisError(AllocationAnalysisError):
    """The analysis itself failed (exit code 3); the message names the failing step."""


class ArgumentError(UsageError, ValueError):
    """Invalid argument of a function of :mod:`allocation_analysis.stats`.

    Every statistical function raises this one type for an argument it cannot
    use (unknown column, a ``reference`` that is not a level of ``group``, an
    option outside its allowed values, a non-binary outcome …), with a French
    message naming the argument and the allowed values. It is a
    :class:`UsageError` (the command line prints the message, without a
    traceback) and a :class:`ValueError` (the usual Python type for a bad value).
    """
