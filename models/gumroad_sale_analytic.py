from odoo import api, models

# Accounts whose lines carry an analytic distribution: income and expenses. The
# Gumroad balance, receivables and taxes are balance-sheet lines, never analysed.
ANALYSED_GROUPS = ("income", "expense")


class GumroadSaleAnalytic(models.AbstractModel):
    """The analytic distribution of a sale's moves: the one Odoo's analytic
    distribution models give the sale's product (Accounting > Configuration >
    Analytic Distribution Models), else the connector's default. It goes on every
    income and expense line the sale books (the invoice's product, shipping and tip
    lines, Gumroad's fee, the affiliate commission, the processor fees), so a
    product's margin reads in analytic reports. Mixed into `gumroad.sale`.
    """

    _name = "gumroad.sale.analytic"
    _description = "Gumroad Sale Analytic Distribution"

    @api.model
    def _sale_analytic_distribution(self, account, sale, context):
        cache = context.setdefault("analytic_by_product", {})
        template = context["products"].get(sale.product_id)
        product = (
            template.product_variant_id if template else self.env["product.product"]
        )
        if product.id not in cache:
            found = self.env["account.analytic.distribution.model"]._get_distribution(
                {
                    "product_id": product.id,
                    "product_categ_id": product.categ_id.id,
                    "company_id": account.company_id.id,
                }
            )
            cache[product.id] = found or account.analytic_distribution or {}
        return cache[product.id]

    @api.model
    def _has_distribution_models(self, account, context):
        """Whether an analytic distribution model may apply to the connector's
        company (asked once per batch)."""
        if "has_distribution_models" not in context:
            context["has_distribution_models"] = bool(
                self.env["account.analytic.distribution.model"].search_count(
                    [("company_id", "in", [False, account.company_id.id])], limit=1
                )
            )
        return context["has_distribution_models"]

    @api.model
    def _with_analytic(self, account, sale, vals, context):
        """vals of a move with the sale's distribution on its income and expense
        lines that have none yet."""
        distribution = self._sale_analytic_distribution(account, sale, context)
        # With no analytic distribution model in the company, no line can get a
        # distribution from one: say so in the values, so that Odoo does not search
        # the models for each line it creates (a search per line, about 5 % of an
        # import's time).
        settled = not self._has_distribution_models(account, context)
        if not distribution and not settled:
            return vals
        groups = context.setdefault("account_groups", {})
        for key in ("invoice_line_ids", "line_ids"):
            for command in vals.get(key, ()):
                line = command[2]
                if line.get("analytic_distribution") or line.get("display_type"):
                    continue
                if settled:
                    line["analytic_distribution"] = False
                if not distribution:
                    continue
                account_id = line.get("account_id")
                if account_id:
                    if account_id not in groups:
                        groups[account_id] = (
                            self.env["account.account"]
                            .browse(account_id)
                            .internal_group
                        )
                    if groups[account_id] not in ANALYSED_GROUPS:
                        continue
                elif key != "invoice_line_ids":
                    continue
                # An invoice line without an account takes the product's income
                # account: an income line.
                line["analytic_distribution"] = distribution
        return vals
