"""``customer-agent dlq list|show|replay``: the operator's view of dead letters."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from typing import Any, TextIO

from aiokafka.errors import KafkaError

from customer_agent_shared.operations.dead_letter_store import DeadLetterStore, Scan
from customer_agent_shared.operations.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterRef,
    ReplayDecision,
    Verdict,
    dead_letter_topics,
    decide,
    describe,
    format_show,
    format_table,
    parse_since,
    select,
    table_row,
)
from customer_agent_shared.topics import AUDIT, TOPICS_BY_NAME

LIST_LIMIT = 100


def _argument(convert: Any) -> Any:
    """An argparse ``type`` whose ValueError message is shown as it is."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from error

    parse.__name__ = convert.__name__
    return parse


def _add_filters(parser: argparse.ArgumentParser, *, limit: int | None) -> None:
    parser.add_argument("--topic", help="one topic (or its .dlq); default: every topic of the registry")
    parser.add_argument("--account", help="only dead letters whose CloudEvent is of this account")
    parser.add_argument("--error-type", help="only this dlq-error-type, e.g. EventParseError")
    parser.add_argument("--since", type=_argument(parse_since), help="only those dead-lettered since (ISO 8601)")
    parser.add_argument("--limit", type=int, default=limit, help=f"at most N (default: {limit or 'all'})")


def add_dlq_commands(commands: Any) -> None:
    """Register ``dlq`` and its subcommands on the top-level command parser."""
    dlq = commands.add_parser("dlq", help="inspect and replay dead letters (<topic>.dlq)")
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list dead letters, why they failed, whether they were replayed")
    _add_filters(listing, limit=LIST_LIMIT)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one dead letter: headers and full body")
    show.add_argument("ref", type=_argument(DeadLetterRef.parse), help="<topic.dlq>:<partition>:<offset>")
    replay = actions.add_parser("replay", help="re-publish dead letters to their original topic, once each")
    replay.add_argument("ref", nargs="?", type=_argument(DeadLetterRef.parse), help="<topic.dlq>:<partition>:<offset>")
    replay.add_argument("--all", action="store_true", help="every dead letter not replayed yet (with filters: those)")
    _add_filters(replay, limit=None)
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; send nothing")
    replay.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    replay.add_argument("--force", action="store_true", help="also replay bodies that are not CloudEvents")
    replay.add_argument("--actor", default=None, help="who replays, for the audit log (default: the OS user)")
    dlq.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``dlq`` command against the cluster of ``KAFKA_BOOTSTRAP_SERVERS`` (as ``KAFKA_SASL_USERNAME``)."""
    from customer_agent_shared.settings import InfrastructureSettings

    settings = InfrastructureSettings()
    store = DeadLetterStore(
        settings.kafka_bootstrap_servers, known_topics=frozenset(TOPICS_BY_NAME), audit_topic=AUDIT, security=settings
    )
    return asyncio.run(execute(args, store))


async def execute(args: argparse.Namespace, store: DeadLetterStore, out: TextIO = sys.stdout) -> int:
    """Run a parsed ``dlq`` command with ``store``; return the exit status."""
    try:
        async with store:
            if args.dlq_command == "show":
                letter, marker = await store.fetch(args.ref)
                print(format_show(letter, marker), file=out)
                return 0
            if args.dlq_command == "list":
                return await _list(args, store, out)
            return await _replay(args, store, out)
    except (LookupError, ValueError) as error:
        print(f"customer-agent dlq: {error}", file=sys.stderr)
        return 1
    except (KafkaError, OSError) as error:
        # What was replayed before is marked: running the same command again goes on from here.
        print(f"customer-agent dlq: Kafka at {store.bootstrap_servers} failed: {error!r}", file=sys.stderr)
        return 1


def _condition(args: argparse.Namespace) -> DeadLetterFilter:
    return DeadLetterFilter(account_id=args.account, error_type=args.error_type, since=args.since)


async def _scan(args: argparse.Namespace, store: DeadLetterStore) -> tuple[Scan, list[DeadLetter]]:
    scan = await store.scan(dead_letter_topics(args.topic, store.known_topics), since=args.since)
    for topic in scan.missing_topics:
        print(
            f"note: the cluster has no topic {topic} (python -m customer_agent_shared.topics ensure)", file=sys.stderr
        )
    return scan, select(scan.letters, _condition(args))


async def _list(args: argparse.Namespace, store: DeadLetterStore, out: TextIO) -> int:
    scan, matching = await _scan(args, store)
    shown = matching if args.limit is None else matching[: args.limit]
    if args.json:
        for letter in shown:
            print(json.dumps(describe(letter, scan.markers.get(letter.ref)), ensure_ascii=False), file=out)
    elif shown:
        print(format_table(table_row(letter, scan.markers.get(letter.ref)) for letter in shown), file=out)
    replayed = sum(1 for letter in matching if letter.ref in scan.markers)
    print(f"{len(shown)} shown of {len(matching)} dead letters ({replayed} replayed)", file=sys.stderr)
    return 0


async def _replay(args: argparse.Namespace, store: DeadLetterStore, out: TextIO) -> int:
    chosen = args.all or args.topic is not None or not _condition(args).is_empty
    if (args.ref is None) == (not chosen):
        raise ValueError("name one dead letter (<topic.dlq>:<partition>:<offset>) or use --all or filters, not both")
    if args.ref is not None:
        letter, marker = await store.fetch(args.ref)
        letters, markers = [letter], {letter.ref: marker} if marker is not None else {}
    else:
        scan, letters = await _scan(args, store)
        markers = scan.markers
    decisions = [
        decide(letter, replayed=letter.ref in markers, known_topics=store.known_topics, force=args.force)
        for letter in letters
    ]
    todo = [decision.letter for decision in decisions if decision.verdict is Verdict.REPLAY]
    if args.limit is not None:
        todo = todo[: args.limit]
    _report_plan(decisions, out)
    print(f"{len(todo)} to replay{' (dry run: nothing sent)' if args.dry_run else ''}", file=out)
    if args.dry_run or not todo or not _confirmed(args, len(todo)):
        return 1 if any(decision.verdict is Verdict.REFUSED for decision in decisions) else 0
    actor = args.actor or _os_user()
    for number, letter in enumerate(todo, start=1):
        marker = await store.replay(letter, actor=actor)
        print(f"[{number}/{len(todo)}] {letter.ref} -> {marker.topic}:{marker.partition}:{marker.offset}", file=out)
    return 1 if any(decision.verdict is Verdict.REFUSED for decision in decisions) else 0


def _report_plan(decisions: list[ReplayDecision], out: TextIO) -> None:
    for decision in decisions:
        if decision.verdict is Verdict.REFUSED:
            print(f"refused {decision.letter.ref}: {decision.reason}", file=out)
    skipped = sum(1 for decision in decisions if decision.verdict is Verdict.ALREADY_REPLAYED)
    if skipped:
        print(f"{skipped} already replayed: skipped", file=out)


def _confirmed(args: argparse.Namespace, count: int) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise ValueError("not a terminal: add --yes to replay without confirmation")
    answer = input(f"Replay {count} dead letter(s) to their original topics? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry and no USER variable
        return f"uid-{os.getuid()}"
