"""``python -m allocation_analysis`` is the same as the ``allocation-analysis`` command."""

from allocation_analysis.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
