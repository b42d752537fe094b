"""Regenerate i18n/gumroad_connector.pot with Odoo's own exporter (never by hand).

Usage: python3 dev/i18n.py        (installs the addon in a throwaway database, exports,
drops it) Then: msgmerge --update --no-fuzzy-matching i18n/es.po
i18n/gumroad_connector.pot
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import odoo_env


def main():
    odoo = odoo_env.find_odoo()
    pg = odoo_env.ensure_postgres()
    dbname = f"gumroad_i18n_{int(time.time())}"
    addons = ",".join(str(p) for p in [odoo_env.addon_parent_dir(), *odoo.addons_paths])
    env = dict(os.environ, **odoo.extra_env)
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(
            "[options]\n"
            f"addons_path = {addons}\n"
            f"db_host = {pg['host']}\ndb_port = {pg['port']}\ndb_user = {pg['user']}\n"
            f"db_password = {pg['password'] or 'False'}\n"
        )
    pot = odoo_env.ADDON_DIR / "i18n" / f"{odoo_env.ADDON_NAME}.pot"
    try:
        installed = odoo_env.install_addon(odoo, ["-c", conf.name, "-d", dbname], env)
        if installed.returncode:
            raise odoo_env.SetupError(
                f"installing the addon failed:\n{installed.stderr}"
            )
        subprocess.run(
            [
                *odoo.command,
                "i18n",
                "export",
                "-c",
                conf.name,
                "-d",
                dbname,
                odoo_env.ADDON_NAME,
                "-o",
                str(pot),
            ],
            env=env,
            cwd=tempfile.gettempdir(),
            check=True,
        )
    finally:
        odoo_env.drop_database(pg, dbname)
        os.unlink(conf.name)
    print(f"wrote {pot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
