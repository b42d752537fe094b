"""The sandbox's records: the seller's products, sales, subscriptions, payouts.

These are the sandbox's own truth. `shapes.py` turns them into Gumroad's JSON and
`pings.py` into Gumroad's ping payloads; nothing here knows about HTTP.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from . import ledger
from .currency import Currency, listed_to_usd_cents, round_half_up, usd_cents_to_listed
from .ids import order_id_for

# Resource names a resource subscription may use (app/models/resource_subscription.rb).
RESOURCE_NAMES = (
    "sale",
    "cancellation",
    "subscription_ended",
    "subscription_restarted",
    "subscription_updated",
    "refund",
    "dispute",
    "dispute_won",
)
SALE_RESOURCES = ("sale", "refund", "dispute", "dispute_won")
SUBSCRIPTION_RESOURCES = (
    "cancellation",
    "subscription_ended",
    "subscription_restarted",
    "subscription_updated",
)

RECURRENCE_SUFFIX = {
    "monthly": " a month",
    "quarterly": " every 3 months",
    "biannually": " every 6 months",
    "yearly": " a year",
    "every_two_years": " every 2 years",
}
RECURRENCE_MONTHS = {
    "monthly": 1,
    "quarterly": 3,
    "biannually": 6,
    "yearly": 12,
    "every_two_years": 24,
}


@dataclass(eq=False)
class Seller:
    name: str
    email: str
    external_id: str  # numeric string, GET /user "id"
    user_id: str  # base64, equals every sale's seller_id
    subdomain: str
    bio: str = "Templates and tools for small finance teams."
    # Gumroad's default seller timezone, "Pacific Time (US & Canada)".
    timezone: str = "America/Los_Angeles"
    currency_type: str = "usd"  # the account currency, lower case (User#currency_type)
    payouts_paused: bool = False  # User::Risk#payouts_status "paused" / "payable"

    @property
    def url(self):
        return f"https://{self.subdomain}.gumroad.com"


@dataclass(eq=False)
class OfferCode:
    code: str
    percent_off: int | None = None
    amount_cents: int | None = None  # listed minor units, when not a percentage
    id: str | None = None  # set from the product and code (ids.derived_id)
    max_purchase_count: int | None = None
    minimum_amount_cents: int | None = None
    universal: bool = False
    deleted: bool = False

    def discount(self, listed_total):
        if self.percent_off is not None:
            return round_half_up(listed_total * self.percent_off / 100)
        return min(self.amount_cents or 0, listed_total)


@dataclass(eq=False)
class VariantOption:
    id: str
    name: str
    price_difference: int = 0  # listed minor units per unit
    recurrence_prices: dict | None = None  # tiers: {"monthly": 1000, "yearly": 10000}
    description: str | None = None
    max_purchase_count: int | None = None
    deleted: bool = False


@dataclass(eq=False)
class VariantCategory:
    """A product's variant category; the first one shares the product's options."""

    id: str
    title: str | None
    options: list = field(default_factory=list)
    deleted: bool = False


@dataclass(eq=False)
class CustomFieldSpec:
    id: str
    name: str
    type: str = "text"  # text checkbox terms long_text file
    required: bool = False


@dataclass(eq=False)
class Product:
    key: int
    id: str
    name: str
    unique_permalink: str
    currency: Currency
    price: int  # listed minor units (product "price")
    created_at: datetime
    custom_permalink: str | None = None
    kind: str = "digital"
    published: bool = True
    deleted: bool = False
    description: str = "<p>Everything you need.</p>"
    tags: list = field(default_factory=list)
    variant_title: str | None = None
    variant_options: list = field(default_factory=list)
    is_tiered_membership: bool = False
    recurrences: list | None = None
    subscription_duration: str | None = None
    licensed: bool = False
    custom_fields: list = field(default_factory=list)
    customizable_price: bool = False
    file_info: dict = field(default_factory=dict)
    thumbnail_url: str | None = None
    reviews_count: int | None = None
    average_rating: float | None = None
    offer_codes: list = field(default_factory=list)
    variant_categories: list = field(default_factory=list)
    weight: float = 1.0
    sales_window: tuple = (0.0, 1.0)  # share of the demo date range it sold in
    max_purchase_count: int | None = None

    @property
    def general_permalink(self):
        return self.custom_permalink or self.unique_permalink

    def long_url(self, seller):
        return f"{seller.url}/l/{self.general_permalink}"

    def option(self, name):
        for option in self.variant_options:
            if option.name == name:
                return option
        raise ValueError(f"Product {self.name!r} has no option {name!r}.")

    def unit_price(self, option=None, recurrence=None):
        """Listed minor units for one unit: tier price, or base plus difference."""
        if option is not None and option.recurrence_prices:
            return option.recurrence_prices[recurrence or self.subscription_duration]
        return self.price + (option.price_difference if option else 0)


@dataclass(eq=False)
class License:
    serial: str
    id: str
    uses: int = 0
    disabled: bool = False
    multiseat: bool = False


@dataclass(eq=False)
class Sale:
    """One purchase row. `listed` rows are what GET /sales returns."""

    key: int
    id: str
    created_at: datetime  # aware UTC, with microseconds (page keys use them)
    product: Product
    currency: Currency  # listed currency at the time of the sale
    email: str  # checkout email
    price: int  # USD cents
    listed_total: int  # listed minor units, rebuilt from price like Gumroad does
    fee: int = 0  # USD cents
    quantity: int = 1
    account_email: str | None = None  # buyer's Gumroad account email, if different
    purchaser_id: str | None = None
    full_name: str | None = None
    country: str | None = None
    country_iso2: str | None = None
    state: str | None = None
    zip_code: str | None = None
    variants: dict = field(default_factory=dict)
    variants_price_cents: int = 0
    recurrence: str | None = None
    offer_code: OfferCode | None = None
    custom_fields: dict = field(default_factory=dict)
    tax_cents: int = 0
    tax_label: str | None = None
    # The seller collected tax_cents (inside price), not Gumroad (outside it).
    seller_tax: bool = False
    # Each refund's listed minor units, in order (G3 splits every refund on its own).
    refunds: list = field(default_factory=list)
    # How many of `refunds` came before the dispute (None: never disputed).
    refunds_before_dispute: int | None = None
    disputed: bool = False
    dispute_won: bool = False
    gift_role: str | None = None  # "sender" | "receiver"
    gift_peer: "Sale | None" = None
    giftee_email: str | None = None
    gifter_email: str | None = None
    subscription: "Subscription | None" = None
    recurring_charge: bool = False
    license: License | None = None
    card_visual: str | None = None
    card_type: str | None = None
    referrer: str = "direct"
    url_params: dict = field(default_factory=dict)
    affiliate_email: str | None = None
    affiliate_credit_cents: int = 0
    can_contact: bool = True
    is_following: bool = False
    product_rating: int | None = None
    listed: bool = True
    test: bool = False
    ip_country: str | None = None
    shipment: dict | None = None  # {"shipped": bool, "tracking_url": str | None}
    # Optional keys of Purchase#as_json(version: 2) that move no money here: a tip is
    # part of `price` already, the rest describes the sale (demo.decorate_sales).
    tip_cents: int | None = None  # USD cents, inside price
    utm_term: str | None = None
    utm_content: str | None = None
    review: str | None = None  # the product review's message, with product_rating
    upsell: dict | None = None  # UpsellPurchase#as_json
    ppp_discount: int | None = None  # purchasing power parity discount, percent
    presentment: bool = False  # charged in the buyer's (listed) currency
    # Paid into the seller's own account: "paypal" | "stripe_connect" (None: Gumroad's
    # own account). Only then the JSON carries the processor_* keys (purchase.rb).
    payment_processor: str | None = None
    processor_transaction_id: str | None = None
    processor_fee_cents: int | None = None  # the processor's own fee
    processor_fee_currency: str | None = None
    # Physical products: shipping inside price (USD cents) and the address.
    shipping_cents: int = 0
    street_address: str | None = None
    city: str | None = None
    # Pre-orders (app/models/preorder.rb): the authorization charges nothing and is not
    # listed; its release is a new sale pointing at the same Preorder.
    preorder: "Preorder | None" = None
    is_preorder_authorization: bool = False

    @property
    def refunded_listed(self):
        """Listed minor units refunded so far."""
        return sum(self.refunds)

    @property
    def refund_count(self):
        return len(self.refunds)

    @property
    def gumroad_tax_cents(self):
        """Tax Gumroad collected: outside price, never the seller's (G8)."""
        return 0 if self.seller_tax or not self.tax_label else self.tax_cents

    @property
    def direct(self):
        """Paid into the seller's own PayPal or Stripe account (G6)."""
        return self.payment_processor is not None

    @property
    def order_id(self):
        return order_id_for(self.key)

    @property
    def sort_key(self):
        return (self.created_at, self.key)

    @property
    def paid(self):
        return self.price != 0

    @property
    def refundable_listed(self):
        return max(self.listed_total - self.refunded_listed, 0)

    @property
    def fully_refunded(self):
        return self.listed_total > 0 and self.refunded_listed >= self.listed_total

    @property
    def partially_refunded(self):
        return 0 < self.refunded_listed < self.listed_total

    @property
    def chargedback(self):
        """Dispute open and not reversed (Gumroad's chargedback_not_reversed?)."""
        return self.disputed and not self.dispute_won

    @property
    def shown_license(self):
        # A gift sender's row shows the giftee's license (purchase.rb:3391-3397).
        if self.gift_role == "sender" and self.gift_peer is not None:
            return self.gift_peer.license
        if self.license is None and self.subscription is not None:
            return self.subscription.license
        return self.license

    def net_listed(self):
        """Listed minor units the seller keeps: 0 once refunded or charged back."""
        if self.fully_refunded or self.chargedback:
            return 0
        return self.listed_total - self.refunded_listed

    def refunded_usd(self):
        """USD cents refunded: the refunded share of price, rounded half up."""
        return usd_share(self.price, self.refunded_listed, self.listed_total)

    def net_usd(self):
        if self.fully_refunded or self.chargedback:
            return 0
        return self.price - self.refunded_usd()

    def refunds_usd(self):
        """Each refund's USD cents: the change of the refunded USD share it made
        (the whole price once the refunds reach the listed total)."""
        amounts, before, total = [], 0, 0
        for amount in self.refunds:
            total += amount
            now = usd_share(self.price, total, self.listed_total)
            amounts.append(now - before)
            before = now
        return amounts

    def earnings_usd(self):
        """USD cents the sale leaves on the seller's Gumroad balance (G1-G6)."""
        return ledger.earnings(self)


@dataclass(eq=False)
class Preorder:
    """Gumroad's Preorder record: made with its authorization purchase."""

    created_at: datetime
    authorization: "Sale | None" = None
    charge: "Sale | None" = None  # the release's new sale, once charged
    cancelled: bool = False

    @property
    def in_preorder_state(self):
        return self.charge is None and not self.cancelled


def usd_share(price, listed_part, listed_total):
    """USD cents of `listed_part` of a sale: rounded half up, all of it at the end."""
    if listed_part <= 0 or listed_total <= 0:
        return 0
    if listed_part >= listed_total:
        return price
    return round_half_up(Decimal(price) * listed_part / listed_total)


@dataclass(eq=False)
class Subscription:
    key: int
    id: str
    product: Product
    email: str
    created_at: datetime
    recurrence: str
    tier: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    purchases: list = field(default_factory=list)
    license: License | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None  # buyer | seller | admin
    failed_at: datetime | None = None
    ended_at: datetime | None = None
    ended_reason: str | None = None
    user_requested_cancellation_at: datetime | None = None
    restarted_at: datetime | None = None
    charge_occurrence_count: int | None = None
    free_trial_ends_at: datetime | None = None
    last_plan_change: dict | None = None

    @property
    def original_purchase(self):
        return self.purchases[0] if self.purchases else None

    def is_active(self, now):
        """subscription.rb:94-97: alive, including a cancellation scheduled later."""
        if self.failed_at is not None or self.ended_at is not None:
            return False
        return self.cancelled_at is None or self.cancelled_at > now

    def status(self, now):
        if self.ended_at is not None:
            if self.ended_reason == "failed_payment":
                return "failed_payment"
            if self.ended_reason == "fixed_subscription_period_ended":
                return "fixed_subscription_period_ended"
            return "cancelled"
        if self.failed_at is not None:
            return "pending_failure" if self.failed_at > now else "failed_payment"
        if self.cancelled_at is not None:
            return "pending_cancellation" if self.cancelled_at > now else "cancelled"
        return "alive"

    def price_cents(self):
        """Current plan price, product-currency minor units (displayed_price_cents)."""
        option = self.product.option(self.tier) if self.tier else None
        return self.product.unit_price(option, self.recurrence)


@dataclass(eq=False)
class Payout:
    key: int
    id: str
    created_at: datetime
    amount_cents: int  # USD cents; rendered as a decimal string
    status: str = "completed"
    processed_at: datetime | None = None
    sale_ids: list = field(default_factory=list)
    refunded_sale_ids: list = field(default_factory=list)
    disputed_sale_ids: list = field(default_factory=list)
    period_start: datetime | None = None
    period_end: datetime | None = None
    # payout_rows.rows_for's rows, in cents; rendered by shapes.payout_json
    transactions: list = field(default_factory=list)


@dataclass(eq=False)
class Credit:
    """A credit (or, negative, a debit) Gumroad puts on the seller's balance by hand
    (Credit with crediting_user, app/models/credit.rb); `reason` stays Gumroad's."""

    key: int
    created_at: datetime
    amount_cents: int
    reason: str = ""


@dataclass(eq=False)
class ResourceSubscription:
    id: str
    resource_name: str
    post_url: str
    token: str  # the token (standing in for its OAuth application) that created it
    deleted: bool = False


def price_sale(currency, unit_listed, quantity, offer_code):
    """Listed total, USD price and fee for a purchase, the way checkout records them."""
    listed = unit_listed * quantity
    if offer_code is not None:
        listed -= offer_code.discount(listed)
    price = listed_to_usd_cents(listed, currency)
    # formatted_total_price and the refundable amount are rebuilt from the USD price.
    listed_total = usd_cents_to_listed(price, currency)
    fee = 0 if price == 0 else min(price, round_half_up(price * 0.10) + 50)
    return listed_total, price, fee


def reprice(row, price):
    """A new USD price for a row: listed total and fee follow, as checkout does."""
    row.price = price
    row.listed_total = usd_cents_to_listed(price, row.currency)
    row.fee = 0 if price == 0 else min(price, round_half_up(price * 0.10) + 50)


def make_direct(row, processor, rng, processor_fee_cents=None):
    """Paid into the seller's own PayPal or Stripe account (G6)."""
    row.payment_processor = processor
    if processor == "paypal":
        row.processor_transaction_id = "".join(
            rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(17)
        )
        default_fee = round_half_up(row.price * 0.0349) + 49
        row.card_type, row.card_visual = "paypal", row.email
    else:
        row.processor_transaction_id = f"ch_{rng.getrandbits(96):024x}"
        default_fee = round_half_up(row.price * 0.029) + 30
    row.processor_fee_cents = (
        default_fee if processor_fee_cents is None else processor_fee_cents
    )
    row.processor_fee_currency = "usd"
