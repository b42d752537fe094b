"""Install Odoo 19.0 community beside this checkout, for a machine that has no Odoo.

`make odoo` runs it. Standard library only. Steps, each skipped when already done:

1. download the Odoo 19.0 source archive (default: the 19.0 branch of the official
   repository, https://github.com/odoo/odoo) with progress;
2. check that it holds odoo/release.py of version 19, then extract it safely (no path
   leaving the folder, no device files) into ``<checkout>/../odoo-19.0/``;
3. create a virtual environment in ``<that folder>/.venv``, make the tree importable in
   it, pip-install Odoo's requirements.txt and what the addon and its tests need.

Afterwards `make demo` and `make test` find that folder by themselves (dev/odoo_env.py)
and run under its Python.

Usage: python3 dev/bootstrap_odoo.py [--source URL|PATH] [--dest DIR]
       [--system-site-packages]

``--source`` (or the ODOO_BOOTSTRAP_URL variable) takes an http(s) or file:// URL or a
local path of a .tar.gz; the official nightly archive works as well:
https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz
"""

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env

DEFAULT_SOURCE = "https://github.com/odoo/odoo/archive/refs/heads/19.0.tar.gz"
NIGHTLY_SOURCE = "https://nightly.odoo.com/19.0/nightly/src/odoo_19.0.latest.tar.gz"
SOURCE_ENV = "ODOO_BOOTSTRAP_URL"
STAMP_NAME = "gumroad-bootstrap.json"  # in the venv: what pip installed, from what
PTH_NAME = "odoo-bootstrap.pth"

# The Debian/Ubuntu packages a source build of Odoo's requirements needs.
APT_PACKAGES = {
    "python-ldap": "libldap2-dev libsasl2-dev",
    "psycopg2": "libpq-dev",
    "lxml": "libxml2-dev libxslt1-dev",
    "pillow": "libjpeg-dev zlib1g-dev",
    "cffi": "libffi-dev",
    "cryptography": "libssl-dev libffi-dev",
    "python-magic": "libmagic1",
}
BUILD_TOOLS = "build-essential python3-dev"
# How pip names what it could not build, in its versions' wordings.
FAILED_RES = (
    re.compile(r"Failed to build ([A-Za-z0-9_.\- ]+)$"),  # space separated
    re.compile(r"Failed building wheel for ([A-Za-z0-9_.\-]+)"),
    re.compile(r"Could not build wheels for (.+?)(?:, which|$)"),  # comma separated
    re.compile(r"wheels for some .*projects \(([^)]+)\)"),
)
COLLECTING_RE = re.compile(r"^Collecting ([A-Za-z0-9_.\-]+)")
VERSION_RE = re.compile(r"^version_info\s*=\s*\(\s*(\d+)", re.MULTILINE)


class BootstrapError(RuntimeError):
    """A step failed; the message says why and what to do."""


def log(message=""):
    sys.stdout.write(f"{message}\n")
    sys.stdout.flush()


# --- download -------------------------------------------------------------------------


def open_source(source):
    """A local archive path for `source` (a URL or a path), downloading it if needed."""
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
    elif parsed.scheme in ("http", "https"):
        path = None
    else:
        path = Path(source).expanduser()
    if path is not None:
        if not path.is_file():
            raise BootstrapError(f"No Odoo archive at {path}.")
        return path, False
    fd, name = tempfile.mkstemp(prefix="odoo-19.0-", suffix=".tar.gz")
    try:
        with os.fdopen(fd, "wb") as out:
            download(source, out)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name), True


def download(url, out):
    log(f"Downloading {url}")
    request = urllib.request.Request(url, headers={"User-Agent": "gumroad-bootstrap"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            _copy_with_progress(answer, out)
    except OSError as err:
        raise BootstrapError(
            f"Could not download {url}: {err}. Download it yourself and pass the file: "
            "make odoo ODOO_BOOTSTRAP_URL=/path/to/odoo.tar.gz"
        ) from err


def _copy_with_progress(answer, out):
    total = int(answer.headers.get("Content-Length") or 0)
    done, shown = 0, 0.0
    while chunk := answer.read(1 << 20):
        out.write(chunk)
        done += len(chunk)
        if time.monotonic() - shown > 1:
            shown = time.monotonic()
            of = f" of {total / 1e6:.0f} MB ({100 * done // total}%)" if total else ""
            sys.stdout.write(f"\r  {done / 1e6:.0f} MB{of}   ")
            sys.stdout.flush()
    log(f"\r  {done / 1e6:.1f} MB downloaded          ")


# --- checking and extracting ----------------------------------------------------------


def archive_members(tar):
    """The archive's members under its single top folder: [(member, relative path)]."""
    members, tops = [], set()
    for member in tar.getmembers():
        parts = PurePosixPath(member.name).parts
        if member.name.startswith("/") or ".." in parts:
            raise BootstrapError(f"Unsafe path in the archive: {member.name!r}")
        if not parts or parts == (".",):
            continue
        tops.add(parts[0])
        if len(parts) > 1:
            members.append((member, PurePosixPath(*parts[1:])))
    if len(tops) != 1:
        raise BootstrapError(
            "The archive should hold one folder (odoo-19.0/...); it holds "
            f"{', '.join(sorted(tops)[:5]) or 'nothing'}."
        )
    return members


def check_version(tar, members):
    """Raise unless the archive holds odoo/release.py of version 19."""
    release = next(
        (m for m, rel in members if str(rel) == "odoo/release.py" and m.isfile()), None
    )
    if release is None:
        raise BootstrapError(
            "This archive is not an Odoo source tree: no odoo/release.py in it."
        )
    text = tar.extractfile(release).read().decode("utf-8", "replace")
    match = VERSION_RE.search(text)
    major = int(match.group(1)) if match else None
    if major != odoo_env.REQUIRED_SERIES:
        raise BootstrapError(
            f"This archive holds Odoo {major or '(unknown version)'}, not "
            f"{odoo_env.REQUIRED_SERIES}.0."
        )


def _safe_member(member, rel, dest):
    """The member renamed to `rel`, after refusing anything that would leave `dest`."""
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise BootstrapError(
            f"Refusing the special file {member.name!r} in the archive"
        )
    target = (dest / rel).resolve()
    if not target.is_relative_to(dest):
        raise BootstrapError(f"Unsafe path in the archive: {member.name!r}")
    if member.issym():
        link = (dest / rel).parent / member.linkname
        if member.linkname.startswith("/") or not link.resolve().is_relative_to(dest):
            raise BootstrapError(
                f"Unsafe link in the archive: {member.name!r} -> {member.linkname!r}"
            )
    if member.islnk():
        parts = PurePosixPath(member.linkname).parts
        if member.linkname.startswith("/") or ".." in parts or len(parts) < 2:
            raise BootstrapError(f"Unsafe hard link in the archive: {member.name!r}")
        member.linkname = str(PurePosixPath(*parts[1:]))
    member.name = str(rel)
    return member


def extract(archive, dest):
    """Check and extract `archive` into the folder `dest`, which must not exist yet."""
    log(f"Checking and extracting {archive.name} into {dest}")
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = archive_members(tar)
            check_version(tar, members)
            root = partial.resolve()
            safe = [_safe_member(m, rel, root) for m, rel in members]
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(root, members=safe, **kwargs)  # members checked above
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise BootstrapError(f"Cannot read the archive {archive}: {err}") from err
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(dest)


def tree_version(dest):
    """The major version of the Odoo tree in `dest`, or None when there is none."""
    release = dest / "odoo" / "release.py"
    if not release.is_file():
        return None
    match = VERSION_RE.search(release.read_text(errors="replace"))
    return int(match.group(1)) if match else None


# --- the virtual environment ----------------------------------------------------------


def venv_python(dest):
    return odoo_env.bootstrap_python(dest)


def create_venv(dest, system_site_packages):
    python = venv_python(dest)
    if python.exists():
        return python
    log(f"Creating the virtual environment {dest / '.venv'}")
    cmd = [sys.executable, "-m", "venv", str(dest / ".venv")]
    if system_site_packages:
        cmd.insert(3, "--system-site-packages")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(dest / ".venv", ignore_errors=True)
        raise BootstrapError(
            f"{sys.executable} could not create a virtual environment:\n"
            f"{proc.stderr.strip()}\nOn Debian/Ubuntu: apt-get install python3-venv"
        )
    return python


def link_tree(python, dest):
    """Make `import odoo` find the tree in the venv: a .pth file, as pip install -e."""
    purelib = subprocess.run(
        [
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / PTH_NAME).write_text(f"{dest.resolve()}\n")


def addon_requirements():
    """What the addon imports (its manifest) and what its tests and lint need."""
    manifest = ast.literal_eval((odoo_env.ADDON_DIR / "__manifest__.py").read_text())
    reqs = list(manifest.get("external_dependencies", {}).get("python", []))
    dev_reqs = odoo_env.ADDON_DIR / "dev" / "requirements-dev.txt"
    for line in dev_reqs.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(line)
    return reqs


def failed_packages(output):
    """The distributions pip says it could not build."""
    names, last_collected = set(), None
    for line in output.splitlines():
        match = COLLECTING_RE.match(line.strip())
        if match:
            last_collected = re.split(r"[=<>!~;\[ ]", match.group(1))[0]
        for pattern in FAILED_RES:
            match = pattern.search(line.strip())
            if match:
                names.update(n for n in re.split(r"[ ,]+", match.group(1)) if n)
    if not names and last_collected and "subprocess-exited-with-error" in output:
        names.add(last_collected)
    return {n.lower().replace("_", "-") for n in names}


def build_help(names):
    apt = sorted(
        {p for n in names for p in APT_PACKAGES.get(n, "").split()}
        | set(BUILD_TOOLS.split())
    )
    return (
        f"pip could not build {', '.join(sorted(names)) or 'a requirement'} (it "
        "compiles it from source here). On Debian/Ubuntu install the build "
        "dependencies, then run `make odoo` again:\n"
        f"  sudo apt-get install {' '.join(apt)}"
    )


def pip_install(python, args, log_file):
    """Run pip, echoing its main steps; return (returncode, full output)."""
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]
    lines = []
    with open(log_file, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in proc.stdout:
            out.write(line)
            lines.append(line)
            if line.startswith(
                ("Collecting", "Building wheel", "Successfully", "ERROR")
            ):
                log("  " + line.rstrip()[:160])
        returncode = proc.wait()
    return returncode, "".join(lines)


def without_ldap(requirements, folder):
    """A copy of requirements.txt without python-ldap (needed by auth_ldap only)."""
    kept = [
        line
        for line in requirements.read_text().splitlines()
        if not re.match(r"\s*python-ldap\b", line, re.IGNORECASE)
    ]
    copy = folder / "requirements-without-ldap.txt"
    copy.write_text("\n".join(kept) + "\n")
    return copy


def install_requirements(python, dest):
    """pip-install Odoo's requirements.txt, then the addon's; return the notes to print.

    python-ldap only serves Odoo's auth_ldap module (Odoo's install docs let it be left
    out): when it alone fails to build, the rest is installed without it.
    """
    requirements = dest / "requirements.txt"
    reqs = addon_requirements()
    digest = hashlib.sha256(requirements.read_bytes() + "\n".join(reqs).encode())
    stamp_file = dest / ".venv" / STAMP_NAME
    try:
        stamp = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        stamp = {}
    # Something left out (python-ldap) is tried again: its headers may be there now.
    if stamp.get("requirements") == digest.hexdigest() and not stamp.get("notes"):
        log("Requirements already installed.")
        return []
    log_file = dest / ".venv" / "bootstrap-pip.log"
    log(f"Installing Odoo's requirements.txt into the venv (full log: {log_file})")
    notes = []
    code, output = pip_install(python, ["-r", str(requirements)], log_file)
    failed = failed_packages(output) if code else set()
    if code and failed == {"python-ldap"}:
        notes.append(
            "python-ldap was left out: it needs the LDAP headers to build, and only "
            "Odoo's auth_ldap module uses it (sudo apt-get install "
            f"{APT_PACKAGES['python-ldap']}, then make odoo again, to add it)."
        )
        log("python-ldap does not build here; installing the rest without it.")
        short = without_ldap(requirements, dest / ".venv")
        code, output = pip_install(python, ["-r", str(short)], log_file)
        failed = failed_packages(output) if code else set()
    if code:
        raise BootstrapError(
            (build_help(failed) if failed else f"pip failed (exit {code}).")
            + f"\nFull pip log: {log_file}"
        )
    log("Installing what the addon and its tests need: " + " ".join(reqs))
    code, output = pip_install(python, reqs, log_file)
    if code:
        raise BootstrapError(
            build_help(failed_packages(output)) + f"\nFull pip log: {log_file}"
        )
    stamp_file.write_text(
        json.dumps({"requirements": digest.hexdigest(), "notes": notes})
    )
    return notes


# --- the command ----------------------------------------------------------------------


def fetch_tree(source, dest):
    """Put an Odoo 19 source tree in `dest`, unless one is there already."""
    version = tree_version(dest)
    if version == odoo_env.REQUIRED_SERIES:
        log(f"Odoo {version}.0 source already in {dest}")
        return
    if version is not None:
        raise BootstrapError(
            f"{dest} holds Odoo {version}, not {odoo_env.REQUIRED_SERIES}.0: move it "
            "away or choose another folder with --dest."
        )
    if dest.exists() and any(dest.iterdir()):
        raise BootstrapError(
            f"{dest} exists and holds no Odoo source tree: remove it or choose another "
            "folder with --dest."
        )
    if dest.exists():
        dest.rmdir()
    archive, downloaded = open_source(source)
    try:
        extract(archive, dest)
    finally:
        if downloaded:
            archive.unlink()


def bootstrap(source, dest, system_site_packages=False):
    """Every step; return the notes to print at the end."""
    dest = dest.expanduser().absolute()
    fetch_tree(source, dest)
    python = create_venv(dest, system_site_packages)
    link_tree(python, dest)
    return install_requirements(python, dest)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        default=os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE,
        help=f"URL or path of an Odoo 19.0 source .tar.gz (default: ${SOURCE_ENV} or "
        f"{DEFAULT_SOURCE}; the nightly one: {NIGHTLY_SOURCE})",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=odoo_env.BOOTSTRAP_DIR,
        help=f"the folder to install into (default: {odoo_env.BOOTSTRAP_DIR})",
    )
    parser.add_argument(
        "--system-site-packages",
        action="store_true",
        help="let the venv see this Python's packages (a test/offline aid: pip then "
        "only adds what is missing); the default is a clean venv",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        notes = bootstrap(args.source, args.dest, args.system_site_packages)
    except BootstrapError as err:
        sys.stderr.write(f"ERROR: {err}\n")
        return 1
    dest = args.dest.expanduser().absolute()
    log(f"Odoo 19.0 is ready in {dest} ({time.monotonic() - started:.0f} s).")
    for note in notes:
        log(f"Note: {note}")
    if dest != odoo_env.BOOTSTRAP_DIR:
        log(f"Not the default folder: point the commands at it with ODOO_SRC={dest}")
    log("Next: make demo   (or make test)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
