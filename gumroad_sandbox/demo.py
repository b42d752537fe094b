"""Deterministic demo data: a seller, a small catalog and N sales from one seed.

Everything is drawn from `random.Random(seed)` in a fixed order, so the same
(seed, sales, start_date, end_date, products) always yields the same ids and amounts.
"""

import dataclasses
import heapq
import random
import unicodedata
from bisect import bisect_left
from datetime import date, datetime, time, timedelta, timezone

from .currency import get_currency, round_half_up
from .ids import external_id, license_key, numeric_user_id
from .records import (
    RECURRENCE_MONTHS,
    CustomFieldSpec,
    License,
    OfferCode,
    Payout,
    Preorder,
    Product,
    Sale,
    Seller,
    Subscription,
    VariantOption,
    make_direct,
    price_sale,
    reprice,
)

UTC = timezone.utc
# Row keys are spaced so a back-dated add_sale can take a key between two neighbours:
# Gumroad's page condition "created_at <= t AND id < key_id" needs ids in time order.
KEY_SPACING = 256
DEFAULT_SPAN_DAYS = 90

# Default catalog. Prices are in the product currency's minor units.
DEFAULT_PRODUCT_SPECS = (
    {
        "name": "The Odoo Integration Handbook",
        "permalink": "odoohb",
        "custom_permalink": "odoo-handbook",
        "currency": "usd",
        "price": 2900,
        "kind": "ebook",
        "tags": ["odoo", "accounting"],
        "custom_fields": [{"name": "Company"}],
        "file_info": {"Size": "2.4 MB", "Length": "212 pages"},
        "reviews": (12, 4.6),
        "offer_codes": [{"code": "LAUNCH20", "percent_off": 20}],
        "weight": 30,
    },
    {
        "name": "Accounting Automation Course",
        "permalink": "acctc",
        "currency": "eur",
        "price": 14900,
        "kind": "course",
        "tags": ["accounting"],
        "offer_codes": [{"code": "EARLYBIRD", "percent_off": 25}],
        "weight": 12,
    },
    {
        "name": "Invoice Template Pack (JP)",
        "permalink": "invjp",
        "currency": "jpy",
        "price": 1500,
        "kind": "template",
        "weight": 10,
    },
    {
        "name": "Pro Templates Membership",
        "permalink": "protm",
        "currency": "usd",
        "price": 1000,
        "kind": "membership",
        "tiers": {
            "Basic": {"monthly": 1000, "yearly": 10000},
            "Pro": {"monthly": 2500, "yearly": 25000},
        },
        "licensed": True,
        "weight": 15,
    },
    {
        "name": "Invoice Sync Plugin",
        "permalink": "invsync",
        "custom_permalink": "invoice-sync",
        "currency": "usd",
        "price": 4900,
        "kind": "plugin",
        "tags": ["odoo", "invoicing"],
        "variants": {
            "title": "License type",
            "options": [("Single seat", 0), ("Team (5 seats)", 5000)],
        },
        "licensed": True,
        "custom_fields": [
            {"name": "Company"},
            {"name": "VAT ID"},
            {"name": "I accept the license terms", "type": "terms", "required": True},
        ],
        "offer_codes": [{"code": "SAVE5", "amount_cents": 500}],
        "weight": 20,
    },
    {
        "name": "Chart of Accounts Starter Kit",
        "permalink": "coastart",
        "currency": "usd",
        "price": 0,
        "kind": "free",
        "customizable_price": True,
        "weight": 8,
    },
    {
        "name": "Bookkeeping Checklist 2024",
        "permalink": "bkcl24",
        "currency": "usd",
        "price": 500,
        "kind": "legacy",
        "published": False,
        "sales_window": (0.0, 0.5),
        "weight": 5,
    },
)

# (name, iso2, weight, email tld, regions) ; regions: list of (state, zip prefix)
COUNTRIES = (
    ("United States", "US", 40, "com", (("CA", "94"), ("NY", "10"), ("TX", "73"))),
    ("France", "FR", 8, "fr", ()),
    ("Germany", "DE", 8, "de", ()),
    ("United Kingdom", "GB", 8, "co.uk", ()),
    ("Japan", "JP", 6, "jp", ()),
    ("Canada", "CA", 5, "ca", ()),
    ("Spain", "ES", 5, "es", ()),
    ("Brazil", "BR", 5, "com.br", ()),
    ("India", "IN", 5, "in", ()),
    ("Netherlands", "NL", 5, "nl", ()),
)
EU_COUNTRIES = {"FR", "DE", "ES", "NL"}
NAMES = {
    "US": (("Maria", "Lopez"), ("James", "Carter"), ("Emily", "Nguyen")),
    "FR": (("Théo", "Martin"), ("Chloé", "Dubois"), ("Gaël", "Lefèvre")),
    "DE": (("Jürgen", "Müller"), ("Anna", "Schröder"), ("Lukas", "Weiß")),
    "GB": (("Oliver", "Smith"), ("Amelia", "Jones"), ("Harry", "Taylor")),
    "JP": (("太郎", "山田"), ("Yuki", "Sato"), ("花子", "鈴木")),
    "CA": (("Liam", "Tremblay"), ("Olivia", "Roy"), ("Noah", "Gagnon")),
    "ES": (("José", "García"), ("Lucía", "Martínez"), ("Álvaro", "Núñez")),
    "BR": (("João", "Silva"), ("Ana", "Conceição"), ("Luís", "Araújo")),
    "IN": (("Aarav", "Sharma"), ("Priya", "Patel"), ("Rohan", "Iyer")),
    "NL": (("Daan", "de Vries"), ("Sanne", "Jansen"), ("Bram", "van Dijk")),
}
ROMANIZED = {"太郎": "taro", "山田": "yamada", "花子": "hanako", "鈴木": "suzuki"}
REFERRERS = (
    ("direct", 50),
    ("https://www.google.com/", 20),
    ("https://twitter.com/", 10),
    ("https://acme.gumroad.com/", 20),
)
CARD_TYPES = (("visa", 60), ("mastercard", 20), ("amex", 5), ("paypal", 15))


def ascii_slug(text):
    text = ROMANIZED.get(text, text)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "buyer"


def weighted(rng, pairs):
    total = sum(weight for _, weight in pairs)
    pick = rng.random() * total
    for value, weight in pairs:
        pick -= weight
        if pick < 0:
            return value
    return pairs[-1][0]


def utc_midnight(day):
    return datetime.combine(day, time.min, tzinfo=UTC)


def build_seller(rng):
    return Seller(
        name="Acme Digital",
        email="owner@acme-digital.example",
        external_id=numeric_user_id(rng),
        user_id=external_id(rng),
        subdomain="acme",
    )


def build_product(spec, rng, key, created_at):
    """A Product from a spec dict; unknown keys are refused so typos surface early."""
    known = {
        "name",
        "permalink",
        "custom_permalink",
        "currency",
        "price",
        "kind",
        "tags",
        "custom_fields",
        "file_info",
        "reviews",
        "offer_codes",
        "weight",
        "tiers",
        "licensed",
        "variants",
        "customizable_price",
        "published",
        "sales_window",
        "description",
        "recurrences",
        "max_purchase_count",
    }
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"Unknown product spec keys: {sorted(unknown)}")
    product_id = external_id(rng)
    permalink = spec.get("permalink") or f"p{rng.getrandbits(24):06x}"
    product = Product(
        key=key,
        id=product_id,
        name=spec["name"],
        unique_permalink=permalink,
        custom_permalink=spec.get("custom_permalink"),
        currency=get_currency(spec.get("currency", "usd")),
        price=int(spec.get("price", 1000)),
        created_at=created_at,
        kind=spec.get("kind", "digital"),
        published=spec.get("published", True),
        tags=list(spec.get("tags", [])),
        licensed=spec.get("licensed", False),
        customizable_price=spec.get("customizable_price", False),
        file_info=dict(spec.get("file_info", {})),
        weight=spec.get("weight", 1),
        sales_window=tuple(spec.get("sales_window", (0.0, 1.0))),
        max_purchase_count=spec.get("max_purchase_count"),
    )
    if "description" in spec:
        product.description = spec["description"]
    product.thumbnail_url = (
        f"https://public-files.gumroad.com/{rng.getrandbits(128):032x}"
    )
    if spec.get("reviews"):
        product.reviews_count, product.average_rating = spec["reviews"]
    for field_spec in spec.get("custom_fields", []):
        product.custom_fields.append(
            CustomFieldSpec(
                id=external_id(rng),
                name=field_spec["name"],
                type=field_spec.get("type", "text"),
                required=field_spec.get("required", False),
            )
        )
    for code in spec.get("offer_codes", []):
        product.offer_codes.append(OfferCode(**code))
    if spec.get("tiers"):
        product.is_tiered_membership = True
        product.variant_title = "Tier"
        product.variant_options = [
            VariantOption(external_id(rng), name, 0, dict(prices))
            for name, prices in spec["tiers"].items()
        ]
        product.recurrences = list(spec.get("recurrences") or ["monthly", "yearly"])
        product.subscription_duration = product.recurrences[0]
    elif spec.get("variants"):
        product.variant_title = spec["variants"]["title"]
        product.variant_options = [
            VariantOption(external_id(rng), name, difference)
            for name, difference in spec["variants"]["options"]
        ]
    return product


def product_specs_for(products):
    """None -> default catalog; int N -> default catalog padded with filler products."""
    if products is None:
        return list(DEFAULT_PRODUCT_SPECS)
    if isinstance(products, int):
        specs = list(DEFAULT_PRODUCT_SPECS[:products])
        for number in range(1, products - len(specs) + 1):
            specs.append(
                {
                    "name": f"Template Pack #{number}",
                    "permalink": f"tpl{number}",
                    "price": 800 + 100 * number,
                    "weight": 1,
                }
            )
        return specs
    return [dict(spec) for spec in products]


class Buyer:
    __slots__ = ("account_email", "country", "email", "full_name", "purchaser_id")

    def __init__(self, email, account_email, purchaser_id, full_name, country):
        self.email = email
        self.account_email = account_email
        self.purchaser_id = purchaser_id
        self.full_name = full_name
        self.country = country  # (name, iso2, state, zip) or None


class DemoBuilder:
    """Builds the demo state. Also used later for sales added at runtime."""

    def __init__(self, rng, seller):
        self.rng = rng
        self.seller = seller
        self.buyers = []
        self.buyer_serial = 0

    # -- buyers ----------------------------------------------------------------------
    def new_buyer(self):
        rng = self.rng
        name, iso2, _weight, tld, regions = weighted(
            rng, [(country, country[2]) for country in COUNTRIES]
        )
        first, last = rng.choice(NAMES[iso2])
        self.buyer_serial += 1
        email = (
            f"{ascii_slug(first)}.{ascii_slug(last)}{self.buyer_serial}@example.{tld}"
        )
        purchaser_id = numeric_user_id(rng) if rng.random() < 0.6 else None
        account_email = None
        if purchaser_id and rng.random() < 0.05:
            # The API shows the account email when it differs from the checkout one.
            account_email = f"{ascii_slug(first)}{self.buyer_serial}@mail.example"
        full_name = (
            f"{last} {first}"
            if iso2 == "JP" and ord(first[0]) > 0x3000
            else (f"{first} {last}")
        )
        if rng.random() < 0.1:
            full_name = None
        state = zip_code = None
        if regions:
            state, zip_prefix = rng.choice(regions)
            zip_code = f"{zip_prefix}{rng.randrange(1000):03d}"
        country = None if rng.random() < 0.03 else (name, iso2, state, zip_code)
        return Buyer(email, account_email, purchaser_id, full_name, country)

    def pick_buyer(self):
        if self.buyers and self.rng.random() < 0.2:
            return self.rng.choice(self.buyers)
        buyer = self.new_buyer()
        self.buyers.append(buyer)
        return buyer

    # -- sales -----------------------------------------------------------------------
    def new_license(self, option_name=None):
        return License(
            serial=license_key(self.rng),
            id=external_id(self.rng),
            uses=self.rng.randrange(0, 4),
            multiseat=False,
        )

    def fill_card(self, sale, buyer):
        card_type = weighted(self.rng, CARD_TYPES)
        sale.card_type = card_type
        if card_type == "paypal":
            sale.card_visual = buyer.email
        else:
            sale.card_visual = f"**** **** **** {self.rng.randrange(10000):04d}"

    def fill_buyer(self, sale, buyer):
        sale.account_email = buyer.account_email
        sale.purchaser_id = buyer.purchaser_id
        sale.full_name = buyer.full_name
        if buyer.country:
            name, iso2, state, zip_code = buyer.country
            sale.country, sale.state, sale.zip_code = name, state, zip_code
            sale.ip_country = name
            # country_iso2 comes only from the stored country column; GeoIP-only
            # rows (about 1 in 12 here) have a country name but no ISO code.
            sale.country_iso2 = None if self.rng.random() < 0.08 else iso2

    def custom_field_values(self, product, buyer):
        values = {}
        for spec in product.custom_fields:
            if spec.type in ("terms", "checkbox"):
                values[spec.name] = True
            elif spec.name == "VAT ID":
                iso2 = buyer.country[1] if buyer.country else None
                if iso2 in EU_COUNTRIES:
                    values[spec.name] = f"{iso2}{self.rng.randrange(10**10, 10**11)}"
            elif self.rng.random() < 0.5:
                last = (buyer.full_name or "Buyer").split()[-1]
                values[spec.name] = f"{last} {self.rng.choice(['SARL', 'GmbH', 'Ltd'])}"
        return values

    def make_sale(
        self,
        product,
        created_at,
        *,
        buyer=None,
        option_name=None,
        recurrence=None,
        quantity=None,
        offer_code=None,
        pay_what_you_want=None,
        subscription=None,
        recurring_charge=False,
    ):
        """One listed purchase of `product`, priced and described like checkout does."""
        rng = self.rng
        buyer = buyer or self.pick_buyer()
        option = None
        if product.variant_options:
            if option_name is None:
                option_name = rng.choice(product.variant_options).name
            option = product.option(option_name)
        if product.is_tiered_membership:
            recurrence = recurrence or product.subscription_duration
        if quantity is None:
            quantity = rng.choice((1, 1, 1, 2, 3)) if product.kind == "template" else 1
        if product.customizable_price:
            if pay_what_you_want is None:
                pay_what_you_want = (
                    0 if rng.random() < 0.8 else rng.choice((100, 300, 500, 1000))
                )
            unit = max(product.price, pay_what_you_want)
        else:
            unit = product.unit_price(option, recurrence)
        listed_total, price, fee = price_sale(
            product.currency, unit, quantity, offer_code
        )
        sale = Sale(
            key=0,
            id=external_id(rng),
            created_at=created_at,
            product=product,
            currency=product.currency,
            email=buyer.email,
            price=price,
            listed_total=listed_total,
            fee=fee,
            quantity=quantity,
            recurrence=recurrence if product.is_tiered_membership else None,
            offer_code=offer_code,
            subscription=subscription,
            recurring_charge=recurring_charge,
        )
        self.fill_buyer(sale, buyer)
        if option is not None:
            sale.variants = {product.variant_title: option.name}
            sale.variants_price_cents = (
                option.recurrence_prices[recurrence]
                if option.recurrence_prices
                else option.price_difference
            )
        sale.custom_fields = self.custom_field_values(product, buyer)
        if price:
            self.fill_card(sale, buyer)
        if (
            buyer.country
            and buyer.country[1] in EU_COUNTRIES
            and product.kind == "course"
        ):
            # Gumroad-collected VAT: reported in tax_cents, not included in price.
            sale.tax_cents = round_half_up(price * 0.2)
            sale.tax_label = "VAT"
        sale.referrer = weighted(rng, REFERRERS)
        if sale.referrer != "direct" and rng.random() < 0.3:
            sale.url_params = {
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "launch",
            }
        if product.kind == "plugin" and price and rng.random() < 0.08:
            sale.affiliate_email = "partner@affiliates.example"
            sale.affiliate_credit_cents = round_half_up(price * 0.1)
        sale.can_contact = rng.random() < 0.9
        sale.is_following = rng.random() < 0.2
        if product.reviews_count and rng.random() < 0.3:
            sale.product_rating = rng.choice((4, 5, 5, 3))
        if product.licensed and subscription is None:
            sale.license = self.new_license(option_name)
        return sale

    def make_gift_receiver(self, sender, giftee_email):
        """The giftee's $0 copy of a gift: not listed, carries the license."""
        receiver = Sale(
            key=0,
            id=external_id(self.rng),
            created_at=sender.created_at,
            product=sender.product,
            currency=sender.currency,
            email=giftee_email,
            price=0,
            listed_total=0,
            quantity=sender.quantity,
            variants=dict(sender.variants),
            variants_price_cents=sender.variants_price_cents,
            gift_role="receiver",
            gift_peer=sender,
            giftee_email=giftee_email,
            gifter_email=sender.email,
            listed=False,
            referrer=sender.referrer,
        )
        receiver.license = sender.license
        sender.license = None
        sender.gift_role = "sender"
        sender.gift_peer = receiver
        sender.giftee_email = giftee_email
        sender.gifter_email = sender.email
        return receiver


def choose_product(rng, products, position):
    """Weighted product pick among those selling at `position` (0..1 of the range)."""
    candidates = [
        (product, product.weight)
        for product in products
        if product.sales_window[0] <= position < product.sales_window[1]
        and not product.deleted
    ]
    if not candidates:
        candidates = [(product, product.weight) for product in products]
    return weighted(rng, candidates)


def date_range(start_date, end_date, now):
    """Demo range: both days inclusive; defaults end yesterday (UTC), 90 days long."""
    if end_date is None:
        end_date = now.date() - timedelta(days=1)
    if start_date is None:
        start_date = end_date - timedelta(days=DEFAULT_SPAN_DAYS - 1)
    if isinstance(start_date, str):
        start_date = date.fromisoformat(start_date)
    if isinstance(end_date, str):
        end_date = date.fromisoformat(end_date)
    if end_date < start_date:
        raise ValueError("end_date is before start_date")
    return start_date, end_date


class DemoState:
    """What generate() returns; the store takes ownership of it."""

    def __init__(self):
        self.seller = None
        self.products = []
        self.rows = []  # every sale row, ascending by (created_at, key)
        self.subscriptions = []
        self.payouts = []
        self.builder = None
        self.next_key = KEY_SPACING


def generate(*, seed, sales, products, start_date, end_date, now):
    rng = random.Random(seed)
    state = DemoState()
    state.seller = build_seller(rng)
    start_date, end_date = date_range(start_date, end_date, now)
    range_start = utc_midnight(start_date)
    range_stop = min(utc_midnight(end_date + timedelta(days=1)), now)
    specs = product_specs_for(products)
    for index, spec in enumerate(specs):
        created = range_start - timedelta(days=30 * (len(specs) - index), hours=index)
        state.products.append(build_product(spec, rng, index + 1, created))
    builder = DemoBuilder(rng, state.seller)
    state.builder = builder
    span_us = max(int((range_stop - range_start).total_seconds() * 1_000_000), 1)
    offsets = sorted(rng.randrange(span_us) for _ in range(sales))
    due_subscriptions = []  # heap of (due, key, subscription) for monthly ones
    for offset in offsets:
        created_at = range_start + timedelta(microseconds=offset)
        product = choose_product(rng, state.products, offset / span_us)
        if product.is_tiered_membership:
            row = membership_sale(
                builder, state, product, created_at, due_subscriptions
            )
            state.rows.append(row)
            continue
        offer = None
        if product.offer_codes and rng.random() < 0.12:
            offer = rng.choice(product.offer_codes)
        row = builder.make_sale(product, created_at, offer_code=offer)
        state.rows.append(row)
        if row.paid and rng.random() < 0.02:
            giftee = f"giftee{builder.buyer_serial}.{len(state.rows)}@example.com"
            state.rows.append(builder.make_gift_receiver(row, giftee))
    for index, row in enumerate(state.rows, start=1):
        row.key = index * KEY_SPACING
    state.next_key = (len(state.rows) + 1) * KEY_SPACING
    apply_history(rng, state, now)
    decorate_money_kinds(seed, state.rows)
    add_physical_sales(seed, state, sales, products, range_start, now)
    state.payouts = build_payouts(rng, state, start_date, now)
    decorate_sales(seed, state.rows)
    decorate_seller_taxes(seed, state.rows)
    decorate_gumroad_taxes(seed, state.rows)
    return state


SELLER_TAXES = (("GST", 0.05), ("HST", 0.13))
AFFILIATES = (
    "partner@affiliates.example",
    "reviews@bookkeeping-blog.example",
    "newsletter@odoo-tips.example",
)
# Gumroad-collected tax by buyer country (TaxJar / VAT MOSS), outside price.
GUMROAD_TAXES = {
    "US": ("Sales tax", 0.0725),
    "CA": ("GST", 0.05),
    "GB": ("VAT", 0.2),
    "FR": ("VAT", 0.2),
    "DE": ("VAT", 0.19),
    "ES": ("VAT", 0.21),
    "NL": ("VAT", 0.21),
}
PHYSICAL_SPEC = {
    "name": "Printed Month-End Close Checklist Poster",
    "permalink": "closepst",
    "currency": "usd",
    "price": 2500,
    "kind": "physical",
    "tags": ["accounting", "print"],
    "weight": 1,
}
STREETS = ("12 Market Street", "4 Rue de la Paix", "221 Baker Street", "7 Hauptstrasse")


def decorate_money_kinds(seed, rows):
    """Affiliates, Gumroad-collected tax and direct sales (PayPal, Stripe Connect) on
    some one-off sales (readme/GUMROAD_MONEY.md). Price and fee stay what they were;
    affiliates and direct sales change what the sale leaves on the Gumroad balance.

    Each row draws from its own stream, so no other demo value shifts. Native PayPal
    sales are taken among the rows already paid with PayPal, so their card stays.
    """
    for row in rows:
        if not row.listed or not row.paid or row.subscription is not None:
            continue
        if row.gift_role is not None:
            continue
        rng = random.Random(f"{seed}:money-kinds:{row.key}")
        if not row.affiliate_email and rng.random() < 0.08:
            row.affiliate_email = rng.choice(AFFILIATES)
            share = rng.choice((0.1, 0.2, 0.3))
            row.affiliate_credit_cents = min(
                round_half_up(row.price * share), row.price - row.fee
            )
        draw = rng.random()
        if row.card_type == "paypal" and draw < 0.45:
            make_direct(row, "paypal", rng)
        elif row.card_type != "paypal" and draw < 0.07:
            make_direct(row, "stripe_connect", rng)


def decorate_gumroad_taxes(seed, rows):
    """Tax Gumroad collected (US sales tax, Canadian GST, VAT) on some untaxed sales:
    outside price, never the seller's (G8), so no money of the sale moves."""
    for row in rows:
        if not row.listed or not row.paid or row.tax_label:
            continue
        rng = random.Random(f"{seed}:gumroad-tax:{row.key}")
        tax = GUMROAD_TAXES.get(row.country_iso2)
        if tax and rng.random() < 0.3:
            row.tax_label, rate = tax
            row.tax_cents = round_half_up(row.price * rate)


def add_physical_sales(seed, state, sales, products, range_start, now):
    """The physical product, its sales with shipping (about 5 % of the demo's) and
    three pre-orders of it (two released, one still authorized).

    They take the place (key and time) of as many plain one-off sales of the other
    products, picked from their own stream: `sales` stays the number of listed
    sales and every other sale keeps its id, key and amounts. Demos under 20 sales
    get none of it, and so do catalogues other than the default one."""
    if sales < 20 or products is not None:
        return
    rng = random.Random(f"{seed}:physical")
    created = range_start - timedelta(days=15)
    product = build_product(PHYSICAL_SPEC, rng, len(state.products) + 1, created)
    state.products.append(product)
    builder = DemoBuilder(rng, state.seller)
    builder.buyer_serial = 10_000  # buyer emails apart from the main stream's
    candidates = [
        index
        for index, row in enumerate(state.rows)
        if row.listed
        and row.paid
        and row.gift_role is None
        and row.subscription is None
        and not row.refunds
        and not row.disputed
        and not row.affiliate_email
    ]
    physical = max(1, sales // 20)
    slots = sorted(rng.sample(candidates, min(len(candidates), physical + 2)))
    released = slots[:2] if len(slots) > physical else []
    for index in slots:
        slot = state.rows[index]
        if index in released:
            authorized_at = max(
                slot.created_at - timedelta(days=10), range_start - timedelta(days=10)
            )
            authorization = _preorder_authorization(
                builder, product, authorized_at, now
            )
            authorization.key = slot.key + 1  # unlisted: only needs to be unique
            state.rows.append(authorization)
            row = dataclasses.replace(
                authorization,
                id=external_id(rng),
                created_at=slot.created_at,
                listed=True,
                is_preorder_authorization=False,
                refunds=[],
                variants=dict(authorization.variants),
                custom_fields=dict(authorization.custom_fields),
                url_params=dict(authorization.url_params),
            )
            if row.payment_processor is not None:
                make_direct(row, row.payment_processor, rng, row.processor_fee_cents)
            authorization.preorder.charge = row
        else:
            row = physical_sale(builder, product, slot.created_at, now)
        row.key = slot.key
        state.rows[index] = row
    if slots:
        # One pre-order still waiting for its release, a few days before the end.
        pending_at = max(now - timedelta(days=3), range_start)
        pending = _preorder_authorization(builder, product, pending_at, now)
        pending.key = state.rows[slots[-1]].key + 2
        state.rows.append(pending)
    state.rows.sort(key=lambda row: row.sort_key)


def _preorder_authorization(builder, product, created_at, now):
    row = physical_sale(builder, product, created_at, now)
    row.is_preorder_authorization = True
    row.listed = False
    row.refunds = []
    row.disputed = row.dispute_won = False
    row.refunds_before_dispute = None
    row.shipment = None
    row.preorder = Preorder(created_at=created_at, authorization=row)
    return row


def physical_sale(builder, product, created_at, now):
    """A sale of the physical product: shipping inside price, an address, and
    sometimes a refund, a chargeback or a PayPal / Stripe Connect payment."""
    rng = builder.rng
    row = builder.make_sale(product, created_at)
    shipping = 500 if row.country_iso2 in ("US", None) else 1500
    reprice(row, row.price + shipping)
    row.shipping_cents = shipping
    row.street_address = rng.choice(STREETS)
    row.city = {"US": "San Francisco", "FR": "Paris", "GB": "London"}.get(
        row.country_iso2, "Berlin"
    )
    if created_at < now - timedelta(days=7):
        row.shipment = {
            "shipped": True,
            "tracking_url": f"https://tools.usps.com/go/TrackConfirmAction?tLabels=9400{rng.randrange(10**12):012d}",
        }
    draw = rng.random()
    if draw < 0.1:
        make_direct(row, "stripe_connect", rng)
    elif draw < 0.2:
        make_direct(row, "paypal", rng)
    draw = rng.random()
    if draw < 0.1:
        row.refunds = [row.listed_total]
    elif draw < 0.2:
        row.refunds = [round_half_up(row.listed_total * 0.3)]
    elif draw < 0.25:
        row.disputed = True
        row.refunds_before_dispute = 0
        row.dispute_won = rng.random() < 0.5
    return row


def decorate_seller_taxes(seed, rows):
    """Tax the seller collected, on some sales charged in the buyer's currency: the
    only sales whose JSON can say so (`buyer_presentment.seller_tax_cents`,
    purchase.rb:3729-3745). It is inside `price` (purchase.rb:3856), so it is carved
    out of the price, which stays what it was: no money moves differently.

    Each row draws from its own stream, so no other demo value shifts.
    """
    for row in rows:
        if not row.presentment or row.tax_label or not row.paid:
            continue
        rng = random.Random(f"{seed}:seller-tax:{row.key}")
        if rng.random() < 0.3:
            label, rate = rng.choice(SELLER_TAXES)
            row.tax_cents = round_half_up(row.price * rate / (1 + rate))
            row.tax_label = label
            row.seller_tax = True


PPP_COUNTRIES = {"BR": 35, "IN": 50}  # iso2 -> purchasing power parity discount %
REVIEWS = (
    "Exactly what I needed to get our books in order.",
    "Clear and practical. Saved me a week of setup.",
    "Good, though the examples could go deeper.",
)


def decorate_sales(seed, rows):
    """The optional sale keys that move no money: tips (already inside `price`), UTM
    term and content, review texts, upsells, PPP discounts, buyer-currency charges.

    Each row draws from its own stream (seed and row key), so these never shift the
    seeded values of the demo data (amounts, ids, dates) that tests compare.
    """
    for row in rows:
        if not row.listed or not row.paid:
            continue
        rng = random.Random(f"{seed}:extras:{row.key}")
        if row.subscription is None and row.quantity == 1 and rng.random() < 0.08:
            row.tip_cents = round_half_up(row.price * rng.choice((0.1, 0.15, 0.2)))
        if row.url_params.get("utm_source"):
            if rng.random() < 0.6:
                row.utm_term = rng.choice(("odoo accounting", "gumroad bookkeeping"))
            if rng.random() < 0.4:
                row.utm_content = rng.choice(("footer-link", "header-banner"))
        if row.product_rating is not None and rng.random() < 0.6:
            row.review = rng.choice(REVIEWS)
        product = row.product
        if (
            product.variant_options
            and not product.is_tiered_membership
            and row.variants
            and rng.random() < 0.1
        ):
            row.upsell = {
                "name": f"Upgrade to {product.variant_options[-1].name}",
                "discount": None,  # no offer code on the upsell
                "selected_product": product.name,
                "selected_version": product.variant_options[-1].name,
            }
        if row.country_iso2 in PPP_COUNTRIES and rng.random() < 0.5:
            row.ppp_discount = PPP_COUNTRIES[row.country_iso2]
        if row.currency.code != "usd" and rng.random() < 0.7:
            row.presentment = True


def membership_sale(builder, state, product, created_at, due_subscriptions):
    """A renewal of a due monthly subscription, or a new subscription."""
    rng = builder.rng
    while due_subscriptions and due_subscriptions[0][2].cancelled_at is not None:
        heapq.heappop(due_subscriptions)
    if (
        due_subscriptions
        and due_subscriptions[0][0] <= created_at
        and rng.random() < 0.7
    ):
        _due, _key, subscription = heapq.heappop(due_subscriptions)
        first = subscription.original_purchase
        buyer = Buyer(
            first.email, first.account_email, first.purchaser_id, first.full_name, None
        )
        row = builder.make_sale(
            product,
            created_at,
            buyer=buyer,
            option_name=subscription.tier,
            recurrence=subscription.recurrence,
            subscription=subscription,
            recurring_charge=True,
        )
        for name in ("country", "country_iso2", "state", "zip_code", "ip_country"):
            setattr(row, name, getattr(first, name))
        row.custom_fields = dict(first.custom_fields)
    else:
        recurrence = "monthly" if rng.random() < 0.8 else "yearly"
        subscription = Subscription(
            key=len(state.subscriptions) + 1,
            id=external_id(rng),
            product=product,
            email="",
            created_at=created_at,
            recurrence=recurrence,
            tier=rng.choice(product.variant_options).name,
        )
        row = builder.make_sale(
            product,
            created_at,
            option_name=subscription.tier,
            recurrence=recurrence,
            subscription=subscription,
        )
        subscription.email = row.email
        subscription.user_id = row.purchaser_id
        subscription.user_email = row.account_email or (
            row.email if row.purchaser_id else None
        )
        subscription.license = builder.new_license()
        state.subscriptions.append(subscription)
    subscription.purchases.append(row)
    if subscription.recurrence == "monthly":
        due = created_at + timedelta(days=30)
        heapq.heappush(due_subscriptions, (due, subscription.key, subscription))
    return row


def apply_history(rng, state, now):
    """Refunds, disputes and cancellations that happened before the sandbox started."""
    for row in state.rows:
        if not row.listed or not row.paid:
            continue
        draw = rng.random()
        if draw < 0.05:
            row.refunds = [row.listed_total]
        elif draw < 0.10:
            first = max(
                1, round_half_up(row.listed_total * rng.choice((0.2, 0.3, 0.5)))
            )
            row.refunds = [first]
            if rng.random() < 0.3:
                # A second partial refund; sometimes it brings the total to the price.
                second = row.listed_total - first if rng.random() < 0.3 else first // 2
                total = min(row.listed_total, first + max(second, 1))
                if total > first:
                    row.refunds.append(total - first)
        elif draw < 0.12 and row.subscription is None:
            row.disputed = True
            row.refunds_before_dispute = 0
            row.dispute_won = rng.random() < 0.5
    for subscription in state.subscriptions:
        if rng.random() < 0.15:
            last = subscription.purchases[-1].created_at
            months = RECURRENCE_MONTHS[subscription.recurrence]
            requested = last + timedelta(days=rng.randrange(1, 20))
            if requested >= now:
                continue
            subscription.user_requested_cancellation_at = requested
            subscription.cancelled_at = last + timedelta(days=30 * months)
            subscription.cancelled_by = "buyer"
            if subscription.cancelled_at <= now:
                subscription.ended_at = subscription.cancelled_at
                subscription.ended_reason = "cancelled"


def build_payouts(rng, state, start_date, now):
    """Weekly Friday payouts of the sales from the week before last.

    A week that earned nothing is not paid out (Gumroad pays a positive balance
    only): its sales, if any, go with the next payout.
    """
    payouts = []
    first_friday = start_date + timedelta(days=(4 - start_date.weekday()) % 7 + 7)
    friday = first_friday
    key = 1
    listed = [row for row in state.rows if row.listed and row.paid]
    times = [row.created_at for row in listed]
    period_start = None
    while utc_midnight(friday) + timedelta(hours=9) < now:
        # Drawn for every week, paid or not, so that no later demo value shifts.
        paid_at = utc_midnight(friday) + timedelta(hours=9, seconds=rng.randrange(3600))
        payout_id = external_id(rng)
        period_end = utc_midnight(friday - timedelta(days=7))
        if period_start is None:
            period_start = period_end - timedelta(days=7)
        rows = listed[bisect_left(times, period_start) : bisect_left(times, period_end)]
        amount_cents = sum(row.earnings_usd() for row in rows)
        friday += timedelta(days=7)
        if amount_cents <= 0:
            continue
        payout = Payout(
            key=key,
            id=payout_id,
            created_at=paid_at,
            amount_cents=amount_cents,
            processed_at=paid_at + timedelta(hours=2),
            sale_ids=[row.id for row in rows],
            refunded_sale_ids=[row.id for row in rows if row.refunded_listed],
            disputed_sale_ids=[row.id for row in rows if row.disputed],
            period_start=period_start,
            period_end=period_end,
        )
        payouts.append(payout)
        key += 1
        period_start = None
    return payouts
