from unittest.mock import patch

from odoo.tests import tagged

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

    def test_variants_become_attributes_with_price_differences(self):
        product = next(p for p in self.sandbox.products if p.get("variants"))
        self.account.action_import_products()
        template = self.templates().filtered(
            lambda t: t.gumroad_product_id == product["id"]
        )
        category = product["variants"][0]
        line = template.attribute_line_ids.filtered(
            lambda ln: ln.attribute_id.name == category["title"]
        )
        self.assertEqual(
            sorted(line.value_ids.mapped("name")),
            sorted(o["name"] for o in category["options"]),
        )
        for option in category["options"]:
            ptav = line.product_template_value_ids.filtered(
                lambda v, o=option: v.name == o["name"]
            )
            self.assertAlmostEqual(
                ptav.price_extra, (option["price_difference"] or 0) / 100
            )
