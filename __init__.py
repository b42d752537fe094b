# Odoo loads this addon as `odoo.addons.gumroad_connector`. Test tools that only want
# the plain-Python package `gumroad/` (pytest, run from the checkout) import this file
# under another name first; the Odoo layer must not load there.
if __name__.startswith("odoo.addons."):
    from . import controllers
    from . import models
    from . import wizards
