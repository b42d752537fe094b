"""Pure-Python core of gumroad_connector: Gumroad API v2 client, parsers, mapping.

Never imports odoo. The sandbox server (`gumroad_sandbox`) is a separate import.
"""

__version__ = "19.0.1.3.0"

from .accounting import (
    Adjustment,
    SaleTarget,
    date_windows,
    plan_adjustments,
    sale_target,
)
from .client import DEFAULT_BASE_URL, GumroadClient
from .errors import (
    AuthenticationError,
    GumroadConnectionError,
    GumroadError,
    InvalidRequestError,
    MalformedPayloadError,
    MissingScopeError,
    NotFoundError,
    QueryTimeoutError,
    RateLimitError,
    SaleNotFoundError,
    ServerError,
)
from .money import cents_to_decimal, parse_amount
from .pings import PING_RESOURCES, Ping, decode_form, nest_form, parse_ping
from .sales import Sale, parse_sale
from .summary import SalesSummary, SummaryFigures, parse_sales_summary

__all__ = [
    "DEFAULT_BASE_URL",
    "PING_RESOURCES",
    "Adjustment",
    "AuthenticationError",
    "GumroadClient",
    "GumroadConnectionError",
    "GumroadError",
    "InvalidRequestError",
    "MalformedPayloadError",
    "MissingScopeError",
    "NotFoundError",
    "Ping",
    "QueryTimeoutError",
    "RateLimitError",
    "Sale",
    "SaleNotFoundError",
    "SaleTarget",
    "SalesSummary",
    "ServerError",
    "SummaryFigures",
    "__version__",
    "cents_to_decimal",
    "date_windows",
    "decode_form",
    "nest_form",
    "parse_amount",
    "parse_ping",
    "parse_sale",
    "parse_sales_summary",
    "plan_adjustments",
    "sale_target",
]
