"""Invoice lines and taxes of a sale: product, shipping, tip, seller-collected tax as a
real tax, Gumroad-collected tax recorded and shown but booked nothing (issue #17 B).

The rules are Gumroad's (readme/GUMROAD_MONEY.md section 2, gumroad/lines.py):
`price` includes shipping, the tip and seller tax (purchase.rb:3856-3861, :3133) and
excludes Gumroad's tax (purchase.rb:537-548); only `buyer_presentment` tells the two
taxes apart (purchase.rb:3729-3745).
"""

from odoo.tests import tagged
from odoo.tools import format_amount

from ..gumroad_sandbox.records import VariantOption
from .common import GumroadCommon


def presentment(seller_tax=0, gumroad_tax=0):
    return {
        "currency": "cad",
        "price_cents": 1480,
        "total_cents": 1480 + gumroad_tax,
        "tip_cents": 0,
        "seller_tax_cents": seller_tax,
        "gumroad_tax_cents": gumroad_tax,
        "shipping_cents": 0,
        "fx_rate": "1.3665",
        "refunded_cents": 0,
    }


@tagged("post_install", "-at_install")
class TestSaleLines(GumroadCommon):
    sandbox_sales = 20

    def sale_payload(self, sale_id, price, refundable=None, **keys):
        """A plain USD sandbox sale made into the wanted kind (USD amounts)."""
        base = self.sandbox_sale(
            lambda s: (
                self.untouched(s)
                and s["formatted_total_price"].startswith("$")
                and not s["is_gift_sender_purchase"]
                and not s.get("subscription_id")
            )
        )
        payload = dict(self.sandbox.sale(base["id"]))
        for key in ("tax_cents", "tax_label", "tax_included_in_price", "tip_cents"):
            payload.pop(key, None)
        payload.pop("buyer_presentment", None)
        total = f"{price / 100:.2f}"
        payload.update(
            id=sale_id,
            price=price,
            gumroad_fee=round(price * 0.1),
            quantity=1,
            formatted_total_price=f"${total}",
            amount_refundable_in_currency=refundable or total,
            **{"shipping_cents": 0, **keys},
        )
        return payload

    def book(self, payload, account=None):
        self.env["gumroad.sale"]._book_payloads(account or self.account, [payload])
        return self.record(payload["id"], account)

    @staticmethod
    def amounts(move):
        return sorted(
            round(line.price_subtotal, 2)
            for line in move.invoice_line_ids
            if line.display_type == "product"
        )

    def test_shipping_and_tip_are_their_own_lines_summing_to_price(self):
        """price includes shipping and the tip (purchase.rb:3856-3861, :3133)."""
        record = self.book(
            self.sale_payload("U0hJUFRJUA", 3500, shipping_cents=500, tip_cents=300)
        )
        invoice = record.invoice_id
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(self.amounts(invoice), [3.0, 5.0, 27.0])
        self.assertEqual(invoice.amount_total, 35.0)
        self.assertEqual(invoice.amount_tax, 0.0)
        names = invoice.invoice_line_ids.mapped("name")
        self.assertIn("Shipping", names)
        self.assertIn("Tip", names)
        self.assertEqual((record.shipping_usd, record.tip_usd), (5.0, 3.0))

    def test_shipping_account_setting_is_used(self):
        shipping = self.company_data["default_account_revenue"].copy(
            {"name": "Shipping income", "code": "SHIP01"}
        )
        self.account.shipping_account_id = shipping
        record = self.book(self.sale_payload("U0hJUEFDQ1Q", 2000, shipping_cents=450))
        line = record.invoice_id.invoice_line_ids.filtered(
            lambda ln: ln.name == "Shipping"
        )
        self.assertEqual(line.account_id, shipping)
        self.assertEqual(line.price_subtotal, 4.5)

    def test_seller_tax_is_a_real_tax_on_a_tax_payable_account(self):
        """Seller tax is inside price (purchase.rb:3856), proven by
        buyer_presentment.seller_tax_cents (purchase.rb:3729-3745)."""
        record = self.book(
            self.sale_payload(
                "U0VMTEVSVEFY",
                1083,
                tax_cents=83,
                tax_label="GST",
                tax_included_in_price=False,
                buyer_presentment=presentment(seller_tax=113),
            )
        )
        invoice = record.invoice_id
        self.assertEqual(record.tax_collector, "seller")
        self.assertEqual(invoice.amount_total, 10.83, "the invoice is the price")
        self.assertEqual(invoice.amount_untaxed, 10.0)
        self.assertEqual(invoice.amount_tax, 0.83)
        tax_line = invoice.line_ids.filtered("tax_line_id")
        self.assertEqual(len(tax_line), 1)
        self.assertEqual(tax_line.credit, 0.83)
        self.assertEqual(tax_line.account_id.account_type, "liability_current")
        self.assertEqual(tax_line.account_id, self.account.seller_tax_account_id)
        self.assertEqual(tax_line.tax_line_id.type_tax_use, "sale")
        self.assertIn("GST", tax_line.tax_line_id.name)
        # What a tax report reads: the base line carries the tax, with its base.
        self.assertEqual(abs(tax_line.tax_base_amount), 10.0)
        base = invoice.invoice_line_ids.filtered("tax_ids")
        self.assertEqual(base.tax_ids, tax_line.tax_line_id)
        self.assertTrue(invoice.payment_state in ("paid", "in_payment"))

    def test_gumroad_tax_is_recorded_shown_and_books_nothing(self):
        """Gumroad tax is outside price and "NOT remitted to the seller"
        (purchase.rb:537-548)."""
        record = self.book(
            self.sale_payload(
                "R1VNUk9BRFRBWA",
                2900,
                tax_cents=580,
                tax_label="VAT",
                tax_included_in_price=False,
                buyer_presentment=presentment(gumroad_tax=792),
            )
        )
        invoice = record.invoice_id
        self.assertEqual(invoice.amount_total, 29.0)
        self.assertEqual(invoice.amount_tax, 0.0)
        self.assertFalse(invoice.line_ids.filtered("tax_line_id"))
        self.assertEqual(record.tax_collector, "gumroad")
        self.assertEqual(record.gumroad_tax_usd, 5.8)
        self.assertEqual(record.tax_label, "VAT")
        self.assertEqual(record.seller_tax_usd, 0.0)
        self.assertFalse(self.account.seller_tax_account_id)

    def test_usd_tax_without_presentment_is_treated_as_gumroads(self):
        """Without buyer_presentment the JSON cannot tell who collected the tax
        (web_csv_tax_cents, purchase.rb:3717-3719): recorded, booked nothing."""
        record = self.book(
            self.sale_payload(
                "VU5LTk9XTlRBWA", 2900, tax_cents=232, tax_label="Sales tax"
            )
        )
        self.assertEqual(record.tax_collector, "unknown")
        self.assertEqual(record.gumroad_tax_usd, 2.32)
        self.assertEqual(record.invoice_id.amount_total, 29.0)
        self.assertEqual(record.invoice_id.amount_tax, 0.0)

    def test_partial_refund_credit_note_is_split_in_proportion(self):
        """A partial refund of 10 of 35 (refundable "25"): each part in proportion,
        rounded to the cent, the remainder on the product line."""
        payload = self.sale_payload(
            "UEFSVElBTFNQTElU", 3500, shipping_cents=500, tip_cents=300
        )
        record = self.book(payload)
        record = self.book(
            dict(payload, partially_refunded=True, amount_refundable_in_currency="25")
        )
        credit_note = record.move_ids.filtered(lambda m: m.move_type == "out_refund")
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.amount_total, 10.0)
        self.assertEqual(self.amounts(credit_note), [0.86, 1.43, 7.71])

    def test_partial_refund_of_a_seller_tax_sale_gives_back_its_tax_share(self):
        payload = self.sale_payload(
            "UEFSVElBTFRBWA",
            2200,
            tax_cents=200,
            tax_label="GST",
            buyer_presentment=presentment(seller_tax=273),
        )
        self.book(payload)
        record = self.book(
            dict(payload, partially_refunded=True, amount_refundable_in_currency="11")
        )
        credit_note = record.move_ids.filtered(lambda m: m.move_type == "out_refund")
        self.assertEqual(credit_note.amount_total, 11.0)
        self.assertEqual(credit_note.amount_tax, 1.0)
        self.assertEqual(credit_note.line_ids.filtered("tax_line_id").debit, 1.0)

    def test_entries_mode_splits_the_income_side_the_same_way(self):
        self.account.accounting_mode = "entries"
        record = self.book(
            self.sale_payload(
                "RU5UUklFU1NQTElU",
                3883,
                shipping_cents=500,
                tip_cents=300,
                tax_cents=283,
                tax_label="GST",
                buyer_presentment=presentment(seller_tax=386),
            )
        )
        self.assertFalse(record.invoice_id)
        entry = record.balance_move_ids
        self.assertEqual(len(entry), 1)
        credits = {
            line.name.split(":")[0]: line.credit
            for line in entry.line_ids
            if line.credit
        }
        self.assertEqual(sum(credits.values()), 38.83)
        self.assertEqual(credits["Shipping"], 5.0)
        self.assertEqual(credits["Tip"], 3.0)
        tax = entry.line_ids.filtered(
            lambda ln: ln.account_id == self.account.seller_tax_account_id
        )
        self.assertEqual(tax.credit, 2.83)
        self.assertEqual(tax.account_id.account_type, "liability_current")

    def test_seller_tax_amount_is_gumroads_to_the_cent_whatever_the_rate(self):
        """1234.00 + 100.01 tax: the rate 8.10 % would give 99.95; the tax line is
        Gumroad's 100.01 and the invoice total the price, 1334.01."""
        record = self.book(
            self.sale_payload(
                "RVhBQ1RUQVg",
                133401,
                tax_cents=10001,
                tax_label="HST",
                buyer_presentment=presentment(seller_tax=13667),
            )
        )
        invoice = record.invoice_id
        self.assertEqual(invoice.amount_total, 1334.01)
        self.assertEqual(invoice.amount_tax, 100.01)
        self.assertEqual(invoice.line_ids.filtered("tax_line_id").credit, 100.01)
        self.assertIn("8.1%", invoice.line_ids.filtered("tax_line_id").tax_line_id.name)


@tagged("post_install", "-at_install")
class TestSaleVariantLines(GumroadCommon):
    """The invoice line's product is the product.product of the sale's variant or SKU
    (issue #18 section 1, gumroad/catalog.py); offer codes are named with their
    discount; amounts stay what was paid."""

    sandbox_sales = 20
    sale_payload = TestSaleLines.sale_payload
    book = TestSaleLines.book

    def plugin(self):
        return next(
            p for p in self.sandbox.products if p["name"] == "Invoice Sync Plugin"
        )

    def plugin_payload(self, sale_id, **keys):
        plugin = self.plugin()
        keys.setdefault("variants", None)
        keys.setdefault("offer_code", None)
        return self.sale_payload(
            sale_id,
            9900,
            product_id=plugin["id"],
            product_name=plugin["name"],
            product_permalink="invsync",
            **keys,
        )

    def product_line(self, record):
        return record.invoice_id.invoice_line_ids.filtered(
            lambda ln: ln.display_type == "product"
        )

    def template(self):
        return self.env["product.template"].search(
            [
                ("gumroad_account_id", "=", self.account.id),
                ("gumroad_product_id", "=", self.plugin()["id"]),
            ]
        )

    def test_line_product_is_the_variant_of_the_sale(self):
        self.account.action_import_products()
        record = self.book(
            self.plugin_payload(
                "VkFSSUFOVDE", variants={"License type": "Team (5 seats)"}
            )
        )
        line = self.product_line(record)
        self.assertEqual(len(self.template().product_variant_ids), 2)
        self.assertEqual(line.product_id.product_tmpl_id, self.template())
        self.assertEqual(
            line.product_id.product_template_attribute_value_ids.name, "Team (5 seats)"
        )
        self.assertEqual(
            line.name, "Invoice Sync Plugin (License type: Team (5 seats))"
        )
        self.assertEqual(record.invoice_id.amount_total, 99.0)

    def test_unknown_variant_falls_back_to_the_default_variant_named_in_the_label(
        self,
    ):
        self.account.action_import_products()
        record = self.book(
            self.plugin_payload("VkFSSUFOVDI", variants={"License type": "Enterprise"})
        )
        line = self.product_line(record)
        self.assertEqual(line.product_id, self.template().product_variant_id)
        self.assertIn("License type: Enterprise", line.name)

    def test_sku_id_picks_the_variant_when_the_names_do_not(self):
        plugin = self.plugin()
        self.sandbox.set_product(plugin["id"], kind="physical")
        self.addCleanup(self.sandbox.set_product, plugin["id"], kind="plugin")
        self.account.action_import_products()
        team = self.account._gumroad_client().list_skus(plugin["id"])[1]
        record = self.book(
            self.plugin_payload(
                "U0tVU0FMRTE",
                variants={"Size": "renamed since"},
                sku_id=team["id"],
                sku_external_id=team["id"],
            )
        )
        line = self.product_line(record)
        self.assertEqual(line.product_id.gumroad_sku_id, team["id"])
        self.assertEqual(
            line.product_id.product_template_attribute_value_ids.name, "Team (5 seats)"
        )

    def test_custom_sku_of_a_sku_enabled_product_picks_its_variant(self):
        plugin = self.plugin()
        self.sandbox.set_product(
            plugin["id"],
            kind="physical",
            skus=[
                VariantOption("sku-single", "Single seat", 0),
                VariantOption("sku-team", "Team (5 seats)", 5000, custom_sku="TEAM-5"),
            ],
        )
        self.addCleanup(self.sandbox.set_product, plugin["id"], kind="plugin", skus=[])
        self.account.action_import_products()
        record = self.book(
            self.plugin_payload(
                "Q1VTVE9NU0s",
                variants={"License type": "Team (5 seats)"},
                sku_id="TEAM-5",
            )
        )
        line = self.product_line(record)
        self.assertEqual(line.product_id.gumroad_sku_id, "sku-team,TEAM-5")
        self.assertEqual(record.invoice_id.amount_total, 99.0)

    def test_offer_code_discount_comes_from_the_product_offer_codes(self):
        self.account.action_import_products()
        record = self.book(
            self.plugin_payload(
                "T0ZGRVJDT0Q",
                offer_code={"code": "SAVE5", "name": "SAVE5"},
            )
        )
        discount = format_amount(self.env, 5.0, self.usd)
        self.assertEqual(
            self.product_line(record).name,
            f"Invoice Sync Plugin (offer code SAVE5: {discount} off)",
        )
        self.assertEqual(record.offer_code, "SAVE5")
        self.assertEqual(record.invoice_id.amount_total, 99.0)

    def test_offer_code_discount_of_the_sale_json_when_the_product_is_unknown(self):
        record = self.book(
            self.plugin_payload(
                "T0ZGRVJKU04",
                offer_code={"code": "SAVE5", "displayed_amount_off": "$5", "name": "x"},
            )
        )
        self.assertEqual(
            self.product_line(record).name,
            "Invoice Sync Plugin (offer code SAVE5: $5 off)",
        )
        self.assertEqual(record.invoice_id.amount_total, 99.0)
