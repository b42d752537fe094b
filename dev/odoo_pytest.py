"""The Odoo suite (tests/) under pytest-odoo, on a database with the addon installed.

The developer loop beside `make test` (which runs the same tests with Odoo's own
`--test-enable` runner, the gate): pick tests with `-k`, rerun the last failures with
`--lf`, write `--junitxml`, measure with `--cov`. See readme/DEVELOP.md.

Usage: python3 dev/odoo_pytest.py --odoo-database=DB [pytest options] [tests/...]

Every argument goes to pytest. This adds what pytest-odoo needs here: the addons path
(the checkout linked as `gumroad_connector`, which is how its tests import, plus Odoo's
own addons), the PostgreSQL settings, an HTTP server for the HttpCase tests
(`--odoo-http`, add `--no-odoo-http` to leave it off), and runs pytest from that link
with dev/pytest-odoo.ini. Paths of the checkout (`tests/test_security.py::TestSecurity`)
are rewritten to the link. Without a path, the whole of tests/ runs.
"""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env

INI = odoo_env.ADDON_DIR / "dev" / "pytest-odoo.ini"
# The pins of dev/requirements-dev.txt: {import name: requirement}.
PACKAGES = {
    "pytest": "pytest>=8",
    "pytest_odoo": "pytest-odoo==2.3.0",
    "pytest_cov": "pytest-cov==7.1.0",
    "coverage": "coverage==7.17.5",
}


def link_path(arg, link):
    """`arg` as a path under the `gumroad_connector` link when it names a file or
    folder of this checkout (a `::Class::test` tail is kept); else `arg` unchanged.
    """
    if arg.startswith("-"):
        return arg
    path, sep, tail = arg.partition("::")
    candidate = Path(path).expanduser()
    if not candidate.exists():
        return arg
    try:
        relative = candidate.resolve().relative_to(odoo_env.ADDON_DIR)
    except ValueError:
        return arg
    return str(link / relative) + sep + tail


def has_test_path(args):
    """Whether the pytest arguments name a test path of their own."""
    return any(
        not a.startswith("-") and Path(a.partition("::")[0]).exists() for a in args
    )


def pytest_command(odoo, pg, dbname, args, *, http=True):
    """The pytest command (argv) and its working directory for `args`."""
    link = odoo_env.addon_parent_dir() / odoo_env.ADDON_NAME
    addons = [link.parent, *odoo.addons_paths]
    extra = [
        f"db_host={pg['host']}",
        f"db_port={pg['port']}",
        f"db_user={pg['user']}",
        # Gumroad's pings carry no session: the server finds the database by the filter.
        f"db-filter=^{dbname}$" if dbname else None,
        "http-interface=127.0.0.1",
        "max-cron-threads=0",
    ]
    if pg["password"]:
        extra.append(f"db_password={pg['password']}")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(INI),
        # The link's folder: test ids read gumroad_connector/tests/test_x.py::TestX::...
        f"--rootdir={link.parent}",
        f"--odoo-addons-path={','.join(str(p) for p in addons)}",
        *(f"--odoo-extra={e}" for e in extra if e),
        *(["--odoo-http"] if http else []),
        *(link_path(a, link) for a in args),
    ]
    if not has_test_path(args):
        cmd.append(str(link / "tests"))
    return cmd, link


def database_of(args):
    for i, arg in enumerate(args):
        if arg.startswith("--odoo-database="):
            return arg.split("=", 1)[1]
        if arg == "--odoo-database" and i + 1 < len(args):
            return args[i + 1]
    return None


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    http = "--no-odoo-http" not in args
    args = [a for a in args if a not in ("--no-odoo-http", "--odoo-http")]
    dbname = database_of(args)
    if not dbname and not os.environ.get("ODOO_RC"):
        print(
            "Name the database: --odoo-database=DB (one with the addon installed, e.g. "
            "kept by `python3 dev/run_tests.py --keep-db`).",
            file=sys.stderr,
        )
        return 2
    try:
        odoo = odoo_env.find_odoo()
        pg = odoo_env.ensure_postgres()
        odoo_env.ensure_python_packages(PACKAGES)
    except odoo_env.SetupError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2
    cmd, cwd = pytest_command(odoo, pg, dbname, args, http=http)
    env = dict(os.environ, **odoo.extra_env)
    env.setdefault("GUMROAD_CONNECTOR_KEY", odoo_env.generate_key())
    return subprocess.run(cmd, cwd=cwd, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
