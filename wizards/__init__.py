from . import gumroad_sale_import
