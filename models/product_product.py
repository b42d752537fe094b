from odoo import fields, models


class ProductProduct(models.Model):
    _inherit = "product.product"

    gumroad_sku_id = fields.Char(
        string="Gumroad SKU",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The ids a Gumroad sale's sku_id can carry for this variant (the SKU's "
        "external id and custom SKU, comma separated).",
    )
