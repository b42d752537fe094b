import logging

from odoo import api, fields, models
from odoo.fields import Command
from odoo.tools import format_amount, mute_logger

from ..gumroad.catalog import catalogue_from_product

_logger = logging.getLogger(__name__)


class ProductTemplate(models.Model):
    _inherit = "product.template"

    gumroad_account_id = fields.Many2one(
        "gumroad.account",
        string="Gumroad connector",
        index=True,
        copy=False,
        readonly=True,
    )
    gumroad_product_id = fields.Char(
        string="Gumroad product id", copy=False, readonly=True
    )
    gumroad_currency = fields.Char(
        string="Gumroad currency",
        copy=False,
        readonly=True,
        help="The currency the product is listed in on Gumroad (lowercase ISO code).",
    )
    gumroad_price = fields.Float(
        string="Gumroad price",
        copy=False,
        readonly=True,
        digits=(16, 2),
        help="The price on Gumroad, in the Gumroad currency.",
    )
    gumroad_published = fields.Boolean(copy=False, readonly=True)
    gumroad_deleted = fields.Boolean(copy=False, readonly=True)
    gumroad_url = fields.Char(string="Gumroad URL", copy=False, readonly=True)
    gumroad_permalink = fields.Char(copy=False, readonly=True)
    gumroad_offer_codes = fields.Json(
        string="Gumroad offer codes",
        copy=False,
        readonly=True,
        help="The product's offer codes (and the universal ones) as Gumroad lists "
        'them: {code: {"percent_off": n} or {"amount_cents": n}}.',
    )
    gumroad_sale_ids = fields.One2many(
        "gumroad.sale", "product_tmpl_id", string="Gumroad sales"
    )

    _gumroad_product_account_uniq = models.Constraint(
        "UNIQUE(gumroad_account_id, gumroad_product_id)",
        "A Gumroad product maps to one product per connector.",
    )

    def action_open_on_gumroad(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": self.gumroad_url, "target": "new"}

    # === BUSINESS METHODS === #

    @api.model
    def _gumroad_price_in_company_currency(self, account, currency_code, price_minor):
        """Gumroad gives product prices in minor units of the product's own currency."""
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", (currency_code or "usd").upper())], limit=1)
        )
        if not currency:
            return None, None
        listed = (price_minor or 0) / (10**currency.decimal_places)
        company = account.company_id
        if currency == company.currency_id:
            return listed, listed
        converted = currency._convert(
            listed, company.currency_id, company, fields.Date.context_today(self)
        )
        return listed, converted

    @api.model
    def _gumroad_product_vals(self, account, product):
        listed, converted = self._gumroad_price_in_company_currency(
            account, product.get("currency"), product.get("price")
        )
        published = bool(product.get("published")) and not product.get("deleted")
        vals = {
            "name": product.get("name") or product.get("id"),
            "description": product.get("description") or False,
            "type": "consu" if product.get("require_shipping") else "service",
            "active": published,
            "sale_ok": True,
            "gumroad_account_id": account.id,
            "gumroad_product_id": product["id"],
            "gumroad_currency": (product.get("currency") or "usd").lower(),
            "gumroad_price": listed or 0.0,
            "gumroad_published": bool(product.get("published")),
            "gumroad_deleted": bool(product.get("deleted")),
            "gumroad_url": product.get("short_url") or False,
            "gumroad_permalink": product.get("custom_permalink") or False,
        }
        if converted is not None:
            vals["list_price"] = converted
        return vals

    def _gumroad_changed_vals(self, vals):
        """Only the values that differ, so a re-import of an unchanged product writes
        nothing.
        """
        self.ensure_one()
        changed = {}
        for name, value in vals.items():
            current = self[name]
            if isinstance(current, models.BaseModel):
                current = current.id
            if self._fields[name].type == "html":
                current = str(current or "") or False
                value = str(value or "") or False
                if current and value and current.strip() == str(value).strip():
                    continue
                # The HTML sanitizer may rewrite the markup: compare what it would
                # store.
                if value and current == self._fields[name].convert_to_cache(
                    value, self
                ):
                    continue
            if self._fields[name].type == "float":
                if round(current or 0.0, 2) == round(value or 0.0, 2):
                    continue
            elif current == value or (not current and not value):
                continue
            changed[name] = value
        return changed

    @api.model
    def _gumroad_sync_products(self, account, products, catalogues=None):
        """Create or update one template per Gumroad product; archive the ones that
        vanished.

        `catalogues` ({product id: gumroad.catalog.Catalogue}) are the variants, SKUs
        and offer codes read from the product routes; without one, the variants the
        product JSON shows are used and the offer codes are left as they were.

        :return: dict of counts created, updated, unchanged, archived
        """
        counts = {"created": 0, "updated": 0, "unchanged": 0, "archived": 0}
        existing = {
            t.gumroad_product_id: t
            for t in self.with_context(active_test=False).search(
                [("gumroad_account_id", "=", account.id)]
            )
        }
        seen = set()
        to_create = []
        for product in products:
            if not product.get("id"):
                continue
            seen.add(product["id"])
            vals = self._gumroad_product_vals(account, product)
            catalogue = (catalogues or {}).get(product["id"])
            if catalogue is None:
                catalogue = catalogue_from_product(product)
            offer_codes = catalogue.offer_codes_dict()
            if offer_codes is not None:
                vals["gumroad_offer_codes"] = offer_codes
            template = existing.get(product["id"])
            if not template:
                to_create.append((vals, catalogue))
                continue
            changed = template._gumroad_changed_vals(vals)
            if changed:
                template.write(changed)
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
            template._gumroad_sync_variants(catalogue)
        if to_create:
            templates = self.create(
                [{**vals, "taxes_id": [Command.clear()]} for vals, _c in to_create]
            )
            for template, (_vals, catalogue) in zip(templates, to_create, strict=True):
                template._gumroad_sync_variants(catalogue)
            if account.income_account_id:
                templates.with_company(
                    account.company_id
                ).property_account_income_id = account.income_account_id
            counts["created"] = len(templates)
        vanished = [t for pid, t in existing.items() if pid not in seen and t.active]
        if vanished:
            self.browse([t.id for t in vanished]).write(
                {"active": False, "gumroad_deleted": True}
            )
            counts["archived"] = len(vanished)
        return counts

    def _gumroad_sync_variants(self, catalogue):
        """Gumroad variant categories (or SKUs) -> attributes that create variants,
        so the template has one product.product per Gumroad variant (combination) or
        SKU, each with its price difference as price extra (gumroad/catalog.py).

        Attributes are shared by name; values are added, never duplicated. An
        attribute line of an older import (a "no_variant" attribute of the same
        name) is replaced.
        """
        self.ensure_one()
        attributes = catalogue.attributes()
        if not attributes:
            return
        attribute_model = self.env["product.attribute"]
        currency_digits = 10 ** (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", (self.gumroad_currency or "usd").upper())], limit=1)
            .decimal_places
            or 0
        )
        titles = {a.title for a in attributes}
        stale = self.attribute_line_ids.filtered(
            lambda ln: (
                ln.attribute_id.name in titles
                and ln.attribute_id.create_variant != "always"
            )
        )
        if stale:
            stale.unlink()
        sku_ids = {}
        for wanted_attribute in attributes:
            title = wanted_attribute.title
            options = wanted_attribute.options
            attribute = attribute_model.search(
                [("name", "=", title), ("create_variant", "=", "always")], limit=1
            ) or attribute_model.create({"name": title, "create_variant": "always"})
            values = {v.name: v for v in attribute.value_ids}
            missing = list(
                dict.fromkeys(o.name for o in options if o.name not in values)
            )
            if missing:
                created = self.env["product.attribute.value"].create(
                    [{"name": name, "attribute_id": attribute.id} for name in missing]
                )
                values.update({v.name: v for v in created})
            wanted = {values[o.name].id for o in options}
            line = self.attribute_line_ids.filtered(
                lambda ln, a=attribute: ln.attribute_id == a
            )
            if not line:
                self.attribute_line_ids = [
                    Command.create(
                        {
                            "attribute_id": attribute.id,
                            "value_ids": [Command.set(sorted(wanted))],
                        }
                    )
                ]
                line = self.attribute_line_ids.filtered(
                    lambda ln, a=attribute: ln.attribute_id == a
                )
            elif set(line.value_ids.ids) != wanted:
                line.value_ids = [Command.set(sorted(wanted))]
            for option in options:
                ptav = line.product_template_value_ids.filtered(
                    lambda v, n=option.name: v.name == n
                )[:1]
                extra = option.price_difference_cents / currency_digits
                if ptav and round(ptav.price_extra, 2) != round(extra, 2):
                    ptav.price_extra = extra
                if option.sku_ids and ptav:
                    sku_ids[ptav] = ",".join(option.sku_ids)
        if catalogue.from_routes:
            for variant in self.product_variant_ids:
                ptav = variant.product_template_attribute_value_ids[:1]
                value = len(attributes) == 1 and sku_ids.get(ptav) or False
                if variant.gumroad_sku_id != value:
                    variant.gumroad_sku_id = value

    def _gumroad_variant_for_sale(self, sale):
        """The product.product of a sale's variant: its SKU id (`sku_external_id`,
        `sku_id`), else its `variants` names; the default variant when none
        matches (the label then carries the variant text).
        """
        self.ensure_one()
        variants = self.product_variant_ids
        for key in (sale.sku_external_id, sale.sku_id):
            if not key:
                continue
            match = variants.filtered(
                lambda p, k=key: k in (p.gumroad_sku_id or "").split(",")
            )
            if len(match) == 1:
                return match
        if sale.variants and len(variants) > 1:
            wanted = set(sale.variants.items())
            for variant in variants:
                names = {
                    (ptav.attribute_id.name, ptav.name)
                    for ptav in variant.product_template_attribute_value_ids
                }
                if names == wanted:
                    return variant
        return self.product_variant_id

    def _gumroad_offer_discount(self, code):
        """ "20%" or the formatted amount of an offer code the product's
        GET /products/:id/offer_codes listed, else None."""
        self.ensure_one()
        offer = (self.gumroad_offer_codes or {}).get(code)
        if not isinstance(offer, dict):
            return None
        if offer.get("percent_off") is not None:
            return f"{offer['percent_off']}%"
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", (self.gumroad_currency or "usd").upper())], limit=1)
        )
        if not currency or offer.get("amount_cents") is None:
            return None
        amount = offer["amount_cents"] / 10**currency.decimal_places
        return format_amount(self.env, amount, currency)

    @api.model
    def _gumroad_templates_for_sales(self, account, sales):
        """Map the sales' Gumroad product ids to templates, creating the missing
        ones.
        """
        wanted = {sale.product_id: sale for sale in sales if sale.product_id}
        if not wanted:
            return {}
        found = {
            t.gumroad_product_id: t
            for t in self.with_context(active_test=False).search(
                [
                    ("gumroad_account_id", "=", account.id),
                    ("gumroad_product_id", "in", list(wanted)),
                ]
            )
        }
        missing = [pid for pid in wanted if pid not in found]
        if missing:
            # Two workers whose first sales are of the same new product both create
            # it: the second's unique violation makes its batch retry, which finds
            # the product (the import logs the conflict); Odoo would also log the
            # violated INSERT as an error.
            with mute_logger("odoo.sql_db"):
                created = self.create(
                    [
                        {
                            "name": wanted[pid].product_name or pid,
                            "type": "service",
                            "sale_ok": True,
                            "taxes_id": [Command.clear()],
                            "gumroad_account_id": account.id,
                            "gumroad_product_id": pid,
                            "gumroad_currency": wanted[pid].listed_currency or False,
                            "gumroad_published": True,
                        }
                        for pid in missing
                    ]
                )
            found.update({t.gumroad_product_id: t for t in created})
        return found
