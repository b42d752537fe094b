"""Routes and request forms outside clients use against the sandbox (issue #18).

Each test names the Gumroad (or Rails) source the sandbox follows. Plain `requests`.
"""

import requests

from gumroad_sandbox.server import parse_body


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def multipart(**fields):
    """Each field as its own form-data part, the way npm's form-data sends them."""
    return {name: (None, value) for name, value in fields.items()}


def product_by_permalink(sandbox, permalink):
    return next(p for p in sandbox.products if p["short_url"].endswith("/" + permalink))


def fresh_sale(sandbox, permalink="odoo-handbook", **overrides):
    product = product_by_permalink(sandbox, permalink)
    return sandbox.add_sale(product_id=product["id"], **overrides)


# -- request forms ---------------------------------------------------------------------
def test_multipart_body_carries_the_token(sandbox):
    """Rack parses multipart/form-data into params like a urlencoded form."""
    response = requests.get(
        sandbox.base_url + "/user",
        files=multipart(access_token=sandbox.token),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["success"] is True


def test_multipart_license_verify_finds_the_licence(sandbox):
    sale = fresh_sale(sandbox, "invoice-sync")
    response = requests.post(
        sandbox.base_url + "/licenses/verify",
        files=multipart(product_id=sale["product_id"], license_key=sale["license_key"]),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["purchase"]["sale_id"] == sale["id"]


def test_multipart_write_reads_fields_and_file_names():
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="amount_cents"\r\n\r\n150\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="note"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xc3\xa9\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nx,y\r\n--XyZ--\r\n"
    )
    params = parse_body(body, "multipart/form-data; boundary=XyZ")
    assert params == {"amount_cents": "150", "note": "café", "file": "a.csv"}
    assert parse_body(b"not multipart", "multipart/form-data") == {}


def test_doubled_slashes_are_squeezed_like_rails_router(sandbox):
    """Journey::Router::Utils.normalize_path squeezes "/" runs before matching."""
    for path in ("/v2//products", "//v2/products", "/v2/products//"):
        response = requests.get(
            sandbox.root_url + path, headers=auth(sandbox.token), timeout=5
        )
        assert response.status_code == 200, path
        assert response.json()["success"] is True
