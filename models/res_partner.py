from odoo import api, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _gumroad_partners_for_sales(
        self, account, sales, countries_by_code, countries_by_name
    ):
        """Map buyer emails (lowercase) to partners: match by email, else create the
        buyer.

        Only paid sales create partners; $0 rows are matched but never create one.
        """
        emails = {(sale.email or "").strip().lower() for sale in sales} - {""}
        if not emails:
            return {}
        found = {}
        company_ids = [False, account.company_id.id]
        for partner in self.search(
            [
                ("email_normalized", "in", list(emails)),
                ("company_id", "in", company_ids),
            ],
            order="id",
        ):
            found.setdefault(partner.email_normalized, partner)
        to_create = {}
        for sale in sales:
            email = (sale.email or "").strip().lower()
            if not email or email in found or email in to_create or not sale.paid:
                continue
            country = None
            if sale.country_iso2:
                country = countries_by_code.get(sale.country_iso2.upper())
            if not country and sale.country:
                country = countries_by_name.get(sale.country.lower())
            to_create[email] = {
                "name": sale.full_name or sale.email,
                "email": sale.email.strip(),
                "country_id": country.id if country else False,
                "customer_rank": 1,
            }
        if to_create:
            created = self.create(list(to_create.values()))
            found.update(zip(to_create, created, strict=True))
        return found
