"""Start, stop, kill and freeze parts of the local stack from tests (through deploy/local's scripts)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack"))
LOCAL = REPO / "deploy" / "local"
SERVICES = ("admin-api", "ingestion", "conversation", "routing", "billing")
COMPONENTS = ("postgres", "redis", "kafka", "opensearch")


async def run_script(script: str, *args: str, timeout_seconds: float = 180) -> None:
    """Run a deploy/local script and fail with its output if it fails."""
    process = await asyncio.create_subprocess_exec(
        "bash", str(LOCAL / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_seconds)
    except TimeoutError:
        process.kill()  # the script only: what it started runs in its own session and stays up
        await process.wait()
        raise
    assert process.returncode == 0, f"{script} {' '.join(args)} failed:\n{output.decode()[-3000:]}"


def recorded_pid(name: str) -> int:
    """Pid (and process group) deploy/local recorded for ``name`` (``service-routing``, ``kafka``, ...)."""
    return int((STATE_DIR / "run" / f"{name}.pid").read_text().split()[0])


def service_pid(name: str) -> int:
    """Pid (and process group) of a running service."""
    return recorded_pid(f"service-{name}")


def kill_service(name: str) -> None:
    """kill -9 a service's whole process group: no shutdown, no commit."""
    os.killpg(service_pid(name), signal.SIGKILL)


def signal_service(name: str, signal_number: signal.Signals) -> None:
    """Send a signal to a service's process group (SIGSTOP freezes it, SIGCONT thaws it)."""
    os.killpg(service_pid(name), signal_number)


def started_here(component: str) -> bool:
    """True when deploy/local started ``component`` (a store found running on its port is left alone)."""
    try:
        os.killpg(recorded_pid(component), 0)
    except (OSError, ValueError):
        return False
    return True


def signal_component(component: str, signal_number: signal.Signals) -> None:
    """Send a signal to a store's process group: SIGKILL is a crash, SIGSTOP a hang, SIGCONT the end of it."""
    os.killpg(recorded_pid(component), signal_number)


async def start_service(name: str) -> None:
    """Start one service (no-op if it runs) and wait until it is ready."""
    await run_script("services.sh", "up", name)


async def stop_component(component: str) -> None:
    """Stop a store cleanly (``<component>.sh down``)."""
    await run_script(f"{component}.sh", "down", timeout_seconds=120)


async def start_component(component: str) -> None:
    """Start a store (no-op if it runs) and wait until it answers."""
    await run_script(f"{component}.sh", "up", timeout_seconds=300)


async def ensure_everything_up() -> None:
    """Bring back whatever a fault test stopped."""
    await run_script("infra.sh", "up", timeout_seconds=300)
    await run_script("services.sh", "up", timeout_seconds=300)
