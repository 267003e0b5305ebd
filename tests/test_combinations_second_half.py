"""The second half of the combinations of test_combinations.py, in a file of its own so that both of
`make test`'s workers bake and test combinations at the same time."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_combinations import HALF, IDS, NAMED, check_combination


@pytest.mark.slow
@pytest.mark.parametrize(("combination", "project_name"), NAMED[HALF:], ids=IDS[HALF:])
def test_generated_project_is_clean_and_passes_its_suite(
    combination: dict[str, str], project_name: str, tmp_path: Path
) -> None:
    check_combination(combination, project_name, tmp_path)
