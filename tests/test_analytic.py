from odoo.tests import tagged

from .common import GumroadCommon


@tagged("post_install", "-at_install")
class TestAnalytic(GumroadCommon):
    """A sale's income and expense lines carry its analytic distribution: the one
    Odoo's distribution models give its product, else the connector's default."""

    def setUp(self):
        super().setUp()
        self.env.user.group_ids += self.env.ref("analytic.group_analytic_accounting")
        plan = self.env["account.analytic.plan"].create({"name": "Channels"})
        self.shop = self.env["account.analytic.account"].create(
            {"name": "Gumroad shop", "plan_id": plan.id}
        )
        self.course = self.env["account.analytic.account"].create(
            {"name": "Course", "plan_id": plan.id}
        )
        self.account.analytic_distribution = {str(self.shop.id): 100}

    def analysed(self, record):
        """{account type: {analytic account id: amount}} of the sale's posted lines."""
        result = {}
        moves = (record.move_ids | record.balance_move_ids).filtered(
            lambda m: m.state == "posted"
        )
        for line in moves.line_ids:
            group = result.setdefault(line.account_id.internal_group, set())
            group.update((line.analytic_distribution or {}).keys())
        return result

    def test_income_and_expense_lines_carry_the_product_or_connector_distribution(self):
        self.account.action_import_products()
        sales = [
            s
            for s in self.sandbox.sales
            if self.untouched(s)
            and "affiliate" not in s
            and "payment_processor" not in s
            and s["gumroad_fee"] > 0
        ]
        course_product = sales[0]["product_id"]
        template = self.env["product.template"].search(
            [("gumroad_product_id", "=", course_product)]
        )
        self.env["account.analytic.distribution.model"].create(
            {
                "product_id": template.product_variant_id.id,
                "analytic_distribution": {str(self.course.id): 100},
                "company_id": self.company.id,
            }
        )
        self.import_all()
        other = next(s for s in sales if s["product_id"] != course_product)
        for sale, expected in ((sales[0], self.course), (other, self.shop)):
            record = self.record(sale["id"])
            analysed = self.analysed(record)
            self.assertEqual(analysed["income"], {str(expected.id)}, sale["id"])
            self.assertEqual(analysed["expense"], {str(expected.id)}, "Gumroad's fee")
            self.assertEqual(analysed["asset"], set(), "balance and receivable lines")
            fee = sum(
                line.amount
                for line in self.env["account.analytic.line"].search(
                    [
                        ("auto_account_id", "=", expected.id),
                        ("move_line_id.move_id", "in", record.balance_move_ids.ids),
                    ]
                )
            )
            self.assertAlmostEqual(fee, -sale["gumroad_fee"] / 100, places=2)

    def _plain_sale(self):
        return next(
            s
            for s in self.sandbox.sales
            if self.untouched(s)
            and "affiliate" not in s
            and "payment_processor" not in s
            and s["gumroad_fee"] > 0
        )

    def test_without_distribution_models_the_connector_default_alone_applies(self):
        self.assertFalse(
            self.env["account.analytic.distribution.model"].search_count(
                [("company_id", "in", [False, self.company.id])]
            )
        )
        sale = self._plain_sale()
        self.import_all()
        analysed = self.analysed(self.record(sale["id"]))
        self.assertEqual(analysed["income"], {str(self.shop.id)})
        self.assertEqual(analysed["expense"], {str(self.shop.id)}, "Gumroad's fee")
        self.assertEqual(analysed["asset"], set(), "balance and receivable lines")

    def test_a_distribution_model_by_account_still_applies_to_the_lines_odoo_fills(
        self,
    ):
        """A model on an account prefix (not on the product) is Odoo's own rule: the
        lines the connector leaves without distribution still get it from Odoo."""
        self.account.analytic_distribution = False
        fee_account = self.account._fee_account()
        self.env["account.analytic.distribution.model"].create(
            {
                "account_prefix": fee_account.code,
                "analytic_distribution": {str(self.course.id): 100},
                "company_id": self.company.id,
            }
        )
        sale = self._plain_sale()
        self.import_all()
        record = self.record(sale["id"])
        fee_lines = record.balance_move_ids.line_ids.filtered(
            lambda line: line.account_id == fee_account
        )
        self.assertTrue(fee_lines)
        self.assertEqual(
            fee_lines.mapped("analytic_distribution"), [{str(self.course.id): 100}]
        )
        analysed = self.analysed(record)
        self.assertEqual(analysed["income"], set(), "no model for the income account")
