"""dev/bootstrap_odoo.py (`make odoo`) on small archives made here: what it accepts,
what it refuses, and the messages it gives. The whole bootstrap, with a real Odoo tree,
is dev/tests/test_bootstrap_e2e.py (`make test-bootstrap`)."""

import io
import tarfile

import pytest

from dev import bootstrap_odoo

RELEASE_19 = b"version_info = (19, 0, 0, FINAL, 0, '')\n"


def make_archive(path, files, top="odoo-19.0", links=()):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def odoo_files(release=RELEASE_19):
    return {
        "odoo/release.py": release,
        "odoo/__init__.py": b"",
        "requirements.txt": b"requests\n",
        "addons/web/__manifest__.py": b"{}",
    }


def test_extracts_the_tree_without_its_top_folder(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", odoo_files(), links=[("l", "odoo")])
    dest = tmp_path / "odoo-19.0"
    bootstrap_odoo.fetch_tree(archive.as_uri(), dest)  # a file:// URL
    assert (dest / "odoo" / "release.py").read_bytes() == RELEASE_19
    assert (dest / "addons" / "web" / "__manifest__.py").exists()
    assert (dest / "l").resolve() == (dest / "odoo").resolve()
    assert bootstrap_odoo.tree_version(dest) == 19
    # Again: the tree is there, the (now missing) archive is not read.
    bootstrap_odoo.fetch_tree(str(tmp_path / "gone.tar.gz"), dest)


@pytest.fixture
def http_folder(tmp_path):
    """tmp_path served over HTTP on a free loopback port: its base URL."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_downloads_an_http_source_with_progress(tmp_path, http_folder, capsys):
    make_archive(tmp_path / "odoo.tar.gz", odoo_files())
    dest = tmp_path / "dest"
    bootstrap_odoo.fetch_tree(f"{http_folder}/odoo.tar.gz", dest)
    assert bootstrap_odoo.tree_version(dest) == 19
    out = capsys.readouterr().out
    assert f"Downloading {http_folder}/odoo.tar.gz" in out
    assert "MB downloaded" in out


def test_a_failed_download_says_how_to_pass_a_file(tmp_path, http_folder):
    with pytest.raises(bootstrap_odoo.BootstrapError) as err:
        bootstrap_odoo.fetch_tree(f"{http_folder}/missing.tar.gz", tmp_path / "dest")
    assert "Could not download" in str(err.value) and "404" in str(err.value)
    assert "ODOO_BOOTSTRAP_URL=/path/to/odoo.tar.gz" in str(err.value)
    assert not (tmp_path / "dest").exists()


def test_a_plain_path_is_a_source(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", odoo_files(), top="odoo-19.0.post1")
    bootstrap_odoo.fetch_tree(str(archive), tmp_path / "dest")
    assert bootstrap_odoo.tree_version(tmp_path / "dest") == 19


@pytest.mark.parametrize(
    "files, links, message",
    [
        ({"../evil.py": b"x"}, (), "Unsafe path"),
        ({"odoo/release.py": RELEASE_19}, [("odoo/x", "/etc/passwd")], "Unsafe link"),
        ({"odoo/release.py": RELEASE_19}, [("x", "../../outside")], "Unsafe link"),
        ({"odoo/release.py": b"version_info = (18, 0, 0)\n"}, (), "holds Odoo 18"),
        ({"odoo/__init__.py": b""}, (), "no odoo/release.py"),
    ],
)
def test_refuses_unsafe_or_wrong_archives(tmp_path, files, links, message):
    archive = make_archive(tmp_path / "a.tar.gz", files, links=links)
    dest = tmp_path / "dest"
    with pytest.raises(bootstrap_odoo.BootstrapError, match=message):
        bootstrap_odoo.fetch_tree(str(archive), dest)
    assert not dest.exists()
    assert not (tmp_path / "evil.py").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_refuses_an_archive_with_several_top_folders(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz", {"a/odoo/release.py": RELEASE_19, "b/x": b""}, top=""
    )
    with pytest.raises(bootstrap_odoo.BootstrapError, match="one folder"):
        bootstrap_odoo.fetch_tree(str(archive), tmp_path / "dest")


def test_keeps_away_from_a_folder_holding_something_else(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    archive = make_archive(tmp_path / "a.tar.gz", odoo_files())
    with pytest.raises(bootstrap_odoo.BootstrapError, match="holds no Odoo"):
        bootstrap_odoo.fetch_tree(str(archive), dest)
    assert (dest / "mine.txt").read_text() == "keep me"


def test_a_missing_archive_is_named(tmp_path):
    with pytest.raises(bootstrap_odoo.BootstrapError, match="No Odoo archive at"):
        bootstrap_odoo.fetch_tree(str(tmp_path / "nope.tar.gz"), tmp_path / "dest")


def test_a_build_failure_names_the_package_and_the_apt_packages():
    output = (
        "Collecting python-ldap==3.4.0\n"
        "  error: subprocess-exited-with-error\n"
        "Failed to build python-ldap psycopg2\n"
    )
    failed = bootstrap_odoo.failed_packages(output)
    assert failed == {"python-ldap", "psycopg2"}
    message = bootstrap_odoo.build_help(failed)
    assert "python-ldap" in message and "psycopg2" in message
    assert "apt-get install" in message
    assert "libldap2-dev" in message and "libsasl2-dev" in message
    assert "libpq-dev" in message


@pytest.mark.parametrize(
    "line",
    [
        (
            "ERROR: Could not build wheels for python-ldap, which is required to "
            "install pyproject.toml-based projects"
        ),
        (
            "ERROR: Failed to build installable wheels for some pyproject.toml based "
            "projects (python-ldap)"
        ),
        "  ERROR: Failed building wheel for python-ldap",
        "Failed to build python-ldap",
    ],
)
def test_each_pip_wording_of_a_build_failure_names_the_package(line):
    assert bootstrap_odoo.failed_packages(f"Collecting zeep\n{line}\n") == {
        "python-ldap"
    }


def test_a_metadata_failure_names_the_package_pip_was_collecting():
    output = (
        "Collecting psycopg2==2.9.5\n"
        "  error: subprocess-exited-with-error\n"
        "  Error: pg_config executable not found.\n"
    )
    assert bootstrap_odoo.failed_packages(output) == {"psycopg2"}


def test_python_ldap_can_be_left_out(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "lxml==4.9.3\npython-ldap==3.4.0 ; sys_platform != 'win32'\nzeep==4.2.1\n"
    )
    short = bootstrap_odoo.without_ldap(requirements, tmp_path)
    assert short.read_text().splitlines() == ["lxml==4.9.3", "zeep==4.2.1"]


def test_the_addon_requirements_come_from_its_manifest_and_dev_requirements():
    reqs = bootstrap_odoo.addon_requirements()
    assert "cryptography" in reqs and "requests" in reqs
    assert any(r.startswith("pytest") for r in reqs)


# --- the commands' lookup (dev/odoo_env.py) -------------------------------------------

odoo_env = bootstrap_odoo.odoo_env


def fake_bootstrapped_folder(folder):
    """A folder as `make odoo` leaves it, whose venv 'python' answers the probe."""
    (folder / "odoo" / "addons" / "base").mkdir(parents=True)
    (folder / "odoo" / "addons" / "base" / "__manifest__.py").write_text("{}")
    python = odoo_env.bootstrap_python(folder)
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho \'[["{folder / "odoo"}"], 19, "19.0"]\'\n')
    python.chmod(0o755)
    return python


@pytest.fixture
def no_importable_odoo(monkeypatch):
    """This Python cannot import odoo; ODOO_SRC is not set."""
    import sys

    real_probe = odoo_env._probe_python
    monkeypatch.delenv("ODOO_SRC", raising=False)
    monkeypatch.setattr(
        odoo_env,
        "_probe_python",
        lambda python, extra_path=None: (
            None if python == sys.executable else real_probe(python, extra_path)
        ),
    )


def test_without_odoo_the_message_names_make_odoo_first(
    tmp_path, monkeypatch, no_importable_odoo
):
    monkeypatch.setattr(odoo_env, "BOOTSTRAP_DIR", tmp_path / "odoo-19.0")
    with pytest.raises(odoo_env.SetupError) as err:
        odoo_env.find_odoo()
    message = str(err.value)
    assert "make odoo" in message
    assert message.index("make odoo") < message.index("ODOO_SRC=/path")


def test_the_bootstrapped_folder_is_found_without_a_variable(
    tmp_path, monkeypatch, no_importable_odoo
):
    folder = tmp_path / "odoo-19.0"
    python = fake_bootstrapped_folder(folder)
    monkeypatch.setattr(odoo_env, "BOOTSTRAP_DIR", folder)
    odoo = odoo_env.find_odoo()
    assert odoo.python == str(python)
    assert odoo.command == [str(python), "-m", "odoo"]
    assert odoo.addons_paths == [folder / "odoo" / "addons"]
    assert "make odoo" in odoo.source


def test_odoo_src_at_a_bootstrapped_folder_uses_its_venv(
    tmp_path, monkeypatch, no_importable_odoo
):
    folder = tmp_path / "elsewhere"
    python = fake_bootstrapped_folder(folder)
    (folder / "odoo" / "release.py").write_bytes(RELEASE_19)
    monkeypatch.setenv("ODOO_SRC", str(folder))
    assert odoo_env.find_odoo().python == str(python)


def test_the_commands_rerun_under_the_venv_python(tmp_path):
    import os
    import subprocess
    import sys

    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho "ran $* with $GUMROAD_ODOO_REEXEC"\n')
    python.chmod(0o755)
    code = (
        "import sys; sys.argv = ['dev/run_tests.py', '--skip-pure'];"
        "import odoo_env;"
        f"odoo = odoo_env.OdooInstall({str(python)!r}, [], [], '19.0', 'test');"
        "odoo_env.run_with_odoo_python(odoo);"
        "print('not re-run')"
    )
    env = {k: v for k, v in os.environ.items() if k != odoo_env.REEXEC_ENV}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=odoo_env.ADDON_DIR / "dev",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines()[-1] == "ran dev/run_tests.py --skip-pure with 1"
    # Already under it: nothing happens.
    same = odoo_env.OdooInstall(sys.executable, [], [], "19.0", "test")
    assert odoo_env.run_with_odoo_python(same) is None
