"""The Debian packages each service reads at run time, as its pyproject declares them:

    [tool.customer-agent]
    debian-packages = ["dict-freedict-dan-eng", ...]

``discovery.py`` records them in ``base/services.json`` (the image's ``DEBIAN_PACKAGES`` build argument);
the local stack installs them too, reading them before any virtualenv exists, so this module needs only
the standard library (``deploy/local/infra.sh`` runs ``python3 deploy/k8s/system_packages.py``, which
prints every service's packages on one line).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TABLE = "customer-agent"
KEY = "debian-packages"
# Debian's rule for package names; it also keeps them safe to join with commas and split in a shell.
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def debian_packages(pyproject: Path) -> tuple[str, ...]:
    """The packages one pyproject declares; none without a ``[tool.customer-agent]`` table."""
    table: Any = tomllib.loads(pyproject.read_text()).get("tool", {}).get(TABLE, {})
    # A misspelt key would leave the packages out silently, and the service only logs what it misses.
    unknown = set(table) - {KEY}
    if unknown:
        raise ValueError(f"{pyproject}: unknown keys in [tool.{TABLE}]: {', '.join(sorted(unknown))}")
    names = table.get(KEY, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and PACKAGE_NAME.fullmatch(n) for n in names):
        raise ValueError(f"{pyproject}: [tool.{TABLE}] {KEY} must be a list of Debian package names")
    if len(set(names)) != len(names):
        raise ValueError(f"{pyproject}: [tool.{TABLE}] {KEY} names a package twice")
    return tuple(names)


def every_service_package(repo: Path = REPO) -> list[str]:
    """The packages of every service of the workspace, sorted, each once."""
    return sorted({name for path in repo.glob("services/*/pyproject.toml") for name in debian_packages(path)})


def main() -> int:
    """Print every service's packages, space-separated, on one line."""
    try:
        print(" ".join(every_service_package()))
    except (OSError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        print(f"system_packages.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
