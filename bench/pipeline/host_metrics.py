"""What the local stack's processes cost while the pipeline benchmark runs: CPU seconds and resident
memory per process group (from the stack's pid files and /proc), and the hypervisor's stolen time."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cpu_seconds_by_pid() -> tuple[dict[int, float], dict[int, int]]:
    """User+system CPU seconds and parent pid of every process (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid ... utime(12th) stime(13th).
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu, parents


def host_stolen_seconds() -> float:
    """CPU seconds the hypervisor has taken from this machine's cores since boot ('steal' in /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def process_group_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each local-stack process with its children, and by this benchmark."""
    run_dir = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack")) / "run"
    cpu, parents = _cpu_seconds_by_pid()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)

    def with_descendants(root: int) -> float:
        total, pending = 0.0, [root]
        while pending:
            pid = pending.pop()
            total += cpu.get(pid, 0.0)
            pending.extend(children.get(pid, []))
        return total

    groups: dict[str, float] = {}
    for pidfile in sorted(run_dir.glob("*.pid")):
        try:
            root = int(pidfile.read_text().split()[0])
        except (OSError, ValueError):
            continue
        if root in cpu:
            groups[pidfile.stem.removeprefix("service-")] = with_descendants(root)
    groups["bench"] = cpu.get(os.getpid(), 0.0)
    return groups


def service_memory_mib() -> dict[str, float]:
    """Resident memory of each running service process (from the local stack's pid files)."""
    run_dir = Path(os.environ.get("CA_STATE_DIR", REPO / ".local-stack")) / "run"
    memory: dict[str, float] = {}
    for pidfile in sorted(run_dir.glob("service-*.pid")):
        try:
            pid = int(pidfile.read_text().split()[0])
            status = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                memory[pidfile.stem.removeprefix("service-")] = int(line.split()[1]) / 1024
    return memory
