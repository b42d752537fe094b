from . import test_gumroad_account
from . import test_product_import
from . import test_sale_import
from . import test_webhook
from . import test_realtime_sync
from . import test_background_import
from . import test_security
