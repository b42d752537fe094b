"""Find the Odoo 19 and the PostgreSQL server the addon runs beside.

Used by the README commands (`make demo`, `make test`, `make bench`). Standard library
only.

Odoo is looked up the standard ways, in this order:
1. ``ODOO_SRC=/path/to/odoo``: a source tree holding ``odoo-bin`` and the ``odoo``
   package;
2. an importable ``odoo`` package in the Python running this script (``pip install -e``
   of a source tree, a distribution package, or a ``.pth`` file pointing at a source
   tree);
3. the folder `make odoo` (dev/bootstrap_odoo.py) installs Odoo 19.0 into,
   ``<checkout>/../odoo-19.0/``, with its own virtual environment ``.venv``: the
   commands then re-run themselves under that venv's Python (`run_with_odoo_python`).
An ``ODOO_SRC`` tree that this Python cannot import but that holds a ``.venv`` able to
(a `make odoo --dest DIR` folder) is run with that venv's Python as well.
Nothing of Odoo is vendored, copied or patched here.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ADDON_NAME = "gumroad_connector"
ADDON_DIR = Path(__file__).resolve().parent.parent
REQUIRED_SERIES = 19
# Where `make odoo` installs Odoo: beside the checkout, out of the repository.
BOOTSTRAP_DIR = ADDON_DIR.parent / f"odoo-{REQUIRED_SERIES}.0"
REEXEC_ENV = "GUMROAD_ODOO_REEXEC"

MISSING_ODOO_HELP = f"""\
Odoo {REQUIRED_SERIES}.0 was not found.
  - {sys.executable} cannot `import odoo`,
  - the environment variable ODOO_SRC is not set, and
  - {BOOTSTRAP_DIR} holds no Odoo installed by `make odoo`.
One command installs Odoo {REQUIRED_SERIES}.0 community there (official source archive,
its own virtual environment, its requirements; a few minutes):
  - make odoo                                  (then: make demo, or make test)
Or use an Odoo you have:
  - ODOO_SRC=/path/to/odoo-19.0 make test     (a source tree with odoo-bin; its
    requirements.txt installed: pip install -r /path/to/odoo-19.0/requirements.txt), or
  - pip install -e /path/to/odoo-19.0         (makes `import odoo` work).
Odoo 19.0 community source: https://github.com/odoo/odoo/tree/19.0 or
https://nightly.odoo.com (official downloads)."""


class SetupError(RuntimeError):
    """The machine lacks something the addon needs; the message says what and how to fix
    it.
    """


@dataclass
class OdooInstall:
    python: str
    command: list[str]  # the argv prefix that starts the Odoo server
    addons_paths: list[Path]
    version: str
    source: str  # how it was found, for messages
    extra_env: dict = field(default_factory=dict)


def _probe_python(python, extra_path=None):
    """Ask `python` where its odoo package lives and which version it is."""
    code = (
        "import json, odoo.release as r, odoo;"
        "print(json.dumps([list(odoo.__path__), r.version_info[0], r.version]))"
    )
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [extra_path, env.get("PYTHONPATH")])
        )
    proc = subprocess.run(
        [python, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        return None
    import json

    paths, major, version = json.loads(proc.stdout.strip().splitlines()[-1])
    return [Path(p) for p in paths], major, version


def _addons_paths_for(odoo_package_dirs):
    """Odoo's own addons: <pkg>/addons, plus <source root>/addons for a source tree."""
    paths = []
    for pkg in odoo_package_dirs:
        for candidate in (pkg.parent / "addons", pkg / "addons"):
            has_manifest = (candidate / "base" / "__manifest__.py").exists() or (
                candidate / "web" / "__manifest__.py"
            ).exists()
            if has_manifest and candidate not in paths:
                paths.append(candidate)
    return paths


def bootstrap_python(folder):
    """The Python of the virtual environment `make odoo` creates in `folder`."""
    scripts = "Scripts" if os.name == "nt" else "bin"
    name = "python.exe" if os.name == "nt" else "python"
    return Path(folder) / ".venv" / scripts / name


def _find_bootstrapped(folder):
    """(python, probe) for a folder `make odoo` filled, or None."""
    python = bootstrap_python(folder)
    if not python.exists():
        return None
    probe = _probe_python(str(python))
    if not probe:
        return None
    # Odoo extends its package path with every `odoo` folder on sys.path (a venv with
    # --system-site-packages may see another Odoo): keep the folder's own.
    root = Path(folder).resolve()
    own = [p for p in probe[0] if p.resolve().is_relative_to(root)]
    return str(python), (own or probe[0], *probe[1:])


def find_odoo():
    """Return an OdooInstall, or raise SetupError saying what is missing."""
    python = sys.executable
    src = os.environ.get("ODOO_SRC")
    if src:
        root = Path(src).expanduser().resolve()
        if not (root / "odoo" / "release.py").exists():
            raise SetupError(
                f"ODOO_SRC={src} does not hold an Odoo source tree "
                "(no odoo/release.py there).\n" + MISSING_ODOO_HELP
            )
        probe = _probe_python(python, extra_path=str(root))
        found = None if probe else _find_bootstrapped(root)
        if found:
            python, probe = found
        if probe is None:
            raise SetupError(
                f"ODOO_SRC={src} is an Odoo tree, but {python} cannot import it: "
                "its Python requirements are probably missing.\n"
                f"Run: {python} -m pip install -r {root}/requirements.txt"
            )
        pkg_dirs, major, version = probe
        source = f"ODOO_SRC={root}"
        extra_env = {"PYTHONPATH": str(root)}
    else:
        probe = _probe_python(python)
        source = f"`import odoo` in {python}"
        if probe is None:
            found = _find_bootstrapped(BOOTSTRAP_DIR)
            if found is None:
                raise SetupError(MISSING_ODOO_HELP)
            python, probe = found
            source = f"{BOOTSTRAP_DIR} (make odoo)"
        pkg_dirs, major, version = probe
        extra_env = {}
    if major != REQUIRED_SERIES:
        raise SetupError(
            f"Found Odoo {version} ({source}), but this addon needs "
            f"Odoo {REQUIRED_SERIES}.0.\n" + MISSING_ODOO_HELP
        )
    addons = _addons_paths_for(pkg_dirs)
    if not addons:
        raise SetupError(
            f"Found Odoo {version} ({source}) but no addons folder with `base`."
        )
    return OdooInstall(
        python=python,
        command=[python, "-m", "odoo"],
        addons_paths=addons,
        version=version,
        source=source,
        extra_env=extra_env,
    )


def run_with_odoo_python(odoo):
    """Re-run this command under Odoo's Python when it is not the one running it (the
    venv of `make odoo`), so the tests, the sandbox and Odoo as a library share its
    packages. Returns when it already is.
    """
    if os.path.abspath(odoo.python) == os.path.abspath(sys.executable):
        return
    if os.environ.get(REEXEC_ENV):
        raise SetupError(
            f"{sys.executable} was started to run Odoo {odoo.version} ({odoo.source}) "
            f"but Odoo's Python is {odoo.python}."
        )
    sys.stdout.write(
        f"Odoo {odoo.version}: {odoo.source}; running under {odoo.python}\n"
    )
    sys.stdout.flush()
    env = dict(os.environ, **{REEXEC_ENV: "1"})
    os.execve(odoo.python, [odoo.python, *sys.argv], env)


def addon_parent_dir():
    """A folder that holds this addon under its technical name, for --addons-path.

    A fresh clone may sit in a folder with any name, so link it under
    `gumroad_connector`.
    """
    if ADDON_DIR.name == ADDON_NAME:
        return ADDON_DIR.parent
    # One folder per checkout, so two checkouts can run their commands side by side.
    digest = hashlib.sha1(str(ADDON_DIR).encode(), usedforsecurity=False)
    checkout = digest.hexdigest()[:10]
    parent = Path(tempfile.gettempdir()) / f"gumroad_connector_addons_{checkout}"
    parent.mkdir(exist_ok=True)
    link = parent / ADDON_NAME
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == ADDON_DIR:
            return parent
        if link.is_symlink():
            link.unlink()
        else:
            raise SetupError(f"{link} exists and is not a link to {ADDON_DIR}")
    link.symlink_to(ADDON_DIR, target_is_directory=True)
    return parent


def install_addon(odoo, odoo_args, env, *, with_demo=False):
    """Install the addon in the database odoo_args name; return the finished process."""
    return subprocess.run(
        [
            *odoo.command,
            *odoo_args,
            "-i",
            ADDON_NAME,
            *(["--with-demo"] if with_demo else []),
            "--stop-after-init",
            "--log-level=warn",
        ],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )


# --- PostgreSQL -----------------------------------------------------------------------


def pg_settings():
    """Connection settings from the usual PG* variables, defaulting to
    127.0.0.1:5432.
    """
    return {
        "host": os.environ.get("PGHOST", "127.0.0.1"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER") or _default_pg_user(),
        "password": os.environ.get("PGPASSWORD", ""),
    }


def _default_pg_user():
    import getpass

    return getpass.getuser()


def _pg_ready(pg):
    if shutil.which("pg_isready"):
        proc = subprocess.run(
            ["pg_isready", "-q", "-h", pg["host"], "-p", str(pg["port"])], check=False
        )
        return proc.returncode == 0
    import socket

    try:
        with socket.create_connection((pg["host"], int(pg["port"])), timeout=2):
            return True
    except OSError:
        return False


def ensure_postgres(log=print):
    """Make sure PostgreSQL answers; start an installed but stopped local cluster if
    needed.
    """
    pg = pg_settings()
    if _pg_ready(pg):
        return pg
    if pg["host"] not in ("127.0.0.1", "localhost", "::1") and not pg[
        "host"
    ].startswith("/"):
        raise SetupError(f"PostgreSQL does not answer at {pg['host']}:{pg['port']}.")
    started = False
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):
        out = subprocess.run(
            ["pg_lsclusters", "-h"], check=False, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[3] != "online":
                version, name = parts[0], parts[1]
                log(f"Starting the local PostgreSQL cluster {version}/{name} ...")
                subprocess.run(
                    [
                        "pg_ctlcluster",
                        "--skip-systemctl-redirect",
                        version,
                        name,
                        "start",
                    ],
                    check=False,
                )
                started = True
    for _ in range(30):
        if _pg_ready(pg):
            return pg
        time.sleep(1)
    hint = (
        "a local cluster was started but does not answer"
        if started
        else "no local cluster could be started (is PostgreSQL installed? e.g. "
        "apt-get install postgresql)"
    )
    raise SetupError(
        f"PostgreSQL does not answer at {pg['host']}:{pg['port']}: {hint}. "
        "Set PGHOST/PGPORT/PGUSER/PGPASSWORD to point at a server where your user "
        "may create databases."
    )


def odoo_db_args(pg):
    args = [
        "--db_host",
        pg["host"],
        "--db_port",
        str(pg["port"]),
        "--db_user",
        pg["user"],
    ]
    if pg["password"]:
        args += ["--db_password", pg["password"]]
    return args


def psql_env(pg):
    env = dict(os.environ)
    env.update(
        PGHOST=pg["host"],
        PGPORT=str(pg["port"]),
        PGUSER=pg["user"],
        PGDATABASE="postgres",
    )
    if pg["password"]:
        env["PGPASSWORD"] = pg["password"]
    return env


def drop_database(pg, dbname):
    subprocess.run(
        ["dropdb", "--if-exists", "--force", dbname],
        env=psql_env(pg),
        check=False,
        capture_output=True,
    )


def database_exists(pg, dbname):
    proc = subprocess.run(
        ["psql", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'"],
        env=psql_env(pg),
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() == "1"


def ensure_python_packages(modules, log=print):
    """pip-install the given {import name: requirement} pairs that cannot be
    imported.
    """
    import importlib.util

    missing = [
        req for mod, req in modules.items() if importlib.util.find_spec(mod) is None
    ]
    if missing:
        log(f"Installing missing Python packages: {' '.join(missing)}")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", *missing], check=False
        )
        if proc.returncode != 0:
            raise SetupError(
                f"{sys.executable} lacks {', '.join(missing)} and pip could not "
                f"install them. Install them into that Python (python3 -m pip install "
                f"{' '.join(missing)}), or run with another one: make test PYTHON=..."
            )


# Odoo's test browser looks for these, in this order, on Linux (ODOO_BROWSER_BIN first).
CHROMIUM_NAMES = (
    "google-chrome",
    "chromium",
    "chromium-browser",
    "google-chrome-stable",
)


def find_chromium():
    """The Chrome or Chromium binary Odoo's browser tests will run, or None."""
    explicit = os.environ.get("ODOO_BROWSER_BIN")
    if explicit and os.path.exists(explicit):
        return explicit
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium(log=print):
    """Make sure Odoo's browser tests (tours) can run: a Chromium, and the Python
    client Odoo drives it with; install Debian's `chromium` when missing.

    Without them Odoo skips the tours, and a skipped test counts as passed.

    :return: the browser's path
    :raise SetupError: when no browser is found and none can be installed
    """
    # Odoo talks to Chromium's DevTools through websocket-client, which its
    # requirements.txt does not list.
    ensure_python_packages({"websocket": "websocket-client"}, log=log)
    found = find_chromium()
    if found:
        return found
    how_to = (
        "Install one (Debian/Ubuntu: apt-get install chromium), or set "
        "ODOO_BROWSER_BIN to a Chrome or Chromium binary; Odoo looks for "
        f"{', '.join(CHROMIUM_NAMES)}."
    )
    apt_get = shutil.which("apt-get")
    if not apt_get or os.geteuid() != 0:
        raise SetupError(
            "No Chrome or Chromium for the browser tests, and this user cannot "
            f"install one with apt-get. {how_to}"
        )
    log("Installing Chromium for the browser tests (apt-get install chromium) ...")
    install = [apt_get, "install", "-y", "-q", "chromium"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    proc = subprocess.run(install, env=env, check=False)
    if proc.returncode != 0:
        # A fresh machine has no package lists yet: fetch them once and retry.
        subprocess.run([apt_get, "update", "-q"], env=env, check=False)
        proc = subprocess.run(install, env=env, check=False)
    found = find_chromium()
    if proc.returncode != 0 or not found:
        raise SetupError(
            f"apt-get could not install chromium (exit {proc.returncode}). {how_to}"
        )
    log(f"Chromium installed: {found}")
    return found


def odoo_base_args(odoo, pg, dbname):
    """Odoo's options for the addon beside its Odoo, on database dbname."""
    addons = [addon_parent_dir(), *odoo.addons_paths]
    return [
        f"--addons-path={','.join(str(p) for p in addons)}",
        *odoo_db_args(pg),
        "-d",
        dbname,
    ]


def sandbox_command(port, sales, seed, *options):
    """The command that serves the Gumroad sandbox on 127.0.0.1:port."""
    return [
        sys.executable,
        "-m",
        "gumroad_sandbox",
        "serve",
        "--port",
        str(port),
        "--sales",
        str(sales),
        "--seed",
        str(seed),
        *options,
    ]


def generate_key():
    import base64

    return base64.b64encode(os.urandom(32)).decode()
