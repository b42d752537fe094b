from gumroad.alerts import AlertPlan, plan_alerts


def test_a_new_problem_opens_one_alert_a_lasting_one_updates_a_gone_one_closes():
    plan = plan_alerts(
        {"sales_error": 3, "pings_error": 0, "token": 1, "payout_mismatch": 2},
        open_kinds={"sales_error", "pings_error"},
    )
    assert plan == AlertPlan(
        open=("token", "payout_mismatch"),
        update=("sales_error",),
        close=("pings_error",),
    )


def test_nothing_wrong_and_nothing_open_is_nothing_to_do():
    assert plan_alerts({"sales_error": 0}, open_kinds=()) == AlertPlan((), (), ())
