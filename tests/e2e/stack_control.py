"""Start, stop and kill parts of the local stack from tests (through deploy/local's scripts)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack"))
LOCAL = REPO / "deploy" / "local"


async def run_script(script: str, *args: str, timeout_seconds: float = 180) -> None:
    """Run a deploy/local script and fail with its output if it fails."""
    process = await asyncio.create_subprocess_exec(
        "bash", str(LOCAL / script), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_seconds)
    assert process.returncode == 0, f"{script} {' '.join(args)} failed:\n{output.decode()[-3000:]}"


def service_pid(name: str) -> int:
    """Pid (and process group) of a running service."""
    return int((STATE_DIR / "run" / f"service-{name}.pid").read_text().split()[0])


def kill_service(name: str) -> None:
    """kill -9 a service's whole process group: no shutdown, no commit."""
    os.killpg(service_pid(name), signal.SIGKILL)


async def start_service(name: str) -> None:
    """Start one service (no-op if it runs) and wait until it is ready."""
    await run_script("services.sh", "up", name)


async def ensure_everything_up() -> None:
    """Bring back whatever a fault test stopped."""
    await run_script("infra.sh", "up", timeout_seconds=300)
    await run_script("services.sh", "up", timeout_seconds=300)
