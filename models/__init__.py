from . import gumroad_account
from . import gumroad_sale
from . import gumroad_subscription
from . import gumroad_webhook_event
from . import account_move
from . import product_template
from . import res_config_settings
from . import res_partner
