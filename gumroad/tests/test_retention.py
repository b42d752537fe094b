"""What the "keep only the buyer data the books need" option stores."""

from urllib.parse import parse_qs

from gumroad.pings import parse_ping
from gumroad.retention import minimal_ping_body, minimal_sale_payload

SALE = {
    "id": "A1==",
    "email": "ann@example.com",
    "full_name": "Ann Lee",
    "country": "Germany",
    "country_iso2": "DE",
    "street_address": "1 Main St",
    "city": "Berlin",
    "state": "BE",
    "zip_code": "10115",
    "card": {"visual": "**** **** **** 4242", "type": "visa"},
    "price": 1000,
}


def test_minimal_sale_keeps_what_the_books_read_and_drops_address_and_card():
    kept = minimal_sale_payload(SALE)
    assert kept == {
        "id": "A1==",
        "email": "ann@example.com",
        "full_name": "Ann Lee",
        "country": "Germany",
        "country_iso2": "DE",
        "price": 1000,
    }
    assert SALE["card"]["visual"] == "**** **** **** 4242"  # the input is untouched


def test_minimal_ping_drops_bracketed_card_keys_and_still_parses():
    raw = (
        b"sale_id=A1%3D%3D&email=ann%40example.com&full_name=Ann+Lee&country=Germany"
        b"&street_address=1+Main+St&city=Berlin&zip_code=10115"
        b"&card%5Bvisual%5D=%2A%2A%2A%2A+4242&card%5Btype%5D=visa&price=1000"
        b"&resource_name=sale"
    )
    kept = minimal_ping_body(raw)
    fields = parse_qs(kept.decode(), keep_blank_values=True)
    assert sorted(fields) == [
        "country",
        "email",
        "full_name",
        "price",
        "resource_name",
        "sale_id",
    ]
    assert fields["sale_id"] == ["A1=="]
    assert parse_ping(kept).sale_id == "A1=="


def test_a_ping_without_personal_keys_or_malformed_is_stored_byte_for_byte():
    plain = b"sale_id=A1%3D%3D&resource_name=sale&price=1000"
    assert minimal_ping_body(plain) is plain
    garbage = b"\xff\xfe not a form"
    assert minimal_ping_body(garbage) is garbage
