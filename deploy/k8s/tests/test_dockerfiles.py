"""The one Dockerfile builds every service as the service's code says (no Docker engine needed).

The Dockerfile is parsed (continuations, JSON and shell forms, stages) and, expanded with each
service's build arguments (``image_args.py``), compared with the service's pyproject
(distribution, console script, Python version, Debian packages), its settings class (env prefix,
default port) and the Makefile's pinned uv version.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SERVICE_DIRS = sorted(p.parent for p in REPO.glob("services/*/pyproject.toml"))
DOCKERFILE = REPO / "Dockerfile"
ENTRYPOINT = "customer-agent-service"
OPTIONAL_ARGS = {"DEBIAN_PACKAGES"}  # empty for a service that declares none


@dataclass
class Stage:
    """One FROM ... block."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every instruction with that keyword."""
        return [args for key, args in self.instructions if key == keyword]


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ARGs and stages."""

    args: dict[str, str]
    stages: list[Stage]

    def expand(self, text: str, build_args: dict[str, str] | None = None) -> str:
        """Substitute ``${ARG}``: the build's arguments, else the global defaults (what FROM lines see)."""
        values = {**self.args, **(build_args or {})}
        return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def parse(text: str) -> Dockerfile:
    """Parse a Dockerfile into global ARGs and stages (comments dropped, continuations joined)."""
    logical: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages and keyword == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
        elif stages:
            stages[-1].instructions.append((keyword, rest))
        else:
            raise AssertionError(f"instruction before the first FROM: {line}")
    return Dockerfile(args, stages)


def exec_form(args: str) -> list[str]:
    """An ENTRYPOINT/CMD argument that must be in JSON (exec) form, so signals reach Python."""
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return [str(v) for v in value]


def env_pairs(stage: Stage) -> dict[str, str]:
    """Every ``ENV key=value`` of a stage."""
    pairs: dict[str, str] = {}
    for args in stage.all("ENV"):
        for token in shlex.split(args):
            key, sep, value = token.partition("=")
            assert sep, f"use ENV key=value, not the legacy form: {args}"
            pairs[key] = value
    return pairs


def service_facts(directory: Path) -> dict[str, object]:
    """What the Dockerfile must agree with, read from the service's code."""
    project = tomllib.loads((directory / "pyproject.toml").read_text())["project"]
    [(script, target)] = project["scripts"].items()
    package = target.split(".", 1)[0]
    from customer_agent_shared.settings import ServiceSettings

    module = importlib.import_module(f"{package}.settings")
    [settings_cls] = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__
    ]
    python = re.search(r">=\s*(\d+\.\d+)", project["requires-python"])
    assert python is not None
    tool = tomllib.loads((directory / "pyproject.toml").read_text()).get("tool", {})
    return {
        "debian_packages": ",".join(tool.get("customer-agent", {}).get("debian-packages", [])),
        "distribution": project["name"],
        "script": script,
        "prefix": settings_cls.model_config["env_prefix"],
        "port": settings_cls.model_fields["http_port"].get_default(),
        "python": python.group(1),
    }


def build_args_of(facts: dict[str, object]) -> dict[str, str]:
    """The build arguments a service's image needs, from the service's code."""
    return {
        "DISTRIBUTION": str(facts["distribution"]),
        "SCRIPT": str(facts["script"]),
        "ENV_PREFIX": str(facts["prefix"]),
        "PORT": str(facts["port"]),
        "DEBIAN_PACKAGES": str(facts["debian_packages"]),
    }


def test_one_dockerfile_and_ignore_file_serve_every_service() -> None:
    assert len(SERVICE_DIRS) == 6
    assert not list(REPO.glob("services/*/Dockerfile*")), "the root Dockerfile serves every service"
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, "the context is the repo root: ignore everything, then re-include"
    for kept in ("!uv.lock", "!shared/src", "!services/*/pyproject.toml", "!services/*/src"):
        assert kept in ignore, kept


@pytest.mark.parametrize("directory", SERVICE_DIRS, ids=lambda p: p.name)
def test_make_image_passes_the_build_arguments_of_the_service(directory: Path) -> None:
    import image_args

    [recorded] = [s for s in image_args.services().values() if s["directory"] == str(directory.relative_to(REPO))]
    assert image_args.build_args(recorded) == build_args_of(service_facts(directory))


@pytest.mark.parametrize("directory", SERVICE_DIRS, ids=lambda p: p.name)
def test_the_dockerfile_builds_the_service(directory: Path) -> None:
    facts = service_facts(directory)
    build_args = build_args_of(facts)
    dockerfile = parse(DOCKERFILE.read_text())
    runtime = dockerfile.stages[-1]

    # Every argument without a default is one the build passes, and the build refuses to run without it;
    # the optional ones default to nothing.
    declared = {args for stage in dockerfile.stages for args in stage.all("ARG") if "=" not in args}
    assert declared == set(build_args) - OPTIONAL_ARGS
    optional = {args for stage in dockerfile.stages for args in stage.all("ARG") if args.endswith('=""')}
    assert optional == {f'{name}=""' for name in OPTIONAL_ARGS}

    def expanded(stage: Stage, keyword: str) -> list[str]:
        return [dockerfile.expand(args, build_args) for args in stage.all(keyword)]

    # Multi-stage: dependencies are resolved in a build stage, only the venv is copied over (an earlier stage
    # prepares admin-api's console assets).
    assert len(dockerfile.stages) >= 2
    [build] = [stage for stage in dockerfile.stages if stage.name == "build"]
    [check] = [run for run in build.all("RUN") if "printenv" in run]
    assert all(name in check for name in set(build_args) - OPTIONAL_ARGS), check
    copies = runtime.all("COPY")
    assert any(c.startswith("--from=build ") and "/app/.venv" in c for c in copies), copies
    assert not [c for c in copies if not c.startswith("--from=")], "runtime stage copies only from the build stage"

    # Same slim Python as the workspace's requires-python, in both stages.
    for stage in (build, runtime):
        base = dockerfile.expand(stage.base)
        assert re.fullmatch(rf"python:{re.escape(str(facts['python']))}(\.\d+)?-slim(-\w+)?", base), base

    # uv pinned like the Makefile, locked (--frozen), without dev dependencies, this package only.
    make_uv = re.search(r"^UV_VERSION := (\S+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert make_uv is not None
    assert f"UV_VERSION={make_uv.group(1)}" in build.all("ARG")
    sync = [r.replace('"', "") for r in expanded(build, "RUN") if "uv sync" in r]
    assert len(sync) == 1
    for flag in ("--frozen", "--no-dev", "--no-editable", f"--package {facts['distribution']}"):
        assert flag in sync[0], f"{flag} missing from {sync[0]}"
    assert f"ln -s {facts['script']} /app/.venv/bin/{ENTRYPOINT}" in sync[0]
    assert env_pairs(build).get("UV_COMPILE_BYTECODE") == "1", "bytecode is compiled at build (read-only root)"

    # Non-root numeric user (Kubernetes runAsNonRoot can verify it), read-only-root friendly.
    [user] = runtime.all("USER")
    uid = user.split(":")[0]
    assert uid.isdigit(), user
    assert int(uid) != 0, user
    assert f"--uid {uid}" in " ".join(runtime.all("RUN"))
    env = env_pairs(Stage(runtime.base, runtime.name, [("ENV", args) for args in expanded(runtime, "ENV")]))
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"

    # The port the settings listen on, on all interfaces (the code default is loopback).
    assert expanded(runtime, "EXPOSE") == [str(facts["port"])]
    assert env.get(f"{facts['prefix']}HTTP_HOST") == "0.0.0.0"
    assert f"{facts['prefix']}HTTP_PORT" not in env or env[f"{facts['prefix']}HTTP_PORT"] == str(facts["port"])

    # The console script (through the link above), with `serve` as the overridable default command (the Job
    # runs `migrate`).
    [entrypoint] = runtime.all("ENTRYPOINT")
    assert exec_form(entrypoint) == [ENTRYPOINT]
    [cmd] = runtime.all("CMD")
    assert exec_form(cmd) == ["serve"]


def install_step(runtime: Stage) -> str:
    """The runtime stage's RUN that installs the service's Debian packages."""
    [run] = [args for args in runtime.all("RUN") if "DEBIAN_PACKAGES" in args]
    return run


def test_debian_packages_install_as_root_before_the_virtualenv() -> None:
    runtime = parse(DOCKERFILE.read_text()).stages[-1]
    lines = [f"{keyword} {args}" for keyword, args in runtime.instructions]
    step = lines.index(f"RUN {install_step(runtime)}")
    assert lines.index('ARG DEBIAN_PACKAGES=""') < step
    # The venv changes with every commit, the packages seldom: their layer comes first, so it stays cached.
    assert step < min(i for i, line in enumerate(lines) if line.startswith("COPY --from=build "))
    assert step < min(i for i, line in enumerate(lines) if line.startswith("USER "))


@pytest.mark.parametrize("directory", SERVICE_DIRS, ids=lambda p: p.name)
def test_the_install_step_installs_exactly_the_declared_packages(directory: Path, tmp_path: Path) -> None:
    # The step run by the image's /bin/sh with a recording apt-get, its lists directory moved to tmp_path.
    packages = str(service_facts(directory)["debian_packages"])
    step = install_step(parse(DOCKERFILE.read_text()).stages[-1])
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb.debian.org_debian_dists_bookworm_InRelease").write_text("")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "calls"
    (stubs / "apt-get").write_text(f'#!/bin/sh\necho "${{DEBIAN_FRONTEND:-}} $*" >>{calls}\n')
    (stubs / "apt-get").chmod(0o755)
    script = step.replace("/var/lib/apt/lists", str(lists))
    assert script != step
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "DEBIAN_PACKAGES": packages}
    subprocess.run(["/bin/sh", "-c", script], env=env, check=True)
    if not packages:
        assert not calls.exists(), "no apt-get for a service that declares no package"
        assert list(lists.iterdir())
        return
    assert calls.read_text().splitlines() == [
        " update",
        f"noninteractive install -y --no-install-recommends {packages.replace(',', ' ')}",
    ]
    assert not list(lists.iterdir()), "the package lists stay out of the image"


def test_the_uid_matches_the_manifests() -> None:
    import generate

    [user] = parse(DOCKERFILE.read_text()).stages[-1].all("USER")
    assert user == f"{generate.RUN_AS_USER}:{generate.RUN_AS_USER}"


def test_parser_rejects_what_it_must() -> None:
    # A broken Dockerfile must fail the checks above, not pass silently.
    broken = parse("FROM python:3.11-slim AS build\nUSER root\nENTRYPOINT routing-service serve\n")
    assert len(broken.stages) == 1
    with pytest.raises(json.JSONDecodeError):
        exec_form(broken.stages[0].all("ENTRYPOINT")[0])
    assert broken.stages[0].all("USER") == ["root"]
