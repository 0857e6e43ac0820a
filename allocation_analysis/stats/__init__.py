"""Statistical tests of allocation disparities (methods.md §2–3).

Every test returns a :class:`TestResult` (or a :class:`ResultSet` for a
multi-level group without ``compared``).
"""

from allocation_analysis.stats._result import ResultSet, TestResult

__all__ = ["ResultSet", "TestResult"]
