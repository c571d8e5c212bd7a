"""``customer-agent``: operator commands; each command group registers its own subcommands."""

from __future__ import annotations

import argparse

from customer_agent_shared.operations.dlq_command import add_dlq_commands


def build_parser() -> argparse.ArgumentParser:
    """The parser of every operator command."""
    parser = argparse.ArgumentParser(
        prog="customer-agent",
        description="Operator commands of the Customer Agent (Kafka from KAFKA_BOOTSTRAP_SERVERS).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_dlq_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
