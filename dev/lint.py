"""Run ruff and pylint-odoo on the addon (installs the pinned linters when missing)."""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env


def main():
    odoo_env.ensure_python_packages(
        {"ruff": "ruff==0.17.6", "pylint_odoo": "pylint-odoo==10.0.12"}
    )
    addon = odoo_env.ADDON_DIR
    status = 0
    print("== ruff", flush=True)
    for cmd in (
        [sys.executable, "-m", "ruff", "check", "--no-fix", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
    ):
        status |= subprocess.run(cmd, cwd=addon, check=False).returncode
    print("== pylint-odoo", flush=True)
    parent = odoo_env.addon_parent_dir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pylint",
            f"--rcfile={addon / '.pylintrc'}",
            str(parent / odoo_env.ADDON_NAME),
        ],
        cwd=parent,
        check=False,
    )
    status |= proc.returncode
    print("lint: passed" if status == 0 else "lint: FAILED", flush=True)
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
