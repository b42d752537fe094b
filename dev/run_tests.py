"""Run every test of the addon, against a real Odoo 19 and a real PostgreSQL.

1. the pure-Python suite (pytest, no Odoo);
2. the Odoo suite: a throwaway database, the addon installed, Odoo's own test runner;
3. the integration suite: Odoo as a library on that database, real concurrent
   transactions and a killed process; then the database is dropped.

Usage: python3 dev/run_tests.py [--pure-only] [--keep-db] [--test-tags TAGS] [--chaos]
                                [--no-cov]

`--chaos` runs the long fault-injection cases (marked `slow`) instead: the pure ones,
then the integration ones on a database with the addon installed.

Before its last line, a full run prints the reliability report: each hostile case the
suites tried and what held (dev/reliability.py). Then the line coverage of the addon:
the pure suite under pytest-cov, the Odoo suite under `coverage run`, combined into one
total (`--no-cov` leaves it out). Closes with one line `N passed, N failed` that counts
every suite; exits non-zero on failure.
"""

import argparse
import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env


def _load_reliability():
    """dev/reliability.py on its own (standard library only), without the
    package, which needs requests.
    """
    path = odoo_env.ADDON_DIR / "dev" / "reliability.py"
    spec = importlib.util.spec_from_file_location("gumroad_reliability", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reliability = _load_reliability()

STATS_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
# Lines the Odoo run prints live: problems, and the start of each test class for
# progress.
SHOW_RE = re.compile(
    r" (WARNING|ERROR|CRITICAL) | FAIL: | ERROR: |Starting .*gumroad_connector"
)
PROBLEM_RE = re.compile(r" (WARNING|ERROR|CRITICAL) ")
# Odoo counts a skipped test as passed; a skipped test of the addon (a tour without a
# browser, say) fails the run instead.
SKIP_RE = re.compile(r" INFO .*odoo\.addons\.gumroad_connector\.tests\..*: skipped ")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def junit_skips(suites):
    """The tests a pytest junit file marks skipped: 'module::test: reason' each."""
    skips = []
    for suite in suites:
        for case in suite.iter("testcase"):
            for skip in case.findall("skipped"):
                name = f"{case.get('classname', '')}::{case.get('name', '')}"
                skips.append(f"{name}: {skip.get('message', '')}".strip())
    return skips


def junit_counts(junit, returncode, suite="pytest"):
    """(passed, failed, skipped) from a pytest junit file.

    pytest counts a skipped test apart; as for the Odoo suite, a skipped test of the
    addon (missing example bodies, a missing tool) fails the run instead: `failed`
    includes the skipped tests, which are named here.
    """
    if not junit.exists():
        print(f"{suite} did not run (exit {returncode})")
        return 0, 1, 0
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skips = junit_skips(suites)
    skipped = len(skips)
    if returncode not in (0, 1) and failed == 0:
        failed = 1  # pytest itself broke (usage, collection, no tests)
    passed = max(total - failed - skipped, 0)
    if skipped:
        print(f"{skipped} test(s) of the {suite} suite skipped, counted as failed:")
        for line in skips:
            print("  " + line[:300])
    return passed, failed + skipped, skipped


def skip_note(skipped):
    return f" ({skipped} of them skipped)" if skipped else ""


# The addon's own lines: every Python file of the checkout but its tests and commands.
# (pyproject.toml's [tool.coverage.run] says the same for a developer's `--cov`.)
COVERAGE_OMIT = (
    "tests/*",
    "gumroad/tests/*",
    "tests_integration/*",
    "dev/*",
    "__manifest__.py",
)
PURE_PACKAGES = ("gumroad", "gumroad_sandbox")


def coverage_file(log_dir, suite):
    return log_dir / f".coverage.{suite}"


def run_pure_suite(log_dir, env, marks, cov):
    junit = log_dir / "pytest.xml"
    print("== Pure-Python suite (pytest, no Odoo)", flush=True)
    cov_args = []
    if cov:
        env = dict(env, COVERAGE_FILE=str(coverage_file(log_dir, "pure")))
        cov_args = [
            *(f"--cov={odoo_env.ADDON_DIR / p}" for p in PURE_PACKAGES),
            "--cov-report=",
        ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-m",
            marks,
            f"--junitxml={junit}",
            *cov_args,
        ],
        cwd=odoo_env.ADDON_DIR,
        env=env,
        check=False,
    )
    return junit_counts(junit, proc.returncode, "pytest")


def coverage_percent(data_files, include, combined):
    """The line coverage (a float, percent) of the files under `include` that the
    coverage data files record, the addon's tests and commands left out.
    """
    import coverage

    addon = odoo_env.ADDON_DIR
    cov = coverage.Coverage(
        data_file=str(combined), config_file=str(addon / "pyproject.toml")
    )
    cov.combine([str(f) for f in data_files], keep=True)
    cov.save()
    with open(combined.with_suffix(".txt"), "w") as report:
        return cov.report(
            include=[str(addon / p) for p in include],
            omit=[str(addon / p) for p in COVERAGE_OMIT],
            file=report,
            show_missing=True,
        )


def coverage_line(log_dir):
    """`coverage: N% of the addon's lines (pure N%, Odoo N%)` from what the suites
    recorded (text reports beside them in the logs), or None when none did.
    """
    pure = coverage_file(log_dir, "pure")
    odoo_data = coverage_file(log_dir, "odoo")
    try:
        parts = []
        if pure.exists():
            packages = [f"{p}/*" for p in PURE_PACKAGES]
            percent = coverage_percent([pure], packages, log_dir / "coverage-pure")
            parts.append(f"pure {percent:.0f}%")
        if odoo_data.exists():
            percent = coverage_percent([odoo_data], ["*"], log_dir / "coverage-odoo")
            parts.append(f"Odoo {percent:.0f}%")
        if not parts:
            return None
        data = [f for f in (pure, odoo_data) if f.exists()]
        total = coverage_percent(data, ["*"], log_dir / "coverage-total")
    except Exception as err:  # noqa: BLE001 - a report problem must not hide the count
        return f"coverage: not measured ({type(err).__name__}: {err})"
    what = "the addon's lines" if odoo_data.exists() else "the pure packages' lines"
    return f"coverage: {total:.0f}% of {what} ({', '.join(parts)})"


def under_coverage(command, data_file):
    """The Odoo command `python -m odoo` run by `coverage run`, recording the addon."""
    python, *module = command
    return [
        python,
        "-m",
        "coverage",
        "run",
        f"--rcfile={odoo_env.ADDON_DIR / 'pyproject.toml'}",
        f"--data-file={data_file}",
        f"--source={odoo_env.ADDON_DIR}",
        *module,
    ]


def run_odoo_suite(odoo, pg, log_dir, test_tags, dbname, env, cov):
    log_file = log_dir / "odoo-test.log"
    command = odoo.command
    if cov:
        command = under_coverage(command, coverage_file(log_dir, "odoo"))
    cmd = [
        *command,
        *odoo_env.odoo_base_args(odoo, pg, dbname),
        "-i",
        odoo_env.ADDON_NAME,
        "--test-enable",
        f"--test-tags={test_tags}",
        "--stop-after-init",
        "--http-interface=127.0.0.1",
        # Gumroad's pings carry no session: like a production server, the test server
        # must resolve the database from the dbfilter (several databases live here).
        f"--db-filter=^{dbname}$",
        f"--http-port={free_port()}",
        "--log-level=info",
        "--max-cron-threads=0",
    ]
    print(
        f"== Odoo suite: Odoo {odoo.version} ({odoo.source}), database {dbname}",
        flush=True,
    )
    stats = None
    install_warnings = []
    skipped_tests = []
    in_tests = False
    with open(log_file, "w") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=tempfile.gettempdir(),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in proc.stdout:
            log.write(line)
            if (
                "Starting post tests" in line
                or "odoo.addons.gumroad_connector.tests" in line
            ):
                in_tests = True
            if SHOW_RE.search(line):
                print(line.rstrip()[:400], flush=True)
            # The addon must install without a warning of its own.
            if not in_tests and PROBLEM_RE.search(line) and "gumroad" in line.lower():
                install_warnings.append(line.strip())
            if SKIP_RE.search(line):
                print(line.rstrip()[:400], flush=True)
                skipped_tests.append(line.strip())
            match = STATS_RE.search(line)
            if match:
                stats = tuple(int(g) for g in match.groups())
        returncode = proc.wait()
    if stats is None:
        print(
            f"The Odoo run ended (exit {returncode}) without running tests; "
            f"see {log_file}"
        )
        return 0, 1
    failed_n, errors_n, total = stats
    failed = failed_n + errors_n
    if install_warnings:
        print("Installing the addon logged warnings or errors:")
        for line in install_warnings:
            print("  " + line[:300])
        failed += 1
    if skipped_tests:
        print(f"{len(skipped_tests)} test(s) of the addon were skipped (see above)")
        failed += len(skipped_tests)
    if returncode != 0 and failed == 0:
        failed = 1
    if total == 0:
        print("The Odoo suite ran no test.")
        failed += 1
    passed = max(total - failed_n - errors_n, 0)
    print(f"odoo: {passed} passed, {failed} failed of {total}")
    return passed, failed


def install_only(odoo, pg, dbname, env):
    """Install the addon without running Odoo's suite (for the chaos cases)."""
    print(f"== Installing the addon in {dbname}", flush=True)
    proc = odoo_env.install_addon(odoo, odoo_env.odoo_base_args(odoo, pg, dbname), env)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:])
        return 0, 1
    return 0, 0


def run_integration_suite(odoo, pg, log_dir, dbname, env, marks):
    """Real concurrent transactions and a killed process, on the database the suite
    used.
    """
    junit = log_dir / "integration.xml"
    print("== Integration suite (Odoo as a library, real transactions)", flush=True)
    base = odoo_env.odoo_base_args(odoo, pg, dbname)
    env = dict(
        env,
        GUMROAD_TEST_DB=dbname,
        GUMROAD_ODOO_ARGS=shlex.join(base),
        GUMROAD_ODOO_CMD="\x1f".join(odoo.command),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-m",
            marks,
            "tests_integration",
            f"--junitxml={junit}",
        ],
        cwd=odoo_env.ADDON_DIR,
        env=env,
        check=False,
    )
    return junit_counts(junit, proc.returncode, "integration")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pure-only", action="store_true")
    parser.add_argument(
        "--skip-pure", action="store_true", help="Odoo and integration only"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--skip-integration", action="store_true", help="no integration suite"
    )
    parser.add_argument("--test-tags", default="/gumroad_connector")
    parser.add_argument(
        "--chaos", action="store_true", help="the long fault-injection cases only"
    )
    parser.add_argument(
        "--no-cov", action="store_true", help="no coverage measure (a little faster)"
    )
    args = parser.parse_args()
    cov = not (args.no_cov or args.chaos)
    marks = "slow" if args.chaos else "not slow"
    full_run = args.test_tags == parser.get_default("test_tags") and not (
        args.pure_only or args.skip_pure or args.skip_integration
    )

    odoo = pg = None
    try:
        if not args.pure_only:
            # Fail fast, before any test runs, when Odoo or PostgreSQL is missing.
            odoo = odoo_env.find_odoo()
            odoo_env.run_with_odoo_python(odoo)  # the venv of `make odoo`, if that
            pg = odoo_env.ensure_postgres()
            if not args.chaos:
                odoo_env.ensure_chromium()  # the tours; Odoo skips them without it
        odoo_env.ensure_python_packages(
            {
                "pytest": "pytest",
                "hypothesis": "hypothesis",
                "requests": "requests",
                # The pins of dev/requirements-dev.txt.
                "pytest_odoo": "pytest-odoo==2.3.0",
                "pytest_cov": "pytest-cov==7.1.0",
                "coverage": "coverage==7.17.5",
            }
        )
    except odoo_env.SetupError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 2
    log_dir = Path(tempfile.mkdtemp(prefix="gumroad_tests_"))
    report = log_dir / "reliability.jsonl"
    base_env = dict(os.environ, **{reliability.REPORT_ENV: str(report)})
    passed = failed = 0
    if not args.skip_pure:
        passed, failed, skipped = run_pure_suite(log_dir, base_env, marks, cov)
        print(
            f"pytest: {passed} passed, {failed} failed{skip_note(skipped)}", flush=True
        )
    if not args.pure_only:
        dbname = f"gumroad_test_{int(time.time())}_{os.getpid()}"
        env = dict(base_env, **odoo.extra_env)
        # The token encryption key lives outside the database; tests get a fresh one per
        # run.
        env.setdefault("GUMROAD_CONNECTOR_KEY", odoo_env.generate_key())
        try:
            if args.chaos:
                p, f = install_only(odoo, pg, dbname, env)
            else:
                p, f = run_odoo_suite(
                    odoo, pg, log_dir, args.test_tags, dbname, env, cov
                )
            passed, failed = passed + p, failed + f
            if not args.skip_integration and odoo_env.database_exists(pg, dbname):
                p, f, s = run_integration_suite(odoo, pg, log_dir, dbname, env, marks)
                passed, failed = passed + p, failed + f
                print(f"integration: {p} passed, {f} failed{skip_note(s)}", flush=True)
        finally:
            if not args.keep_db:
                odoo_env.drop_database(pg, dbname)
    if full_run:
        table, not_held = reliability.format_table(
            reliability.load(report), "chaos" if args.chaos else "test"
        )
        (log_dir / "reliability.txt").write_text(table + "\n")
        print("== Reliability report (what each case tried, and what held)")
        print(table)
        if not_held:
            # Its test failed (already counted) or never ran: either way not shown held.
            print(f"{not_held} reliability case(s) not shown to hold")
            failed = max(failed, 1)
    print(f"logs: {log_dir}")
    line = coverage_line(log_dir) if cov else None
    if line:
        print(line)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
