from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    gumroad_account_count = fields.Integer(compute="_compute_gumroad_account_count")

    def _compute_gumroad_account_count(self):
        count = self.env["gumroad.account"].search_count([])
        for settings in self:
            settings.gumroad_account_count = count

    def action_open_gumroad_accounts(self):
        return self.env["ir.actions.act_window"]._for_xml_id(
            "gumroad_connector.gumroad_account_action"
        )

    def action_new_gumroad_account(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": "gumroad.account",
            "view_mode": "form",
            "target": "current",
        }
