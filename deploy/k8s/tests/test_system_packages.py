"""The Debian packages a service declares in its pyproject, as the image and the local stack read them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from system_packages import debian_packages, every_service_package

K8S = Path(__file__).resolve().parents[1]


def pyproject(tmp_path: Path, tool: str) -> Path:
    """A service's pyproject with the given tool tables."""
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "some-service"\n{tool}')
    return path


def test_a_service_without_the_table_needs_no_package(tmp_path: Path) -> None:
    assert debian_packages(pyproject(tmp_path, "[tool.uv.sources]\nx = { workspace = true }\n")) == ()


def test_the_declared_packages_in_their_order(tmp_path: Path) -> None:
    path = pyproject(tmp_path, '[tool.customer-agent]\ndebian-packages = ["dict-freedict-fra-eng", "libc6"]\n')
    assert debian_packages(path) == ("dict-freedict-fra-eng", "libc6")


@pytest.mark.parametrize(
    "table",
    [
        'debian_packages = ["libc6"]',  # misspelt: it would otherwise be ignored
        'debian-packages = "libc6"',
        'debian-packages = ["libc6 curl"]',  # would split into two in the build argument
        'debian-packages = ["libc6,curl"]',
        'debian-packages = ["$(reboot)"]',
        'debian-packages = ["Curl"]',
        'debian-packages = ["libc6", "libc6"]',
    ],
)
def test_what_is_not_a_list_of_package_names_is_refused(tmp_path: Path, table: str) -> None:
    with pytest.raises(ValueError, match=r"tool\.customer-agent"):
        debian_packages(pyproject(tmp_path, f"[tool.customer-agent]\n{table}\n"))


def test_conversation_declares_its_bilingual_dictionaries() -> None:
    packages = every_service_package()
    assert "dict-freedict-dan-eng" in packages
    assert packages == sorted(set(packages))


def test_the_command_needs_only_the_standard_library() -> None:
    # deploy/local/infra.sh runs it with the system python3, before any virtualenv exists.
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(K8S / "system_packages.py")], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == every_service_package()
