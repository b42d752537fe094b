"""A product's variants, SKUs and offer codes through the client (gumroad/catalog.py),
against the sandbox's Api::V2 sub-resource routes (issue #18 section 1)."""

import pytest
import requests

from gumroad import GumroadClient, MalformedPayloadError
from gumroad.catalog import (
    Attribute,
    Catalogue,
    Option,
    catalogue_from_product,
    parse_offer_code,
    parse_sku,
    read_catalogue,
)
from gumroad.sales import parse_sale
from gumroad_sandbox.records import VariantOption


def client_for(sandbox):
    return GumroadClient(sandbox.token, sandbox.base_url)


def product_named(sandbox, name):
    return next(p for p in sandbox.products if p["name"] == name)


def test_client_lists_categories_variants_skus_and_offer_codes(sandbox):
    client = client_for(sandbox)
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    (category,) = client.list_variant_categories(plugin["id"])
    assert category["title"] == "License type"
    variants = client.list_variants(plugin["id"], category["id"])
    assert [(v["name"], v["price_difference_cents"]) for v in variants] == [
        ("Single seat", 0),
        ("Team (5 seats)", 5000),
    ]
    assert client.list_skus(plugin["id"]) == []  # a digital product
    (offer,) = client.list_offer_codes(plugin["id"])
    assert (offer["name"], offer["amount_cents"]) == ("SAVE5", 500)


def test_read_catalogue_of_a_digital_product_reads_no_skus(sandbox):
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    catalogue = read_catalogue(client_for(sandbox), plugin)
    (attribute,) = catalogue.attributes()
    assert attribute.title == "License type"
    assert [(o.name, o.price_difference_cents) for o in attribute.options] == [
        ("Single seat", 0),
        ("Team (5 seats)", 5000),
    ]
    assert all(o.id and not o.sku_ids for o in attribute.options)
    assert catalogue.offer_codes_dict() == {"SAVE5": {"amount_cents": 500}}
    requested = [path for _m, path, *_rest in sandbox.request_log]
    assert not any(path.endswith("/skus") for path in requested)


def test_a_product_without_variants_costs_one_request_for_its_offer_codes(sandbox):
    handbook = product_named(sandbox, "The Odoo Integration Handbook")
    before = len(sandbox.request_log)
    catalogue = read_catalogue(client_for(sandbox), handbook)
    assert catalogue.attributes() == ()
    assert catalogue.offer_codes_dict() == {"LAUNCH20": {"percent_off": 20}}
    assert len(sandbox.request_log) - before == 1


def test_physical_product_variants_carry_the_sale_sku_id(sandbox):
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    sandbox.set_product(plugin["id"], kind="physical")
    client = client_for(sandbox)
    product = client.get_product(plugin["id"])
    assert product["require_shipping"] is True
    (attribute,) = read_catalogue(client, product).attributes()
    skus = client.list_skus(plugin["id"])
    assert [o.sku_ids for o in attribute.options] == [(s["id"],) for s in skus]
    sale = sandbox.add_sale(
        product_id=plugin["id"], variant="Team (5 seats)", sku_id=skus[1]["id"]
    )
    parsed = parse_sale(sale)
    assert (parsed.sku_id, parsed.sku_external_id) == (skus[1]["id"], skus[1]["id"])
    assert parsed.variants == {"License type": "Team (5 seats)"}


def test_two_categories_are_two_attributes(sandbox):
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    url = f"{sandbox.base_url}/products/{plugin['id']}/variant_categories"
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    created = requests.post(url, data={"title": "Support"}, headers=headers, timeout=5)
    category_id = created.json()["variant_category"]["id"]
    for name, cents in (("Email", 0), ("Phone", 1500)):
        requests.post(
            f"{url}/{category_id}/variants",
            data={"name": name, "price_difference_cents": cents},
            headers=headers,
            timeout=5,
        ).raise_for_status()
    attributes = read_catalogue(client_for(sandbox), plugin).attributes()
    assert [a.title for a in attributes] == ["License type", "Support"]
    assert [(o.name, o.price_difference_cents) for o in attributes[1].options] == [
        ("Email", 0),
        ("Phone", 1500),
    ]


def test_real_skus_become_one_attribute_with_their_ids():
    size = Attribute("Size", (Option("S", 0, "v1"), Option("L", 0, "v2")))
    colour = Attribute("Colour", (Option("Red", 0, "v3"),))
    skus = (
        parse_sku({"id": "k1", "name": "S - Red", "price_difference_cents": 0}),
        parse_sku(
            {
                "id": "k2",
                "name": "L - Red",
                "price_difference_cents": 300,
                "custom_sku": "SHIRT-L-RED",
            }
        ),
    )
    (attribute,) = Catalogue((size, colour), skus).attributes()
    assert attribute.title == "Size - Colour"
    assert [
        (o.name, o.price_difference_cents, o.sku_ids) for o in attribute.options
    ] == [
        ("S - Red", 0, ("k1",)),
        ("L - Red", 300, ("k2", "SHIRT-L-RED")),
    ]


def test_product_json_variants_are_the_fallback_without_ids(sandbox):
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    (attribute,) = catalogue_from_product(plugin).attributes()
    assert [(o.name, o.price_difference_cents, o.id) for o in attribute.options] == [
        ("Single seat", 0, None),
        ("Team (5 seats)", 5000, None),
    ]
    assert catalogue_from_product(plugin).offer_codes_dict() is None


@pytest.mark.parametrize(
    "item",
    [{"percent_off": 10}, {"name": "X", "percent_off": "10"}, {"name": 5}],
)
def test_unreadable_offer_codes_are_named_errors(item):
    with pytest.raises(MalformedPayloadError):
        parse_offer_code(item)


def test_sku_enabled_product_gives_one_attribute_of_its_skus(sandbox):
    plugin = product_named(sandbox, "Invoice Sync Plugin")
    sandbox.set_product(
        plugin["id"],
        kind="physical",
        skus=[
            VariantOption("sku-single", "Single seat", 0),
            VariantOption("sku-team", "Team (5 seats)", 5000, custom_sku="TEAM-5"),
        ],
    )
    client = client_for(sandbox)
    assert client.list_skus(plugin["id"])[1]["custom_sku"] == "TEAM-5"
    (attribute,) = read_catalogue(client, client.get_product(plugin["id"])).attributes()
    assert attribute.title == "License type"
    assert [(o.name, o.sku_ids) for o in attribute.options] == [
        ("Single seat", ("sku-single",)),
        ("Team (5 seats)", ("sku-team", "TEAM-5")),
    ]
