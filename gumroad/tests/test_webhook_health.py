from gumroad.webhook_health import (
    DUPLICATED,
    MISSING,
    SUBSCRIBED,
    missing_resources,
    sales_without_ping,
    subscription_states,
)

URL = "https://books.example.com/gumroad/webhook/s3cret"


def test_each_resource_is_subscribed_missing_or_duplicated():
    states = subscription_states(
        URL,
        {
            "sale": [{"id": "1", "post_url": URL}],
            "refund": [{"id": "2", "post_url": "https://other.example/hook"}],
            "dispute": [{"id": "3", "post_url": URL}, {"id": "4", "post_url": URL}],
        },
        resources=("sale", "refund", "dispute", "cancellation"),
    )
    assert states == {
        "sale": SUBSCRIBED,
        "refund": MISSING,
        "dispute": DUPLICATED,
        "cancellation": MISSING,
    }
    assert missing_resources(states) == ["refund", "cancellation"]


def test_sales_found_by_the_sync_without_a_ping_are_the_lost_ones():
    assert sales_without_ping(["c", "a", "b"], ["b", "z"]) == ["a", "c"]
    assert sales_without_ping([], ["b"]) == []
