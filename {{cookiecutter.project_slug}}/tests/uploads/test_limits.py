import pytest

from {{ cookiecutter.project_slug }}.uploads.limits import human_size


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1_000, "1,000 bytes"),
        (100_000, "97.7 KiB"),
        (1024 * 1024, "1 MiB"),
        (50 * 1024 * 1024, "50 MiB"),
        (int(1.5 * 1024**3), "1.5 GiB"),
        (150 * 1024 * 1024, "150 MiB"),
    ],
)
def test_sizes_read_as_people_read_them(size: int, text: str) -> None:
    assert human_size(size) == text
