"""Command line: ``python -m redress migrate|seed|check-config``."""

from __future__ import annotations

import argparse
import logging
import sys

from redress.business import configuration_or_exit
from redress.db.session import unit_of_work
from redress.migrate import upgrade
from redress.seed import load_demo_customers

logger = logging.getLogger("redress")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m redress", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="validate settings and the business folder")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("seed", help="load the demo customers from the business folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings, business = configuration_or_exit(logger)
    if args.command == "migrate":
        upgrade(settings.database_url)
        logger.info("database is up to date")
    elif args.command == "seed":
        with unit_of_work(settings.database_url) as session:
            changed = load_demo_customers(session, business.demo_customers)
        logger.info("demo customers loaded (%d added or updated)", changed)
    else:
        logger.info("settings and business configuration are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
