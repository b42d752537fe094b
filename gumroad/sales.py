"""The sale object of Gumroad's API v2 (`Purchase#as_json(version: 2)`), read strictly.

`price`, `gumroad_fee` and `tax_cents` are USD cents whatever the product currency;
`formatted_total_price` and `amount_refundable_in_currency` are listed-currency text.
Keys whose value is nil are left out by Gumroad, so optional keys may be absent.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from .errors import MalformedPayloadError
from .money import cents_to_decimal, parse_amount

CENT = Decimal("0.01")
# `payment_processor` values of sales paid into the seller's own account
# (purchase.rb `web_csv_payment_processor`).
DIRECT_PROCESSORS = ("paypal", "stripe_connect")
# Far above any real sale; keeps Decimal arithmetic exact and out of overflow.
MAX_CENTS = 10**15


@dataclass(frozen=True)
class Sale:
    """One Gumroad sale, typed. Amounts are Decimal; `raw` is the dict as received."""

    id: str
    order_id: int | None
    created_at: datetime
    sale_date: date
    product_id: str
    product_name: str
    product_permalink: str | None
    email: str
    full_name: str | None
    country: str | None
    country_iso2: str | None
    quantity: int
    price_usd: Decimal
    gumroad_fee_usd: Decimal
    tax_usd: Decimal
    listed_currency: str | None
    listed_total: Decimal
    listed_refundable: Decimal
    refunded: bool
    partially_refunded: bool
    disputed: bool
    dispute_won: bool
    chargedback: bool
    is_gift_sender: bool
    is_gift_receiver: bool
    giftee_email: str | None
    gifter_email: str | None
    subscription_id: str | None
    is_recurring_charge: bool
    license_key: str | None
    variants: dict[str, str] = field(hash=False)
    offer_code: str | None
    paid: bool
    # A pre-order authorization: the card is authorized, nothing is charged until the
    # product is released, and the charge at release is a new sale of its own.
    is_preorder_authorization: bool
    raw: dict = field(hash=False, repr=False)
    # Parts of `price` (USD), and the tax (see `tax_collector`). Defaults keep
    # hand-built Sales of older tests valid.
    shipping_usd: Decimal = Decimal("0.00")
    tip_usd: Decimal = Decimal("0.00")
    tax_label: str | None = None
    tax_included_in_price: bool | None = None
    buyer_presentment: "BuyerPresentment | None" = None
    # The SKU of a SKU-enabled or physical product (purchase.rb:1072-1073): `sku_id`
    # is the custom SKU or the external id, "pid_<product id>" without SKUs.
    sku_id: str | None = None
    sku_external_id: str | None = None
    # The affiliate's credit, USD (purchase.rb:1052-1057 `affiliate.amount`, a
    # formatted USD string; the ping's `affiliate_credit_amount_cents`).
    affiliate_email: str | None = None
    affiliate_usd: Decimal = Decimal("0.00")
    # "paypal" / "stripe_connect": paid into the seller's own account, with the
    # processor's fee (only then present, web_csv_payment_processor); None:
    # Gumroad's own account.
    payment_processor: str | None = None
    # In `processor_fee_currency` (usually "usd") minor units / 100.
    processor_fee: Decimal = Decimal("0.00")
    processor_fee_currency: str | None = None
    preorder_authorization_time: str | None = None

    @property
    def processor_fee_usd(self) -> Decimal:
        """The processor's fee when it is in USD (as credit.rb reads it: only a "usd"
        `processor_fee_cents_currency` is used as USD); 0 otherwise."""
        if self.processor_fee_currency in (None, "usd"):
            return self.processor_fee
        return Decimal("0.00")

    @property
    def is_direct(self) -> bool:
        """Paid into the seller's own PayPal or Stripe account, not the Gumroad
        balance (purchase.rb:1838 `return unless
        charged_using_gumroad_merchant_account?`)."""
        return self.payment_processor in DIRECT_PROCESSORS

    @property
    def tax_collector(self) -> str:
        """Who collected `tax_cents`: "none", "seller", "gumroad" or "unknown".

        The JSON's `tax_cents` is `gumroad_responsible_for_tax? ? gumroad_tax_cents :
        tax_cents` (purchase.rb:3717-3719): only `buyer_presentment`'s
        `seller_tax_cents` / `gumroad_tax_cents` (purchase.rb:3729-3745) tell the two
        apart. Without it (an ordinary USD sale) the collector is "unknown", which the
        books treat as Gumroad's: today's code collects US and Canadian tax (TaxJar,
        `gumroad_is_mpf`) and EU/UK VAT as Gumroad, and booking a tax the seller never
        received as the seller's liability would overstate both revenue and tax.
        """
        if not self.tax_usd:
            return "none"
        presentment = self.buyer_presentment
        if presentment is None:
            return "unknown"
        if presentment.gumroad_tax_cents:
            return "gumroad"
        if presentment.seller_tax_cents:
            return "seller"
        return "unknown"

    @property
    def seller_tax_usd(self) -> Decimal:
        """Tax the seller collected, inside `price` (purchase.rb:3856: `price_cents +=
        tax_cents if was_tax_excluded_from_price`); 0 unless proven."""
        return self.tax_usd if self.tax_collector == "seller" else Decimal("0.00")

    @property
    def gumroad_tax_usd(self) -> Decimal:
        """Tax Gumroad collected (or, "unknown", presumably did), outside `price`:
        "NOT remitted to the seller" (purchase.rb:537-548)."""
        if self.tax_collector in ("gumroad", "unknown"):
            return self.tax_usd
        return Decimal("0.00")

    @property
    def refund_state(self) -> str:
        """One of "full", "partial", "none", from Gumroad's own flags."""
        if self.refunded:
            return "full"
        if self.partially_refunded:
            return "partial"
        return "none"

    @property
    def dispute_state(self) -> str:
        """One of "open" (chargeback not reversed), "won", "none"."""
        if self.dispute_won:
            return "won"
        if self.chargedback:
            return "open"
        return "none"

    @property
    def listed_refunded(self) -> Decimal:
        """Listed-currency amount refunded so far."""
        state = self.refund_state
        if state == "full":
            return self.listed_total
        if state == "none":
            # The two strings are formatted separately and may disagree by a rounding
            # cent; an unrefunded sale has refunded nothing.
            return Decimal(0)
        return max(self.listed_total - self.listed_refundable, Decimal(0))

    @property
    def usd_refunded(self) -> Decimal:
        """USD refunded: the listed share applied to `price_usd` (no API field)."""
        state = self.refund_state
        if state == "full":
            return self.price_usd
        if state == "none" or not self.listed_total:
            return Decimal(0)
        share = min(self.listed_refunded / self.listed_total, Decimal(1))
        return (self.price_usd * share).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BuyerPresentment:
    """`buyer_presentment`: what the buyer saw, in the buyer currency's minor units
    (purchase.rb:3729-3745). Not seller revenue; only its tax split is used."""

    currency: str | None
    price_cents: int
    total_cents: int
    tip_cents: int
    shipping_cents: int
    seller_tax_cents: int
    gumroad_tax_cents: int
    refunded_cents: int
    fx_rate: Decimal | None


def parse_sale(data: dict) -> Sale:
    """Read one sale dict of `GET /sales` or `GET /sales/:id` (the inner "sale").

    Raises MalformedPayloadError naming the sale and the field at fault.
    """
    if not isinstance(data, Mapping):
        raise MalformedPayloadError(
            f"A sale must be a JSON object, not {type(data).__name__}.", field=None
        )
    reader = _SaleReader(data)
    sale_id = reader.required_str("id")
    reader.sale_id = sale_id
    created_at = reader.timestamp("created_at")
    price_cents = reader.cents("price", required=True)
    listed_total = reader.amount("formatted_total_price")
    listed_refundable = reader.amount("amount_refundable_in_currency")
    currency = reader.optional_str("currency")
    return Sale(
        id=sale_id,
        order_id=reader.order_id("order_id"),
        created_at=created_at,
        sale_date=created_at.date(),
        product_id=reader.required_str("product_id"),
        product_name=reader.required_str("product_name", allow_empty=True),
        product_permalink=reader.optional_str("product_permalink"),
        email=reader.optional_str("email") or "",
        full_name=reader.optional_str("full_name"),
        country=reader.optional_str("country"),
        country_iso2=reader.optional_str("country_iso2"),
        quantity=reader.quantity("quantity"),
        price_usd=cents_to_decimal(price_cents),
        gumroad_fee_usd=cents_to_decimal(reader.cents("gumroad_fee")),
        tax_usd=cents_to_decimal(reader.cents("tax_cents")),
        listed_currency=currency.strip().lower() if currency else None,
        listed_total=listed_total,
        listed_refundable=listed_refundable,
        refunded=reader.flag("refunded"),
        partially_refunded=reader.flag("partially_refunded"),
        disputed=reader.flag("disputed"),
        dispute_won=reader.flag("dispute_won"),
        chargedback=reader.flag("chargedback"),
        is_gift_sender=reader.flag("is_gift_sender_purchase"),
        is_gift_receiver=reader.flag("is_gift_receiver_purchase"),
        giftee_email=reader.optional_str("giftee_email"),
        gifter_email=reader.optional_str("gifter_email"),
        subscription_id=reader.optional_str("subscription_id"),
        is_recurring_charge=reader.flag("recurring_charge"),
        license_key=reader.optional_str("license_key"),
        variants=reader.variants("variants"),
        offer_code=reader.offer_code("offer_code"),
        paid=price_cents != 0 and not reader.flag("is_preorder_authorization"),
        is_preorder_authorization=reader.flag("is_preorder_authorization"),
        raw=data,
        shipping_usd=cents_to_decimal(reader.cents("shipping_cents")),
        tip_usd=cents_to_decimal(reader.cents("tip_cents")),
        tax_label=reader.optional_str("tax_label"),
        tax_included_in_price=reader.optional_flag("tax_included_in_price"),
        buyer_presentment=reader.presentment("buyer_presentment"),
        sku_id=reader.optional_str("sku_id"),
        sku_external_id=reader.optional_str("sku_external_id"),
        **reader.affiliate(),
        **reader.processor(),
        preorder_authorization_time=reader.optional_str("preorder_authorization_time"),
    )


class _SaleReader:
    """Typed access to one sale dict; every failure names the sale and the key."""

    def __init__(self, data):
        self.data = data
        self.sale_id = None

    def malformed(self, key, problem, value=None, show_value=True):
        return MalformedPayloadError.for_field(
            problem,
            field=key,
            value=value,
            sale_id=self.sale_id,
            show_value=show_value,
        )

    def required_str(self, key, *, allow_empty=False):
        if key not in self.data or self.data[key] is None:
            raise self.malformed(key, "is missing", show_value=False)
        value = self.data[key]
        if not isinstance(value, str):
            raise self.malformed(key, "is not a string", value)
        if not allow_empty and not value.strip():
            raise self.malformed(key, "is empty", value)
        return value

    def optional_str(self, key):
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.malformed(key, "is not a string", value)
        return value or None

    def flag(self, key):
        # Gumroad leaves out nil keys ("refunded" on $0 purchases): absent is false.
        value = self.data.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.malformed(key, "is not a boolean", value)
        return value

    def optional_flag(self, key):
        if self.data.get(key) is None:
            return None
        return self.flag(key)

    def presentment(self, key):
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.malformed(key, "is not an object", value)
        inner = _SaleReader(value)
        inner.sale_id = self.sale_id
        currency = inner.optional_str("currency")
        rate = value.get("fx_rate")
        try:
            fx_rate = Decimal(str(rate)) if rate not in (None, "") else None
        except ArithmeticError:
            raise self.malformed(f"{key}.fx_rate", "is not a number", rate) from None
        return BuyerPresentment(
            currency=currency.lower() if currency else None,
            **{
                name: inner.cents(name)
                for name in (
                    "price_cents",
                    "total_cents",
                    "tip_cents",
                    "shipping_cents",
                    "seller_tax_cents",
                    "gumroad_tax_cents",
                    "refunded_cents",
                )
            },
            fx_rate=fx_rate,
        )

    def affiliate(self):
        """`affiliate` {"email", "amount": "$2.50"} of the sale JSON, or the ping's
        `affiliate` (email) and `affiliate_credit_amount_cents`."""
        value = self.data.get("affiliate")
        cents = self.data.get("affiliate_credit_amount_cents")
        if isinstance(value, str) or value is None:
            email = value or None
            if cents is None:
                return {"affiliate_email": email}
            return {
                "affiliate_email": email,
                "affiliate_usd": cents_to_decimal(
                    self.cents("affiliate_credit_amount_cents")
                ),
            }
        if not isinstance(value, Mapping):
            raise self.malformed("affiliate", "is not an object", value)
        email = value.get("email")
        if email is not None and not isinstance(email, str):
            raise self.malformed("affiliate.email", "is not a string", email)
        amount = value.get("amount")
        usd = Decimal("0.00")
        if amount not in (None, ""):
            if not isinstance(amount, str):
                raise self.malformed("affiliate.amount", "is not a string", amount)
            usd = parse_amount(amount, field="affiliate.amount", sale_id=self.sale_id)
            if usd < 0:
                raise self.malformed("affiliate.amount", "is negative", amount)
            usd = usd.quantize(CENT, rounding=ROUND_HALF_UP)
        return {"affiliate_email": email or None, "affiliate_usd": usd}

    def processor(self):
        """`payment_processor` and its fee (present only for direct sales)."""
        name = self.optional_str("payment_processor")
        if name is None:
            return {}
        name = name.strip().lower()
        currency = self.optional_str("processor_fee_currency")
        return {
            "payment_processor": name,
            "processor_fee": cents_to_decimal(self.cents("processor_fee_cents")),
            "processor_fee_currency": currency.strip().lower() if currency else None,
        }

    def _integer(self, key, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.malformed(key, "is not an integer", value)
        return value

    def cents(self, key, *, required=False):
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.malformed(key, "is missing", show_value=False)
            return 0
        value = self._integer(key, value)
        if not 0 <= value < MAX_CENTS:
            raise self.malformed(key, "is out of range", value)
        return value

    def quantity(self, key):
        value = self.data.get(key)
        if value is None:
            return 1
        value = self._integer(key, value)
        if not 1 <= value < MAX_CENTS:
            raise self.malformed(key, "is out of range", value)
        return value

    def order_id(self, key):
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)  # the ping's order_number is a numeric string
        value = self._integer(key, value)
        if not 0 <= value < 2**63:
            raise self.malformed(key, "is out of range", value)
        return value

    def timestamp(self, key):
        value = self.required_str(key)
        try:
            moment = datetime.fromisoformat(value.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise self.malformed(key, "is not an ISO 8601 date-time", value) from None

    def amount(self, key):
        if self.data.get(key) is None:
            raise self.malformed(key, "is missing", show_value=False)
        value = parse_amount(self.data[key], field=key, sale_id=self.sale_id)
        if value < 0:
            raise self.malformed(key, "is negative", self.data[key])
        return value

    def variants(self, key):
        value = self.data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.malformed(key, "is not an object", value)
        variants = {}
        for category, option in value.items():
            if not isinstance(category, str):
                raise self.malformed(key, "has a non-string category", category)
            if isinstance(option, bool) or not isinstance(option, str | int):
                raise self.malformed(key, "has a non-string option", option)
            variants[category] = str(option)
        return variants

    def offer_code(self, key):
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value or None  # pings send the code itself
        if not isinstance(value, Mapping):
            raise self.malformed(key, "is not an object", value)
        code = value.get("code", value.get("name"))
        if code is None:
            return None
        if not isinstance(code, str):
            raise self.malformed(key, "has a non-string code", code)
        return code or None
