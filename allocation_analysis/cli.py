"""Command line: ``allocation-analysis COMMAND`` (also ``python -m allocation_analysis``).

The CLI only parses arguments and calls the library. Exit codes: 0 success,
1 invalid input, 2 usage, 3 analysis failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from allocation_analysis.errors import AnalysisError, InputError, UsageError

__all__ = ["main"]

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_ANALYSIS = 0, 1, 2, 3

_INPUT_FLAGS = (
    "demandes",
    "attributions",
    "logements",
    "seuils",
    "communes",
    "qpv",
    "column_map",
    "propositions",
    "bailleurs",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit code 2 with a French hint
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: erreur d'utilisation : {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_input_flags(p: argparse.ArgumentParser, *, with_output: bool = True) -> None:
    p.add_argument("--config", help="fichier YAML avec les mêmes clés que les options")
    for name in _INPUT_FLAGS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, help=f"fichier « {name} »")
    p.add_argument(
        "--period",
        help="semestre AAAA-S1|AAAA-S2, ou « auto » (dernier semestre complet couvert par les "
        "données)",
    )
    p.add_argument("--territory", help="nom du territoire (dossier de sortie, rapport)")
    p.add_argument(
        "--siren-epci", dest="siren_epci", help="SIREN de l'EPCI (seuils du 1er quartile)"
    )
    if with_output:
        p.add_argument("--output", help="dossier de sortie")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="allocation-analysis",
        description="Analyse semestrielle des attributions de logements sociaux (CIA).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="journal détaillé")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="analyse complète sur le territoire synthétique intégré")
    p.add_argument("--output", default="outputs")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", choices=["tiny", "small", "demo", "mel"], default="demo")

    p = sub.add_parser("run", help="analyse semestrielle sur des données réelles")
    _add_input_flags(p)

    p = sub.add_parser("validate", help="contrôle des fichiers d'entrée seulement")
    _add_input_flags(p, with_output=False)
    p.add_argument("--rejects", help="dossier où écrire les lignes rejetées (CSV)")

    p = sub.add_parser("synth", help="écrit un jeu de données synthétique avec effets connus")
    p.add_argument("--output", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", choices=["tiny", "small", "demo", "mel", "national"], default="small")
    p.add_argument("--effects", help="fichier YAML des effets plantés")
    p.add_argument("--format", dest="fmt", choices=["csv", "fr-csv", "parquet"], default="csv")
    p.add_argument("--communes", help="communes réelles où placer la population (optionnel)")
    p.add_argument("--qpv", help="QPV réels où placer la population (optionnel)")
    p.add_argument(
        "--propositions",
        action="store_true",
        help="produit aussi les propositions (CAL, réponses) et la cotation des demandes",
    )

    p = sub.add_parser("fetch-geo", help="télécharge les contours des communes et des QPV")
    p.add_argument("--epci", required=True, help="SIREN de l'EPCI")
    p.add_argument("--qpv-list", dest="qpv_list", choices=["2015", "2024"], default="2024")
    p.add_argument("--output", default="data_raw/geo")

    p = sub.add_parser("batch", help="plusieurs territoires × périodes")
    p.add_argument("--config", required=True)
    p.add_argument("--scheduler", help="adresse d'un ordonnanceur Dask (sinon processus locaux)")
    p.add_argument("--workers", type=int, default=2)
    return parser


def _run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Merge ``--config FILE`` and explicit flags (flags win)."""
    from allocation_analysis.config import load_config_file

    opts: dict[str, Any] = load_config_file(args.config) if getattr(args, "config", None) else {}
    for key in (*_INPUT_FLAGS, "period", "territory", "siren_epci", "output"):
        value = getattr(args, key, None)
        if value is not None:
            opts[key] = value
    return opts


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "validate":
        from allocation_analysis.io import validate_command

        return validate_command(_run_options(args), rejects_dir=args.rejects)
    if cmd == "synth":
        from allocation_analysis.synth import synth_command

        return synth_command(
            output=args.output,
            seed=args.seed,
            scale=args.scale,
            effects=args.effects,
            fmt=args.fmt,
            communes=args.communes,
            qpv=args.qpv,
            propositions=args.propositions,
        )
    if cmd == "run":
        from allocation_analysis.pipeline import run_command

        return run_command(_run_options(args))
    if cmd == "demo":
        from allocation_analysis.pipeline import demo_command

        return demo_command(output=args.output, seed=args.seed, scale=args.scale)
    if cmd == "fetch-geo":
        from allocation_analysis.io.fetch import fetch_geo_command

        return fetch_geo_command(epci=args.epci, qpv_list=args.qpv_list, output=args.output)
    if cmd == "batch":
        from allocation_analysis.batch import batch_command

        return batch_command(config=args.config, scheduler=args.scheduler, workers=args.workers)
    raise UsageError(f"Commande inconnue : {cmd}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return _dispatch(args)
    except InputError as exc:
        sys.stderr.write(f"Erreur dans les données d'entrée : {exc}\n")
        return EXIT_INPUT
    except UsageError as exc:
        sys.stderr.write(f"Erreur d'utilisation : {exc}\n")
        return EXIT_USAGE
    except AnalysisError as exc:
        sys.stderr.write(f"Échec de l'analyse : {exc}\n")
        return EXIT_ANALYSIS
    except KeyboardInterrupt:
        sys.stderr.write("Interrompu.\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
