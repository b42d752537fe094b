"""The sandbox's state: indexes for O(page) queries and the mutations Gumroad allows.

Callers hold `self.lock` around every call (the HTTP threads and the test API share
the state); mutations return the ping events Gumroad would queue, and the server
delivers them.
"""

import dataclasses
import threading
from bisect import bisect_left, bisect_right
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from . import demo, ledger, payout_rows
from .currency import get_currency, round_half_up
from .ids import derived_id, external_id, row_key_for
from .records import (
    RECURRENCE_MONTHS,
    RESOURCE_NAMES,
    Credit,
    Payout,
    Preorder,
    ResourceSubscription,
    Subscription,
    VariantCategory,
    make_direct,
    price_sale,
    reprice,
)

UTC = timezone.utc
PingEvent = namedtuple("PingEvent", "resource_name sale subscription extra")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0")
# What a renewal charge takes over from the subscription's first purchase.
RENEWAL_COPIES = (
    "country",
    "country_iso2",
    "state",
    "zip_code",
    "ip_country",
    "custom_fields",
    "card_type",
    "card_visual",
)
# Sale attributes add_sale may set directly after the purchase is priced.
ROW_OVERRIDES = (
    "purchaser_id",
    "url_params",
    "affiliate_email",
    "referrer",
    "can_contact",
    "street_address",
    "city",
    "sku_id",
)


# add_sale options that change what the sale's money is made of (G1-G8).
MONEY_OPTIONS = (
    "affiliate_credit_cents",
    "payment_processor",
    "processor_fee_cents",
    "shipping_cents",
    "tip_cents",
    "seller_tax_cents",
    "gumroad_tax_cents",
)
PAYMENT_PROCESSORS = ("paypal", "stripe_connect")


class SandboxError(Exception):
    """A request Gumroad refuses with 200 {"success": false, "message": ...}."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class SortedRows:
    """Rows ascending by (created_at, key), read newest first from a bisected range."""

    def __init__(self):
        self.keys = []
        self.rows = []

    def add(self, row):
        key = row.sort_key
        if not self.keys or key >= self.keys[-1]:
            self.keys.append(key)  # the common case: rows arrive in time order
            self.rows.append(row)
            return
        position = bisect_right(self.keys, key)
        self.keys.insert(position, key)
        self.rows.insert(position, row)

    def __len__(self):
        return len(self.rows)

    def newest_first(self, after=None, before=None, cursor=None):
        """created_at >= after, created_at < before, and Gumroad's page condition
        `created_at <= cursor_time AND id < cursor_id`."""
        low = bisect_left(self.keys, (after, -1)) if after else 0
        high = bisect_left(self.keys, (before, -1)) if before else len(self.keys)
        if cursor is not None:
            cursor_time, cursor_key = cursor
            high = min(high, bisect_right(self.keys, (cursor_time, float("inf"))))
        for position in range(high - 1, low - 1, -1):
            row = self.rows[position]
            if cursor is not None and row.key >= cursor_key:
                continue
            yield row


class SandboxStore:
    def __init__(self, *, seed, sales, products, start_date, end_date, clock):
        self.lock = threading.RLock()
        self.clock = clock
        state = demo.generate(
            seed=seed,
            sales=sales,
            products=products,
            start_date=start_date,
            end_date=end_date,
            now=clock(),
        )
        self.seller = state.seller
        self.products = state.products
        self.universal_offer_codes = []
        for product in self.products:
            _name_catalogue(product)
        self.builder = state.builder
        # Runtime additions draw from their own stream so the demo data stays fixed.
        self.builder.rng.seed(f"{seed}:runtime")
        self.next_key = state.next_key
        self.subscriptions = {sub.id: sub for sub in state.subscriptions}
        self.payouts = sorted(state.payouts, key=lambda p: (p.created_at, p.key))
        self.resource_subscriptions = []
        self.revoked_tokens = set()
        self.rows_by_id = {}
        self.rows_by_key = {}
        self.listed = SortedRows()
        self.listed_by_product = {}
        self.listed_by_email = {}
        self.licenses = {}  # serial -> row holding it
        for row in state.rows:
            self._index(row)
        self.credits = []  # add_credit: Gumroad's own credits and debits
        self._count_demo_payouts()

    # -- indexes ---------------------------------------------------------------------
    def _index(self, row):
        self.rows_by_id[row.id] = row
        self.rows_by_key[row.key] = row
        if row.license is not None:
            self.licenses[row.license.serial] = row
        if row.subscription is not None and row.subscription.license is not None:
            self.licenses.setdefault(
                row.subscription.license.serial, row.subscription.original_purchase
            )
        if not row.listed:
            return
        self.listed.add(row)
        self.listed_by_product.setdefault(row.product.key, SortedRows()).add(row)
        self.listed_by_email.setdefault(row.email, SortedRows()).add(row)

    def _key_for(self, created_at):
        """A row key that keeps keys in created_at order (see demo.KEY_SPACING)."""
        keys = self.listed.keys
        if not keys or created_at >= keys[-1][0]:
            key = self.next_key
            self.next_key += demo.KEY_SPACING
            return key
        position = bisect_right(keys, (created_at, float("inf")))
        lower = keys[position - 1][1] if position else 0
        upper = keys[position][1]
        while upper - lower < 2 or (lower + upper) // 2 in self.rows_by_key:
            # The gap is used up: fall back to the top key. Gumroad itself never
            # back-dates a sale; such a row may then be skipped by page_key paging.
            key = self.next_key
            self.next_key += demo.KEY_SPACING
            return key
        return (lower + upper) // 2

    # -- lookups ---------------------------------------------------------------------
    def now(self):
        return self.clock()

    def product(self, product_id, *, include_deleted=False, custom_permalink=False):
        """By external id or unique permalink (base_controller.rb:22-25); the custom
        permalink too when `custom_permalink` (legacy license lookups)."""
        for product in self.products:
            names = (product.id, product.unique_permalink)
            if custom_permalink:
                names += (product.custom_permalink,)
            if product_id in names:
                if product.deleted and not include_deleted:
                    return None
                return product
        return None

    def visible_products(self):
        return [product for product in self.products if not product.deleted]

    def sale(self, sale_id):
        return self.rows_by_id.get(sale_id)

    def sale_by_order_id(self, order_id):
        return self.rows_by_key.get(row_key_for(order_id))

    def product_stats(self, product):
        rows = self.listed_by_product.get(product.key)
        if rows is None:
            return 0, 0
        return len(rows), sum(row.price for row in rows.rows)

    def query_sales(
        self,
        *,
        after=None,
        before=None,
        product=None,
        product_given=False,
        email=None,
        order_id=None,
        name=None,
        license_key=None,
        cursor=None,
        limit=10,
    ):
        """One page of listed sales, newest first, plus whether another page exists."""
        if product_given and product is None:
            return [], False  # a valid id of another seller's product: empty list
        if order_id is not None:
            row = self.sale_by_order_id(order_id)
            source = SortedRows()
            if row is not None and row.listed:
                source.add(row)
        elif product is not None:
            source = self.listed_by_product.get(product.key, SortedRows())
        elif email is not None:
            source = self.listed_by_email.get(email, SortedRows())
        else:
            source = self.listed
        page = []
        for row in source.newest_first(after, before, cursor):
            if not self._matches(row, product, email, name, license_key):
                continue
            page.append(row)
            if len(page) > limit:
                return page[:limit], True
        return page, False

    @staticmethod
    def _matches(row, product, email, name, license_key):
        if product is not None and row.product is not product:
            return False
        if email is not None and row.email != email:
            return False
        if name is not None and name.lower() not in (row.full_name or "").lower():
            return False
        if license_key is not None:
            shown = row.shown_license
            return shown is not None and shown.serial == license_key.upper()
        return True

    def data_bounds(self):
        """Earliest and latest created_at of listed sales (None when empty)."""
        if not self.listed.keys:
            return None, None
        return self.listed.keys[0][0], self.listed.keys[-1][0]

    def active_subscribers(self, product, email=None):
        now = self.now()
        rows = [
            sub
            for sub in self.subscriptions.values()
            if sub.product is product
            and sub.is_active(now)
            and (email is None or sub.email == email)
        ]
        rows.sort(key=lambda sub: (sub.created_at, sub.key), reverse=True)
        return rows

    def sales_summary(self, start, end, group_by=None):
        """Api::V2::SalesSummary: charged sales of [start, end) in USD cents.

        CHARGED_SALES_SEARCH_OPTIONS with refunds and chargebacks kept in: every listed
        charged row (gift receivers and free-trial rows are not charged). `group_by`
        is None or a function row -> (key, label); buckets come back unordered.
        """
        rows = [
            row
            for row in self.listed.newest_first(after=start, before=end)
            if row.gift_role != "receiver"
        ]
        total = _summary_of(rows)
        if group_by is None:
            return total, None
        buckets = {}
        for row in rows:
            buckets.setdefault(group_by(row), []).append(row)
        breakdown = [
            {**_summary_of(members), "key": key, "label": label}
            for (key, label), members in buckets.items()
        ]
        return total, breakdown

    def upcoming_payout(self):
        """The next Friday's payout: what the balance gained since the last one."""
        now = self.now()
        last_end = self.payouts[-1].period_end if self.payouts else None
        period_start = last_end or demo.utc_midnight(now.date() - timedelta(days=14))
        rows = [
            row
            for row in self.listed.newest_first(after=period_start)
            if row.paid and row.created_at < now
        ]
        days_to_friday = (4 - now.weekday()) % 7 or 7
        created_at = demo.utc_midnight(now.date() + timedelta(days=days_to_friday))
        transactions, _counted, _credits = self._uncounted(
            now, created_at.date().isoformat()
        )
        return Payout(
            key=0,
            id=None,
            created_at=created_at,
            amount_cents=sum(t[-1] for t in transactions),
            status="upcoming",
            sale_ids=[row.id for row in rows],
            refunded_sale_ids=[row.id for row in rows if row.refunded_listed],
            disputed_sale_ids=[row.id for row in rows if row.disputed],
            transactions=transactions,
        )

    # -- payout transactions (payout_rows) ------------------------------------------
    def _count_demo_payouts(self):
        """The demo's payouts counted their sales as the demo left them."""
        self.counted = {}
        self.counted_credits = set()
        for payout in self.payouts:
            sales = [self.rows_by_id[sale_id] for sale_id in payout.sale_ids]
            day = (payout.period_end - timedelta(days=1)).date().isoformat()
            payout.transactions, self.counted, _credits = payout_rows.rows_for(
                sales, [], self.counted, day
            )

    def _uncounted(self, now, day):
        sales = [row for row in self.listed.rows if row.paid and row.created_at <= now]
        credits = [
            c
            for c in self.credits
            if c.key not in self.counted_credits and c.created_at <= now
        ]
        return payout_rows.rows_for(sales, credits, self.counted, day)

    def add_credit(self, amount_cents, reason=""):
        """Gumroad credits (or, negative, debits) the seller's balance by hand."""
        amount = int(amount_cents)
        if amount == 0:
            raise SandboxError("A credit needs an amount.")
        credit = Credit(
            key=len(self.credits) + 1,
            created_at=self.now(),
            amount_cents=amount,
            reason=str(reason or ""),
        )
        self.credits.append(credit)
        return credit

    def balance(self):
        """The seller's Gumroad balance in USD cents, and what makes it up.

        Every listed charged sale books by Gumroad's rules (ledger.py, G1-G8); every
        completed payout takes its amount out; credits add theirs. The money keys
        cover the sales through Gumroad's own account, so that

            earned = gross - refunded - fees - affiliate - retained
            balance = earned + credits - paid_out

        (`refunded` counts refunds and chargebacks less won disputes, `fees` and
        `affiliate` what the sales still pay after what refunds gave back, `retained`
        the processor fees Gumroad kept on refunds). Direct sales (PayPal, Stripe
        Connect) never touch the balance: `direct_sales_cents` is what they left in
        the seller's own accounts,

            direct_sales = direct_gross - direct_refunded - direct_fees
                           - direct_affiliate - direct_processor_fees

        (a refund of a direct sale gives neither fee nor affiliate credit back, see
        ledger.py; a dashboard of every sale adds the direct_* keys to the others).
        Pre-order authorizations book nothing. A refund of
        a sale already paid out makes the balance lower, as Gumroad deducts it from
        the next payout.
        """
        now = self.now()
        rows = [row for row in self.listed.rows if row.paid and row.created_at <= now]
        paid_out = sum(
            p.amount_cents
            for p in self.payouts
            if p.status == "completed" and p.created_at <= now
        )
        totals = dict.fromkeys(
            ("gross", "refunded", "fees", "affiliate", "retained", "direct"), 0
        )
        direct = dict.fromkeys(
            ("gross", "refunded", "fees", "affiliate", "processor_fees"), 0
        )
        for row in rows:
            if row.direct:
                totals["direct"] += ledger.direct_net(row)
                booked = ledger.moves(row)
                direct["gross"] += row.price
                direct["refunded"] -= sum(move.gross for move in booked[1:])
                direct["fees"] += row.fee
                direct["affiliate"] += row.affiliate_credit_cents
                direct["processor_fees"] += row.processor_fee_cents or 0
                continue
            for move in ledger.moves(row):
                if move.kind == ledger.SALE:
                    totals["gross"] += move.gross
                else:
                    totals["refunded"] -= move.gross
                totals["fees"] += move.fee
                totals["affiliate"] += move.affiliate
                totals["retained"] += move.retained
        earned = (
            totals["gross"]
            - totals["refunded"]
            - totals["fees"]
            - totals["affiliate"]
            - totals["retained"]
        )
        credited = sum(c.amount_cents for c in self.credits if c.created_at <= now)
        return {
            "gross_cents": totals["gross"],
            "refunded_cents": totals["refunded"],
            "fees_cents": totals["fees"],
            "affiliate_cents": totals["affiliate"],
            "retained_cents": totals["retained"],
            "earned_cents": earned,
            "paid_out_cents": paid_out,
            "credits_cents": credited,
            "balance_cents": earned + credited - paid_out,
            "direct_sales_cents": totals["direct"],
            **{f"direct_{name}_cents": value for name, value in direct.items()},
            "payouts": sum(1 for p in self.payouts if p.status == "completed"),
        }

    def pay_out(self):
        """Pay the whole balance out now: a completed payout of the sales since the
        last payout's period. Returns the Payout."""
        amount = self.balance()["balance_cents"]
        if amount <= 0:
            raise SandboxError(
                "The balance is not positive: there is nothing to pay out."
            )
        now = self.now()
        last_end = self.payouts[-1].period_end if self.payouts else None
        rows = [
            row
            for row in self.listed.newest_first(after=last_end)
            if row.paid and row.created_at <= now
        ]
        rows.reverse()
        transactions, counted, credits = self._uncounted(now, now.date().isoformat())
        payout = Payout(
            key=max((p.key for p in self.payouts), default=0) + 1,
            id=external_id(self.builder.rng),
            created_at=now,
            amount_cents=amount,
            processed_at=now,
            sale_ids=[row.id for row in rows],
            refunded_sale_ids=[row.id for row in rows if row.refunded_listed],
            disputed_sale_ids=[row.id for row in rows if row.disputed],
            period_start=last_end,
            period_end=now + timedelta(microseconds=1),
            transactions=transactions,
        )
        self.counted = counted
        self.counted_credits.update(c.key for c in credits)
        self.payouts.append(payout)
        return payout

    def license_row(self, product, serial):
        row = self.licenses.get((serial or "").strip())
        if row is None or (product is not None and row.product is not product):
            return None
        return row

    # -- sales -----------------------------------------------------------------------
    def add_sale(self, **overrides):
        """Record a new successful purchase; returns (row, events)."""
        options = dict(overrides)
        created_at = to_datetime(options.pop("created_at", None)) or self.now()
        subscription_id = options.pop("subscription_id", None)
        product_id = options.pop("product_id", None)
        if subscription_id is not None and product_id is None:
            product_id = self.subscription(subscription_id).product.id
        product = self._product_for_new_sale(product_id)
        giftee_email = options.pop("giftee_email", None)
        if giftee_email and product.is_tiered_membership:
            raise SandboxError("The sandbox does not imitate gifted memberships.")
        is_test = bool(options.pop("test", False))
        preorder = bool(options.pop("preorder", False))
        if preorder and (
            giftee_email or subscription_id or product.is_tiered_membership
        ):
            raise SandboxError(
                "The sandbox imitates pre-orders of one-off products only."
            )
        buyer_currency = bool(options.pop("buyer_currency", False))
        if buyer_currency and product.currency.code == "usd":
            # buyer_presentment is omitted for ordinary USD-accounted sales.
            raise SandboxError("A USD product's sale is charged in US dollars.")
        offer = self._offer_for(product, options.pop("offer_code", None))
        row = self._build_row(product, created_at, offer, subscription_id, options)
        # Charged in the buyer's (here the listed) currency: the sale carries
        # `buyer_presentment`, the only block that proves who collected its tax.
        row.presentment = row.presentment or buyer_currency
        if preorder:
            # preorder.rb: the authorization charges nothing, is not in GET /sales,
            # and is pinged (is_preorder_authorization=true).
            row.is_preorder_authorization = True
            row.listed = False
            row.preorder = Preorder(created_at=row.created_at, authorization=row)
        if is_test:
            # The seller buying their own product: a test purchase, never listed.
            row.test = True
            row.listed = False
            row.email = self.seller.email
            row.purchaser_id = self.seller.external_id
        row.key = self._key_for(created_at)
        events = []
        if giftee_email:
            receiver = self.builder.make_gift_receiver(row, giftee_email)
            # The receiver row is never listed, so its key need not follow time order.
            receiver.key = self.next_key
            self.next_key += demo.KEY_SPACING
            self._index(row)
            self._index(receiver)
            # Gumroad never pings a gift sender's purchase; the receiver's is pinged.
            events.append(PingEvent("sale", receiver, None, None))
            return row, events
        self._index(row)
        events.append(PingEvent("sale", row, None, None))
        return row, events

    def release_preorder(self, sale_id):
        """Preorder#charge!: the authorization's product, price, buyer, affiliate and
        address charged now as a NEW listed sale with `preorder_authorization_time`;
        returns (new row, its `sale` ping)."""
        authorization = self._existing_sale(sale_id)
        preorder = authorization.preorder
        if not authorization.is_preorder_authorization or preorder is None:
            raise SandboxError("The sale is not a pre-order authorization.")
        if preorder.charge is not None or preorder.cancelled:
            raise SandboxError("The pre-order was already charged.")
        now = self.now()
        row = dataclasses.replace(
            authorization,
            id=external_id(self.builder.rng),
            created_at=now,
            listed=True,
            is_preorder_authorization=False,
            refunds=[],
            refunds_before_dispute=None,
            disputed=False,
            dispute_won=False,
            variants=dict(authorization.variants),
            custom_fields=dict(authorization.custom_fields),
            url_params=dict(authorization.url_params),
            license=None,
        )
        if row.payment_processor is not None:
            make_direct(
                row, row.payment_processor, self.builder.rng, row.processor_fee_cents
            )
        row.key = self._key_for(now)
        preorder.charge = row
        self._index(row)
        return row, [PingEvent("sale", row, None, None)]

    def _product_for_new_sale(self, product_id):
        if product_id is None:
            candidates = [p for p in self.products if p.published and not p.deleted]
            return demo.weighted(self.builder.rng, [(p, p.weight) for p in candidates])
        product = self.product(product_id)
        if product is None:
            raise SandboxError("The product was not found.")
        return product

    @staticmethod
    def _offer_for(product, code):
        if code is None:
            return None
        for offer in product.offer_codes:
            if offer.code == code:
                return offer
        raise SandboxError("The offer_code was not found.")

    def _build_row(self, product, created_at, offer, subscription_id, options):
        subscription = None
        if subscription_id is not None:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                raise SandboxError("The subscription was not found.")
        buyer = self._buyer_for(options, subscription)
        make_kwargs = {
            "buyer": buyer,
            "option_name": options.pop("variant", None),
            "recurrence": options.pop("recurrence", None),
            "quantity": options.pop("quantity", None),
            "offer_code": offer,
            "pay_what_you_want": options.pop("pay_what_you_want", None),
        }
        custom_fields = options.pop("custom_fields", None)
        listed_amount = options.pop("listed_amount_cents", None)
        row_overrides = {
            name: options.pop(name) for name in ROW_OVERRIDES if name in options
        }
        money = {name: options.pop(name) for name in MONEY_OPTIONS if name in options}
        if options:
            raise SandboxError(f"Unknown add_sale options: {sorted(options)}")
        if subscription is not None:
            make_kwargs.update(
                option_name=subscription.tier, recurrence=subscription.recurrence
            )
            make_kwargs.pop("offer_code")  # renewals keep no new offer code
        row = self.builder.make_sale(
            product,
            created_at,
            subscription=subscription,
            recurring_charge=subscription is not None,
            **make_kwargs,
        )
        if custom_fields is not None:
            row.custom_fields = dict(custom_fields)
        if listed_amount is not None:
            row.listed_total, row.price, row.fee = price_sale(
                product.currency, int(listed_amount), 1, None
            )
        if subscription is not None:
            first = subscription.original_purchase
            for name in RENEWAL_COPIES:
                setattr(row, name, getattr(first, name))
        for name, value in row_overrides.items():
            setattr(row, name, value)
        apply_money_options(row, money, self.builder.rng)
        if product.is_tiered_membership:
            if subscription is None:
                subscription = self._new_subscription(product, row)
            subscription.purchases.append(row)
            row.subscription = subscription
        return row

    def _buyer_for(self, options, subscription):
        if subscription is not None:
            first = subscription.original_purchase
            return demo.Buyer(
                first.email,
                first.account_email,
                first.purchaser_id,
                first.full_name,
                None,
            )
        email = options.pop("email", None)
        full_name = options.pop("full_name", None)
        country_iso2 = options.pop("country_iso2", None)
        buyer = self.builder.new_buyer()
        if email is not None:
            buyer.email = email
        if full_name is not None:
            buyer.full_name = full_name
        if country_iso2 is not None:
            for name, iso2, _w, _tld, regions in demo.COUNTRIES:
                if iso2 == country_iso2:
                    state = regions[0][0] if regions else None
                    zip_code = f"{regions[0][1]}001" if regions else None
                    buyer.country = (name, iso2, state, zip_code)
        return buyer

    def _new_subscription(self, product, row):
        # The license of a membership belongs to the subscription, shared by renewals.
        subscription = Subscription(
            key=len(self.subscriptions) + 1,
            id=external_id(self.builder.rng),
            product=product,
            email=row.email,
            created_at=row.created_at,
            recurrence=row.recurrence,
            tier=next(iter(row.variants.values()), None),
            user_id=row.purchaser_id,
            user_email=row.account_email or (row.email if row.purchaser_id else None),
            license=row.license,
        )
        row.license = None
        self.subscriptions[subscription.id] = subscription
        return subscription

    def refund(self, sale_id, amount_cents=None):
        """Refund `amount_cents` listed minor units (all that is left when None)."""
        row = self._existing_sale(sale_id)
        if row.fully_refunded:
            raise SandboxError("Purchase is already refunded.")
        if not row.paid or row.chargedback or row.is_preorder_authorization:
            # An authorization charged nothing: there is nothing to refund.
            raise SandboxError("The sale was unable to be modified.")
        amount = (
            row.refundable_listed if amount_cents in (None, "") else int(amount_cents)
        )
        if amount <= 0:
            raise SandboxError("The sale was unable to be modified.")
        if amount > row.refundable_listed:
            raise SandboxError(
                "Refund amount cannot be greater than the purchase price."
            )
        row.refunds.append(amount)
        if row.gift_role == "sender":
            return row, []  # no refund ping for gifts (purchase.rb:4856-4860)
        return row, [PingEvent("refund", row, None, None)]

    def dispute(self, sale_id):
        row = self._paid_row(sale_id)
        if row.disputed or row.is_preorder_authorization:
            raise SandboxError("The sale was unable to be modified.")
        row.disputed = True
        row.dispute_won = False
        row.refunds_before_dispute = len(row.refunds)
        if row.gift_peer is not None:  # mark_giftee_purchase_as_chargeback
            row.gift_peer.disputed = True
        events = [PingEvent("dispute", row, None, None)]
        subscription = row.subscription
        if subscription is not None and subscription.ended_at is None:
            events.extend(self._cancel_now(subscription, by="buyer"))
        return row, events

    def win_dispute(self, sale_id):
        row = self._paid_row(sale_id)
        if not row.disputed or row.dispute_won:
            raise SandboxError("The sale was unable to be modified.")
        row.dispute_won = True
        if row.gift_peer is not None:
            row.gift_peer.dispute_won = True
        events = []
        if not row.fully_refunded:
            events.append(PingEvent("dispute_won", row, None, None))
        subscription = row.subscription
        if subscription is not None and subscription.ended_at is not None:
            events.extend(self.restart_subscription(subscription.id)[1])
        return row, events

    def _existing_sale(self, sale_id):
        row = self.rows_by_id.get(sale_id)
        if row is None:
            raise SandboxError("The sale was not found.")
        return row

    def _paid_row(self, sale_id):
        row = self._existing_sale(sale_id)
        if row.gift_role == "receiver":
            row = row.gift_peer  # disputes happen on the charge, i.e. the sender's row
        return row

    # -- subscriptions ---------------------------------------------------------------
    def subscription(self, subscription_id):
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise SandboxError("The subscription was not found.")
        return subscription

    def cancel_subscription(self, subscription_id, *, by="buyer", immediately=False):
        """Cancel like Gumroad: at the end of the paid period unless `immediately`.

        `by` is buyer, seller, admin or payment_failure."""
        subscription = self.subscription(subscription_id)
        if subscription.ended_at is not None or subscription.cancelled_at is not None:
            raise SandboxError("The subscription was unable to be modified.")
        if immediately:
            return subscription, self._cancel_now(subscription, by=by)
        now = self.now()
        if by == "payment_failure":
            subscription.failed_at = now
            return subscription, [PingEvent("cancellation", None, subscription, None)]
        last_charge = subscription.purchases[-1].created_at
        months = RECURRENCE_MONTHS[subscription.recurrence]
        subscription.user_requested_cancellation_at = now
        subscription.cancelled_at = max(last_charge + timedelta(days=30 * months), now)
        subscription.cancelled_by = by
        return subscription, [PingEvent("cancellation", None, subscription, None)]

    def _cancel_now(self, subscription, *, by):
        now = self.now()
        subscription.cancelled_at = now
        subscription.cancelled_by = by
        subscription.ended_at = now
        subscription.ended_reason = "cancelled"
        return [
            PingEvent("cancellation", None, subscription, None),
            PingEvent("subscription_ended", None, subscription, None),
        ]

    def end_subscription(self, subscription_id, reason=None):
        """The moment a subscription really ends (e.g. its cancelled period is over)."""
        subscription = self.subscription(subscription_id)
        if subscription.ended_at is not None:
            raise SandboxError("The subscription was unable to be modified.")
        subscription.ended_at = self.now()
        if reason is None:
            reason = "failed_payment" if subscription.failed_at else "cancelled"
        subscription.ended_reason = reason
        return subscription, [PingEvent("subscription_ended", None, subscription, None)]

    def restart_subscription(self, subscription_id):
        subscription = self.subscription(subscription_id)
        subscription.cancelled_at = subscription.cancelled_by = None
        subscription.ended_at = subscription.ended_reason = None
        subscription.failed_at = subscription.user_requested_cancellation_at = None
        subscription.restarted_at = self.now()
        extra = {"restarted_at": subscription.restarted_at}
        return subscription, [
            PingEvent("subscription_restarted", None, subscription, extra)
        ]

    def change_plan(self, subscription_id, *, tier=None, recurrence=None):
        """Upgrade or downgrade a tiered membership (sends subscription_updated)."""
        subscription = self.subscription(subscription_id)
        if not subscription.product.is_tiered_membership:
            raise SandboxError("The subscription was unable to be modified.")
        old_plan = plan_of(subscription)
        if tier is not None:
            subscription.product.option(tier)  # raises on an unknown tier
            subscription.tier = tier
        if recurrence is not None:
            subscription.recurrence = recurrence
        new_plan = plan_of(subscription)
        change = (
            "upgrade"
            if new_plan["price_cents"] >= old_plan["price_cents"]
            else ("downgrade")
        )
        extra = {
            "type": change,
            "effective_as_of": self.now(),
            "old_plan": old_plan,
            "new_plan": new_plan,
        }
        subscription.last_plan_change = extra
        return subscription, [
            PingEvent("subscription_updated", None, subscription, extra)
        ]

    # -- products --------------------------------------------------------------------
    def set_product(self, product_id, **changes):
        product = self.product(product_id, include_deleted=True)
        if product is None:
            raise SandboxError("The product was not found.")
        for name, value in changes.items():
            if name == "currency":
                value = get_currency(value)
            if not hasattr(product, name) or name in ("key", "id"):
                raise SandboxError(f"Products have no settable field {name!r}.")
            setattr(product, name, value)
        return product

    def delete_product(self, product_id):
        """Soft delete; Gumroad then cancels every active subscription to it."""
        product = self.product(product_id)
        if product is None:
            raise SandboxError("The product was not found.")
        product.deleted = True
        events = []
        now = self.now()
        for subscription in self.subscriptions.values():
            if subscription.product is product and subscription.is_active(now):
                events.extend(self._cancel_now(subscription, by="seller"))
        return product, events

    # -- resource subscriptions ------------------------------------------------------
    def add_resource_subscription(self, token, resource_name, post_url, allow_loopback):
        if resource_name not in RESOURCE_NAMES:
            # The controller interpolates a nil local variable, so the name is empty.
            raise SandboxError("Unable to subscribe to ''.")
        if not valid_post_url(post_url, allow_loopback):
            raise SandboxError(f"Invalid post URL '{post_url or ''}'")
        subscription = ResourceSubscription(
            id=external_id(self.builder.rng),
            resource_name=resource_name,
            post_url=post_url,
            token=token,
        )
        self.resource_subscriptions.append(subscription)
        return subscription

    def alive_resource_subscriptions(self, resource_name=None):
        return [
            sub
            for sub in self.resource_subscriptions
            if not sub.deleted
            and (resource_name is None or sub.resource_name == resource_name)
        ]

    def delete_resource_subscription(self, token, subscription_id):
        for sub in self.alive_resource_subscriptions():
            if sub.id == subscription_id and sub.token == token:
                sub.deleted = True
                return sub
        raise SandboxError("The resource_subscription was not found.")

    def revoke_token(self, token):
        """Revoking an app's access also soft-deletes its resource subscriptions."""
        self.revoked_tokens.add(token)
        for sub in self.resource_subscriptions:
            if sub.token == token:
                sub.deleted = True


def _int_option(money, name):
    value = money.get(name)
    if value in (None, ""):
        return None
    value = int(value)
    if value < 0:
        raise SandboxError(f"{name} cannot be negative.")
    return value


def apply_money_options(row, money, rng):
    """add_sale's money options on a priced row: amounts USD cents.

    Shipping (physical products only), a tip and seller-collected tax are added to
    `price` (purchase.rb process_without_charging!), and the fee follows the new
    price; Gumroad-collected tax stays outside it (G8). An affiliate takes
    `affiliate_credit_cents` (default 10 % of price). `payment_processor` makes the
    sale direct (G6) with the processor's own fee."""
    shipping = _int_option(money, "shipping_cents")
    tip = _int_option(money, "tip_cents")
    seller_tax = _int_option(money, "seller_tax_cents")
    gumroad_tax = _int_option(money, "gumroad_tax_cents")
    if shipping is not None and row.product.kind != "physical":
        raise SandboxError("Only a physical product has shipping.")
    if seller_tax and gumroad_tax:
        raise SandboxError("A sale has seller tax or Gumroad tax, not both.")
    added = (shipping or 0) + (tip or 0) + (seller_tax or 0)
    if added:
        reprice(row, row.price + added)
    if shipping is not None:
        row.shipping_cents = shipping
    if tip:
        row.tip_cents = tip
    if seller_tax:
        row.tax_cents, row.seller_tax = seller_tax, True
        row.tax_label = row.tax_label or "Sales tax"
    if gumroad_tax:
        row.tax_cents, row.seller_tax = gumroad_tax, False
        row.tax_label = "Sales tax" if row.country_iso2 in ("US", None) else "VAT"
    if row.affiliate_email:
        credit = _int_option(money, "affiliate_credit_cents")
        row.affiliate_credit_cents = (
            round_half_up(row.price * 0.1) if credit is None else credit
        )
        if row.affiliate_credit_cents > row.price - row.fee:
            raise SandboxError("The affiliate credit is more than the sale earns.")
    elif money.get("affiliate_credit_cents") not in (None, "", 0, "0"):
        raise SandboxError("affiliate_credit_cents needs an affiliate_email.")
    else:
        row.affiliate_credit_cents = 0
    processor = money.get("payment_processor") or None
    if processor is not None:
        if processor not in PAYMENT_PROCESSORS:
            raise SandboxError(
                f"payment_processor must be one of {', '.join(PAYMENT_PROCESSORS)}."
            )
        make_direct(row, processor, rng, _int_option(money, "processor_fee_cents"))
    elif money.get("processor_fee_cents") not in (None, ""):
        raise SandboxError("processor_fee_cents needs a payment_processor.")


def _name_catalogue(product):
    """Ids for a product's offer codes and its variant category, from its own id."""
    for offer in product.offer_codes:
        offer.id = offer.id or derived_id(product.id, "offer_code", offer.code)
    if product.variant_options and not product.variant_categories:
        category = VariantCategory(
            id=derived_id(product.id, "variant_category"),
            title=product.variant_title,
            options=product.variant_options,  # the same list: edits show on both
        )
        product.variant_categories.append(category)


def _summary_of(rows):
    gross = sum(row.price for row in rows)
    refunded = sum(row.refunded_usd() for row in rows)
    return {
        "gross_cents": gross,
        "net_cents": gross - refunded,
        "units": len(rows),
        "refunded_cents": refunded,
        "refunded_units": sum(1 for row in rows if row.refunded_usd() > 0),
    }


def plan_of(subscription):
    return {
        "tier": {"id": tier_id(subscription), "name": subscription.tier},
        "recurrence": subscription.recurrence,
        "price_cents": subscription.price_cents(),
        "quantity": 1,
    }


def tier_id(subscription):
    return subscription.product.option(subscription.tier).id


def valid_post_url(post_url, allow_loopback):
    if not post_url:
        return False
    try:
        parts = urlsplit(post_url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return allow_loopback or parts.hostname not in LOOPBACK_HOSTS


def to_datetime(value):
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
