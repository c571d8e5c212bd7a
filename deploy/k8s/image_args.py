"""The ``docker build`` arguments of one service's image (the root Dockerfile serves every service).

They are what ``generate.py`` read of the service's code, as recorded in ``base/services.json``:

    docker build $(uv run python deploy/k8s/image_args.py routing) -t customer-agent/routing .

(``make image SERVICE=routing`` runs exactly that.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SERVICES_JSON = Path(__file__).resolve().parent / "base" / "services.json"


def build_args(service: dict[str, Any]) -> dict[str, str]:
    """The Dockerfile's build arguments for one entry of ``services.json``."""
    return {
        "DISTRIBUTION": str(service["distribution"]),
        "SCRIPT": str(service["script"]),
        "ENV_PREFIX": str(service["env_prefix"]),
        "PORT": str(service["port"]),
        # Commas, not spaces: the caller word-splits the printed arguments (``docker build $(...)``).
        "DEBIAN_PACKAGES": ",".join(service["debian_packages"]),
    }


def services(path: Path = SERVICES_JSON) -> dict[str, dict[str, Any]]:
    """Every service recorded in ``services.json``, by name."""
    return {str(entry["name"]): entry for entry in json.loads(path.read_text())}


def main(argv: list[str] | None = None) -> int:
    """Print ``--build-arg NAME=value`` for the service named in ``argv``."""
    args = sys.argv[1:] if argv is None else argv
    known = services()
    if len(args) != 1 or args[0] not in known:
        print(f"usage: image_args.py SERVICE (one of: {', '.join(sorted(known))})", file=sys.stderr)
        return 2
    print(" ".join(f"--build-arg {name}={value}" for name, value in build_args(known[args[0]]).items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
