"""Semi-annual analysis of social-housing allocations.

Legal indicators of the Convention Intercommunale d'Attribution (CIA, formerly
CIET) and statistical tests of allocation disparities by origin and by place of
residence (priority neighbourhoods, QPV), from SNE demand/allocation extracts and
RPLS-like stock.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
