"""Odoo as a library on the throwaway database of `make test`, for real concurrent
transactions.

Odoo's own test cases run in one uncommitted transaction, so they cannot show what
happens when two transactions race, or when a process is killed. These tests commit for
real, in the database the Odoo suite just installed the addon in (dropped at the end of
the run). The test runner passes GUMROAD_TEST_DB and GUMROAD_ODOO_ARGS; without them the
tests are skipped.
"""

import os
import shlex

import pytest

DB = os.environ.get("GUMROAD_TEST_DB")


def pytest_collection_modifyitems(config, items):
    if DB:
        return
    skip = pytest.mark.skip(reason="needs GUMROAD_TEST_DB (run through `make test`)")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def registry():
    import odoo  # noqa: F401
    from odoo.modules.registry import Registry
    from odoo.tools import config

    config.parse_config(
        shlex.split(os.environ["GUMROAD_ODOO_ARGS"]), setup_logging=False
    )
    return Registry(DB)


@pytest.fixture
def env_factory(registry):
    """Open environments on new cursors (real transactions) and close them
    afterwards.
    """
    from odoo import SUPERUSER_ID, api

    cursors = []

    def make():
        cr = registry.cursor()
        cursors.append(cr)
        return api.Environment(cr, SUPERUSER_ID, {})

    yield make
    for cr in cursors:
        if not cr.closed:
            cr.rollback()
            cr.close()


@pytest.fixture
def make_connector(env_factory):
    """A committed connector on a sandbox, in the main company."""

    def make(sandbox, name):
        env = env_factory()
        env.ref("base.USD").active = True
        account = env["gumroad.account"].create(
            {
                "name": name,
                "api_base_url": sandbox.base_url,
                "access_token": sandbox.token,
            }
        )
        env.cr.commit()
        return account.id

    return make
