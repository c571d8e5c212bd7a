"""docs/DESIGN.md is the shared system design, copied into the repository: it must not drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
SHARED = REPOSITORY.parent / "shared" / "DESIGN.md"


@pytest.mark.skipif(not SHARED.is_file(), reason="the shared design is not beside this checkout")
def test_the_copy_equals_the_shared_design() -> None:
    assert (REPOSITORY / "docs" / "DESIGN.md").read_text() == SHARED.read_text(), (
        "../shared/DESIGN.md changed: copy it to docs/DESIGN.md and follow what changed"
    )
