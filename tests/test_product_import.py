from unittest.mock import patch

import requests

from odoo.fields import Command
from odoo.tests import tagged

from ..gumroad_sandbox.records import VariantOption
from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestProductImport(GumroadCommon):
    sandbox_products = 23  # three pages of ten

    def templates(self):
        return (
            self.env["product.template"]
            .with_context(active_test=False)
            .search([("gumroad_account_id", "=", self.account.id)])
        )

    def test_every_page_of_products_gives_one_template_each(self):
        self.assertGreater(len(self.sandbox.products), 10, "needs more than one page")
        self.account.action_import_products()
        templates = self.templates()
        self.assertEqual(len(templates), len(self.sandbox.products))
        self.assertEqual(
            set(templates.mapped("gumroad_product_id")),
            {p["id"] for p in self.sandbox.products},
        )
        for product in self.sandbox.products:
            template = templates.filtered(
                lambda t, p=product: t.gumroad_product_id == p["id"]
            )
            self.assertEqual(template.name, product["name"])
            self.assertEqual(
                template.active, product["published"] and not product["deleted"]
            )
            self.assertEqual(
                template.type, "consu" if product["require_shipping"] else "service"
            )

    def test_second_import_writes_nothing(self):
        self.account.action_import_products()
        template_class = type(self.env["product.template"])
        with patch.object(
            template_class, "write", autospec=True, side_effect=template_class.write
        ) as spy_write:
            counts = self.env["product.template"]._gumroad_sync_products(
                self.account, list(self.account._gumroad_client().iter_products())
            )
        self.assertEqual(counts["updated"], 0)
        self.assertEqual(counts["created"], 0)
        self.assertEqual(counts["unchanged"], len(self.sandbox.products))
        self.assertEqual(spy_write.call_count, 0)

    def test_price_change_unpublish_and_deletion_show_after_the_next_import(self):
        self.account.action_import_products()
        usd_products = [
            p
            for p in self.sandbox.products
            if p["currency"] == "usd" and p["published"] and not p["deleted"]
        ]
        changed, unpublished, deleted = usd_products[:3]
        self.sandbox.set_product(changed["id"], price=12345)
        self.sandbox.set_product(unpublished["id"], published=False)
        self.sandbox.delete_product(deleted["id"])
        self.account.action_import_products()
        templates = self.templates()
        by_id = {t.gumroad_product_id: t for t in templates}
        self.assertAlmostEqual(by_id[changed["id"]].list_price, 123.45)
        self.assertFalse(by_id[unpublished["id"]].active)
        self.assertFalse(by_id[deleted["id"]].active)
        self.assertTrue(
            by_id[deleted["id"]].exists(), "a deleted product is archived, not removed"
        )

    def test_eur_product_in_a_usd_company_gets_the_converted_price(self):
        self.assertEqual(self.company.currency_id, self.usd)
        self.env["res.currency.rate"].create(
            {
                "currency_id": self.eur.id,
                "rate": 0.5,
                "name": "2000-01-01",
                "company_id": self.company.id,
            }
        )
        eur = next(p for p in self.sandbox.products if p["currency"] == "eur")
        self.account.action_import_products()
        template = self.templates().filtered(
            lambda t: t.gumroad_product_id == eur["id"]
        )
        listed = eur["price"] / 100
        self.assertAlmostEqual(template.gumroad_price, listed)
        self.assertEqual(template.gumroad_currency, "eur")
        # 1 USD = 0.5 EUR, so the USD price is twice the EUR price.
        self.assertAlmostEqual(template.list_price, listed * 2, places=2)

    def product_named(self, name):
        return next(p for p in self.sandbox.products if p["name"] == name)

    def template_of(self, product):
        return self.templates().filtered(
            lambda t: t.gumroad_product_id == product["id"]
        )

    def test_variants_become_one_product_each_with_price_differences(self):
        product = self.product_named("Invoice Sync Plugin")
        self.account.action_import_products()
        template = self.template_of(product)
        self.assertEqual(len(template.product_variant_ids), 2)
        line = template.attribute_line_ids
        self.assertEqual(line.attribute_id.name, "License type")
        self.assertEqual(line.attribute_id.create_variant, "always")
        self.assertEqual(
            sorted(line.value_ids.mapped("name")), ["Single seat", "Team (5 seats)"]
        )
        prices = {
            v.product_template_attribute_value_ids.name: v.lst_price
            for v in template.product_variant_ids
        }
        # 49.00 plus the Gumroad price_difference_cents of each option.
        self.assertEqual(prices, {"Single seat": 49.0, "Team (5 seats)": 99.0})
        tiers = self.template_of(self.product_named("Pro Templates Membership"))
        self.assertEqual(
            sorted(
                tiers.product_variant_ids.product_template_attribute_value_ids.mapped(
                    "name"
                )
            ),
            ["Basic", "Pro"],
        )
        self.assertEqual(
            len(self.template_of(self.plain_usd_product()).product_variant_ids), 1
        )

    def test_re_import_creates_no_duplicate_attribute_value_or_variant(self):
        product = self.product_named("Invoice Sync Plugin")
        self.account.action_import_products()
        template = self.template_of(product)
        variants = template.product_variant_ids
        self.account.action_import_products()
        self.assertEqual(template.product_variant_ids, variants)
        attribute = self.env["product.attribute"].search(
            [("name", "=", "License type")]
        )
        self.assertEqual(len(attribute), 1)
        self.assertEqual(len(attribute.value_ids), 2)

    def test_an_older_no_variant_attribute_line_is_replaced(self):
        product = self.product_named("Invoice Sync Plugin")
        self.account.action_import_products()
        template = self.template_of(product)
        old = self.env["product.attribute"].create(
            {
                "name": "License type",
                "create_variant": "no_variant",
                "value_ids": [Command.create({"name": "Single seat"})],
            }
        )
        template.attribute_line_ids = [
            Command.clear(),
            Command.create({"attribute_id": old.id, "value_ids": old.value_ids.ids}),
        ]
        self.assertEqual(len(template.product_variant_ids), 1)
        self.account.action_import_products()
        self.assertEqual(
            template.attribute_line_ids.attribute_id.create_variant, "always"
        )
        self.assertEqual(len(template.product_variant_ids), 2)

    def test_a_second_category_gives_one_product_per_combination(self):
        product = self.product_named("Invoice Sync Plugin")
        url = f"{self.sandbox.base_url}/products/{product['id']}/variant_categories"
        headers = {"Authorization": f"Bearer {self.sandbox.token}"}
        created = requests.post(
            url, data={"title": "Support"}, headers=headers, timeout=5
        ).json()["variant_category"]
        self.addCleanup(
            requests.delete, f"{url}/{created['id']}", headers=headers, timeout=5
        )
        for name in ("Email", "Phone"):
            requests.post(
                f"{url}/{created['id']}/variants",
                data={"name": name, "price_difference_cents": 1500},
                headers=headers,
                timeout=5,
            ).raise_for_status()
        self.account.action_import_products()
        template = self.template_of(product)
        self.assertEqual(len(template.product_variant_ids), 4)
        self.assertEqual(
            sorted(template.attribute_line_ids.attribute_id.mapped("name")),
            ["License type", "Support"],
        )
        self.assertEqual(
            sorted(template.product_variant_ids.mapped("lst_price")),
            [64.0, 64.0, 114.0, 114.0],
        )

    def test_physical_product_variants_carry_their_gumroad_sku_id(self):
        product = self.product_named("Invoice Sync Plugin")
        self.sandbox.set_product(product["id"], kind="physical")
        self.addCleanup(self.sandbox.set_product, product["id"], kind="plugin")
        skus = self.account._gumroad_client().list_skus(product["id"])
        self.account.action_import_products()
        template = self.template_of(product)
        self.assertEqual(template.type, "consu")
        by_sku = {
            v.gumroad_sku_id: v.product_template_attribute_value_ids.name
            for v in template.product_variant_ids
        }
        self.assertEqual(by_sku, {s["id"]: s["name"] for s in skus})

    def test_sku_enabled_product_has_one_variant_per_sku(self):
        product = self.product_named("Invoice Sync Plugin")
        self.sandbox.set_product(
            product["id"],
            kind="physical",
            skus=[
                VariantOption("sku-single", "Single seat", 0),
                VariantOption("sku-team", "Team (5 seats)", 7000, custom_sku="TEAM-5"),
            ],
        )
        self.addCleanup(self.sandbox.set_product, product["id"], kind="plugin", skus=[])
        self.account.action_import_products()
        template = self.template_of(product)
        by_sku = {
            v.gumroad_sku_id: (v.product_template_attribute_value_ids.name, v.lst_price)
            for v in template.product_variant_ids
        }
        self.assertEqual(
            by_sku,
            {
                "sku-single": ("Single seat", 49.0),
                "sku-team,TEAM-5": ("Team (5 seats)", 119.0),
            },
        )

    def test_offer_codes_are_kept_on_the_product(self):
        self.account.action_import_products()
        template = self.template_of(self.product_named("Invoice Sync Plugin"))
        self.assertEqual(template.gumroad_offer_codes, {"SAVE5": {"amount_cents": 500}})
        handbook = self.template_of(self.product_named("The Odoo Integration Handbook"))
        self.assertEqual(
            handbook.gumroad_offer_codes, {"LAUNCH20": {"percent_off": 20}}
        )
