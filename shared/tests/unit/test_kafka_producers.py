"""The access table's producers are exactly the topics each service's code publishes to (a static scan)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from customer_agent_shared import topics
from customer_agent_shared.kafka_acls import PRODUCERS

SERVICES = Path(__file__).resolve().parents[3] / "services"
SENDS = {"publish", "send_event", "send_raw"}
"""Methods that put an event on a topic given as their first argument (the unit of work, the producer)."""
TOPIC_CONSTANTS = {
    name: value
    for name, value in vars(topics).items()
    if name.isupper() and isinstance(value, str) and value in topics.all_topic_names()
}


def _calls(tree: ast.AST) -> Iterator[tuple[ast.Call, ast.FunctionDef | ast.AsyncFunctionDef | None]]:
    """Every call with the function it is written in (None at module level)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    yield inner, node
        elif isinstance(node, ast.Module):
            for statement in node.body:
                if not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    yield from ((call, None) for call in ast.walk(statement) if isinstance(call, ast.Call))


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def _topic_argument(call: ast.Call, position: int | None, keyword: str) -> ast.expr | None:
    if position is not None and len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _helper_parameter(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> tuple[int | None, str] | None:
    """Where a function takes its parameter ``name``: its position (None when keyword-only) and its name."""
    positional = [a.arg for a in function.args.args]
    if name in positional:
        return positional.index(name), name
    if name in [a.arg for a in function.args.kwonlyargs]:
        return None, name
    return None


def published_topics(paths: Iterable[Path]) -> set[str]:
    """Topics some modules publish to: constants passed to a send, or to a helper (of any of the modules)
    that passes its parameter on."""
    trees = [(path, ast.parse(path.read_text(), str(path))) for path in paths]
    found: set[str] = set()
    helpers: dict[str, tuple[int | None, str]] = {}  # helper function -> position and name of its topic parameter
    for path, tree in trees:
        for call, function in list(_calls(tree)):
            argument = _topic_argument(call, 0, "topic") if _callee(call) in SENDS else None
            if not isinstance(argument, ast.Name):
                continue
            if argument.id in TOPIC_CONSTANTS:
                found.add(TOPIC_CONSTANTS[argument.id])
            elif "topic" in argument.id.lower() or argument.id.isupper():  # else not a topic (drafts.publish)
                parameter = _helper_parameter(function, argument.id) if function is not None else None
                if function is None or parameter is None:
                    pytest.fail(f"{path}:{call.lineno}: the scan cannot tell which topic {argument.id} names")
                helpers[function.name] = parameter
    for path, tree in trees:
        for call, _ in _calls(tree):
            if (name := _callee(call)) in helpers:
                position, keyword = helpers[name]
                argument = _topic_argument(call, position, keyword)
                assert isinstance(argument, ast.Name), f"{path}:{call.lineno}"
                assert argument.id in TOPIC_CONSTANTS, f"{path}:{call.lineno}"
                found.add(TOPIC_CONSTANTS[argument.id])
    return found


def service_names() -> list[str]:
    return sorted(path.name for path in SERVICES.iterdir() if (path / "src").is_dir())


@pytest.mark.parametrize("service", service_names())
def test_a_service_may_write_exactly_the_topics_its_code_publishes_to(service: str) -> None:
    in_code = published_topics((SERVICES / service / "src").rglob("*.py"))
    granted = {topic for topic, producers in PRODUCERS.items() if service in producers}
    assert in_code, f"no publication found in {service}: the scan is broken"
    assert granted - in_code == set(), "granted but never published"
    assert in_code - granted == set(), "published but not granted"


def test_the_scan_follows_a_helper_that_passes_its_topic_on(tmp_path: Path) -> None:
    module = tmp_path / "effects.py"
    module.write_text(
        "async def _stage(uow, topic, key):\n"
        "    await uow.publish(topic, key, None)\n"
        "async def handle(uow):\n"
        "    await _stage(uow, INBOX_HANDOFFS, 'k')\n"
        "    await uow.publish(AUDIT, 'k', None)\n"
        "    await subscribe.each(AGENT_CONFIG)\n"
        "    await drafts.publish(account_id)\n"
    )
    assert published_topics([module]) == {topics.INBOX_HANDOFFS, topics.AUDIT}


def test_the_scan_follows_a_keyword_only_topic_into_another_module(tmp_path: Path) -> None:
    helper = tmp_path / "base.py"
    helper.write_text("async def stage_reply(uow, cause, *, topic, data):\n    await uow.publish(topic, 'k', data)\n")
    caller = tmp_path / "preview.py"
    caller.write_text("async def handle(uow, event):\n    await stage_reply(uow, event, topic=AUDIT, data=None)\n")
    assert published_topics([helper, caller]) == {topics.AUDIT}
