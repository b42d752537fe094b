"""The ping cron's wake-up, shared by the pings that arrive together, against real
transactions: a ping stored while a cron run clears the wake-ups is never left
without one.
"""

import pytest
from psycopg2.errors import LockNotAvailable

from gumroad_sandbox import SandboxServer

CRON_XMLID = "gumroad_connector.ir_cron_gumroad_process_events"


@pytest.fixture
def sandbox():
    with SandboxServer(sales=5, seed=31) as server:
        yield server


def due_wake_ups(env):
    cron = env.ref(CRON_XMLID)
    env.cr.execute(
        "SELECT count(*) FROM ir_cron_trigger "
        "WHERE cron_id = %s AND call_at <= now() AT TIME ZONE 'UTC'",
        [cron.id],
    )
    return env.cr.fetchone()[0]


def clear_wake_ups(env):
    """What a cron run does first, in its own transaction (committed at its end)."""
    cron = env.ref(CRON_XMLID)
    env["ir.cron"]._clear_schedule({"id": cron.id})


def store_ping(env, account_id, sandbox):
    sale_id = sandbox.sales[0]["id"]
    return env["gumroad.webhook.event"]._store_ping(
        env["gumroad.account"].browse(account_id),
        sandbox.ping_body("sale", sale_id=sale_id),
        "application/x-www-form-urlencoded",
    )


def test_pings_arriving_together_share_one_wake_up(
    env_factory, make_connector, sandbox
):
    account_id = make_connector(sandbox, "wake-up shared")
    env = env_factory()
    clear_wake_ups(env)
    env.cr.commit()
    for _ in range(5):
        store_ping(env, account_id, sandbox)
        env.cr.commit()
    assert due_wake_ups(env) == 1


@pytest.fixture
def one_ping(env_factory, make_connector, sandbox):
    """A connector with one committed ping, and the transactions of a cron run and
    of a web request: (account id, cron env, web env)."""
    account_id = make_connector(sandbox, "wake-up")
    cron_env, web_env = env_factory(), env_factory()
    store_ping(web_env, account_id, sandbox)
    web_env.cr.commit()
    return account_id, cron_env, web_env


def test_a_ping_stored_while_a_run_clears_the_wake_ups_gets_its_own(one_ping, sandbox):
    account_id, cron_env, web_env = one_ping
    assert due_wake_ups(web_env) == 1
    # A cron run has cleared the wake-ups and may have looked for pings already.
    clear_wake_ups(cron_env)
    event = store_ping(web_env, account_id, sandbox)
    web_env.cr.commit()
    cron_env.cr.commit()
    assert event.state == "pending"
    assert due_wake_ups(web_env) == 1  # the cron runs again for the new ping


def test_a_ping_cleared_after_its_transaction_began_gets_its_own_wake_up(
    one_ping, sandbox
):
    account_id, cron_env, web_env = one_ping
    web_env.cr.execute("SELECT 1")  # the request's snapshot is taken
    clear_wake_ups(cron_env)
    cron_env.cr.commit()
    store_ping(web_env, account_id, sandbox)
    web_env.cr.commit()
    assert due_wake_ups(web_env) == 1


def test_a_run_cannot_clear_the_wake_up_a_ping_relies_on_before_it_is_stored(
    one_ping, sandbox
):
    account_id, cron_env, web_env = one_ping
    event = store_ping(web_env, account_id, sandbox)  # shares the wake-up, uncommitted
    cron_env.cr.execute("SET LOCAL lock_timeout = '200ms'")
    with pytest.raises(LockNotAvailable):
        clear_wake_ups(cron_env)
    cron_env.cr.rollback()
    web_env.cr.commit()
    # Once the ping is stored the run clears the wake-up, and its processing (which
    # starts after the clearing) finds the ping.
    clear_wake_ups(cron_env)
    cron_env.cr.execute(
        "SELECT state FROM gumroad_webhook_event WHERE id = %s", [event.id]
    )
    assert cron_env.cr.fetchone()[0] == "pending"
    cron_env.cr.commit()
