"""The developer loop of readme/DEVELOP.md keeps working: one Odoo test module under
pytest-odoo (dev/odoo_pytest.py) on the database `make test` installed the addon in.
"""

import ast
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

DB = os.environ.get("GUMROAD_TEST_DB")

ADDON = Path(__file__).resolve().parent.parent
MODULE = ADDON / "tests" / "test_security.py"


def methods_of(path, class_name):
    """The test methods a test class of `path` defines."""
    tree = ast.parse(path.read_text())
    (cls,) = (
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name
    )
    return [
        n.name
        for n in cls.body
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test")
    ]


def test_an_odoo_test_module_passes_under_pytest_odoo(tmp_path):
    expected = methods_of(MODULE, "TestSecurity")
    junit = tmp_path / "pytest-odoo.xml"
    proc = subprocess.run(
        [
            sys.executable,
            str(ADDON / "dev" / "odoo_pytest.py"),
            f"--odoo-database={DB}",
            "tests/test_security.py",
            "-q",
            "-p",
            "no:cacheprovider",  # leave the developer's --lf memory alone
            f"--junitxml={junit}",
        ],
        cwd=ADDON,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = proc.stdout[-4000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, output
    suite = ET.parse(junit).getroot().find("testsuite")
    names = sorted(case.get("name") for case in suite.iter("testcase"))
    assert names == sorted(expected), output
    assert suite.get("failures") == suite.get("errors") == suite.get("skipped") == "0"
