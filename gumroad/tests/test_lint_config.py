"""`make lint` (dev/lint.py) and .pre-commit-config.yaml look at the same files."""

from pathlib import Path

from dev import lint

REPO_ROOT = Path(__file__).resolve().parents[2]


def _pre_commit_exclude():
    """The `exclude: |` block of .pre-commit-config.yaml, its lines stripped."""
    lines = (REPO_ROOT / ".pre-commit-config.yaml").read_text().splitlines()
    start = lines.index("exclude: |") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_lint_and_pre_commit_exclude_the_same_files():
    ours = [line.strip() for line in lint.EXCLUDE.pattern.strip().splitlines()]
    assert ours == _pre_commit_exclude()


def test_prettier_checks_views_data_and_tours_but_not_recorded_answers():
    files = [
        "views/gumroad_sale_views.xml",
        "data/ir_cron_data.xml",
        "static/tests/tours/tour_params.esm.js",
        ".pre-commit-config.yaml",
        "README.md",
        "readme/USAGE.md",
        "static/description/index.html",
        "static/description/icon.svg",
        "gumroad/tests/data/user_get.json",
        "dev/node/package-lock.json",
        "models/gumroad_sale.py",
    ]
    assert lint.selected(files, lint.PRETTIER_FILES) == [
        "views/gumroad_sale_views.xml",
        "data/ir_cron_data.xml",
        "static/tests/tours/tour_params.esm.js",
        ".pre-commit-config.yaml",
    ]
    assert lint.selected(files, lint.ESLINT_FILES) == [
        "static/tests/tours/tour_params.esm.js"
    ]
