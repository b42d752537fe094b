"""Gumroad's JSON shapes for the sandbox's records (API v2 serializers, key by key)."""

from datetime import timezone
from urllib.parse import quote
from zoneinfo import ZoneInfo

from . import payout_rows
from .currency import (
    format_money,
    format_number,
    format_usd_cents,
    usd_cents_to_listed,
)
from .pings import iso_time, sale_payload
from .records import RECURRENCE_SUFFIX

UTC = timezone.utc
# Scopes that unlock the seller's private profile fields (user/as_json.rb:6-50).
PROFILE_SCOPES = {
    "edit_products",
    "view_sales",
    "revenue_share",
    "ifttt",
    "view_profile",
    "account",
}


def time_ago_in_words(then, now):
    """Rails distance_of_time_in_words(then, now) + " ago" (leap days ignored)."""
    minutes = round((now - then).total_seconds() / 60)
    if minutes <= 1:
        words = "less than a minute" if minutes <= 0 else "1 minute"
    elif minutes < 45:
        words = f"{minutes} minutes"
    elif minutes < 90:
        words = "about 1 hour"
    elif minutes < 1440:
        words = f"about {round(minutes / 60)} hours"
    elif minutes < 2520:
        words = "1 day"
    elif minutes < 43200:
        words = f"{round(minutes / 1440)} days"
    elif minutes < 86400:
        words = "about 1 month"
    elif minutes < 525600:
        words = f"{round(minutes / 43200)} months"
    else:
        years, remainder = divmod(minutes, 525600)
        plural = "s" if years > 1 else ""
        if remainder < 131400:
            words = f"about {years} year{plural}"
        elif remainder < 394200:
            words = f"over {years} year{plural}"
        else:
            words = f"almost {years + 1} years"
    return words + " ago"


def daystamp(moment, timezone_name):
    """Seller-time "%e %b %Y %l:%M %p", e.g. " 5 Jan 2021 11:38 AM" (space padded)."""
    local = moment.astimezone(ZoneInfo(timezone_name))
    hour = local.hour % 12 or 12
    return (
        f"{local.day:>2} {local.strftime('%b')} {local.year} "
        f"{hour:>2}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    )


def variants_and_quantity(row):
    parts = list(row.variants.values())
    if row.quantity > 1:
        parts.append(f"Qty: {row.quantity}")
    return f"({', '.join(parts)})" if parts else ""


def sale_json(row, seller, now):
    """Purchase#as_json(version: 2): nil values of the first block are left out."""
    product = row.product
    currency = row.currency
    total_text = format_money(row.listed_total, currency)
    display = total_text + RECURRENCE_SUFFIX.get(row.recurrence, "")
    refunded = row.fully_refunded if row.paid else None  # NULL column on $0 rows
    sale = {
        "id": row.id,
        "email": row.account_email or row.email,
        "seller_id": seller.user_id,
        "timestamp": time_ago_in_words(row.created_at, now),
        "daystamp": daystamp(row.created_at, seller.timezone),
        "created_at": iso_time(row.created_at),
        "product_name": product.name,
        "product_has_variants": bool(product.variant_options),
        "price": row.price,
        "gumroad_fee": row.fee,
        "is_bundle_purchase": False,
        "is_bundle_product_purchase": False,
        "subscription_duration": row.recurrence,
        "formatted_display_price": display,
        "transaction_url_for_seller": transaction_url_for_seller(row),
        "formatted_total_price": total_text,
        "currency_symbol": currency.symbol,
        "currency": currency.code,
        "amount_refundable_in_currency": format_number(row.refundable_listed, currency),
        "product_id": product.id,
        "product_permalink": product.unique_permalink,
        "refunded": refunded,
        "partially_refunded": row.partially_refunded,
        "chargedback": row.chargedback,
        "purchase_email": row.email,
        "giftee_email": row.giftee_email,
        "gifter_email": row.gifter_email,
        "full_name": row.full_name,
        "street_address": row.street_address,
        "city": row.city,
        "state": row.state,
        "zip_code": row.zip_code,
        "country": row.country,
        "country_iso2": row.country_iso2,
        "paid": row.paid,
        "has_variants": bool(row.variants),
        "variants": dict(row.variants) if row.variants else None,
        "variants_and_quantity": variants_and_quantity(row),
        "has_custom_fields": bool(row.custom_fields),
        "custom_fields": dict(row.custom_fields),
        "order_id": row.order_id,
        "is_product_physical": product.kind == "physical",
        "purchaser_id": row.purchaser_id,
        "is_recurring_billing": product.is_tiered_membership,
        "can_contact": row.can_contact,
        "is_following": row.is_following,
        "disputed": row.disputed,
        "dispute_won": row.dispute_won,
        "is_additional_contribution": False,
        "discover_fee_charged": False,
        "is_upgrade_purchase": False,
        "ppp": _ppp(row),
        "is_more_like_this_recommended": False,
        "is_gift_sender_purchase": row.gift_role == "sender",
        "is_gift_receiver_purchase": row.gift_role == "receiver",
        "referrer": row.referrer,
        "invoice_url": invoice_url(row) if row.paid else None,
        "upsell": dict(row.upsell) if row.upsell else None,
        "paypal_refund_expired": False,
        "utm_source": row.url_params.get("utm_source"),
        "utm_medium": row.url_params.get("utm_medium"),
        "utm_campaign": row.url_params.get("utm_campaign"),
        "utm_term": row.utm_term,
        "utm_content": row.utm_content,
        "tip_cents": row.tip_cents,
        "tax_cents": row.tax_cents,
        "shipping_cents": row.shipping_cents,
        "tax_label": row.tax_label,
        "tax_included_in_price": False if row.tax_label else None,
        "payment_processor": row.payment_processor,
        "processor_transaction_id": _if_direct(row, row.processor_transaction_id),
        "processor_fee_cents": _if_direct(row, row.processor_fee_cents),
        "processor_fee_currency": _if_direct(row, row.processor_fee_currency),
        "access_revoked": False,
        "preorder_authorization_time": _preorder_authorization_time(row),
        "variants_price_cents": row.variants_price_cents,
        "review": row.review,
        "cancellation_date": _iso_or_none(
            row.subscription.user_requested_cancellation_at
            if row.subscription
            else None
        ),
        "subscription_end_date": _termination_date(row.subscription),
        "sent_abandoned_cart_email": False,
        "buyer_presentment": _buyer_presentment(row),
    }
    sale = {key: value for key, value in sale.items() if value is not None}
    # From here on Gumroad adds keys without the nil filter, so nulls stay.
    sale["card"] = {
        "visual": row.card_visual,
        "type": row.card_type,
        "bin": None,
        "expiry_month": None,
        "expiry_year": None,
    }
    sale["product_rating"] = row.product_rating
    if product.reviews_count is not None:
        sale["reviews_count"] = product.reviews_count
        sale["average_rating"] = product.average_rating
    _add_conditional_sale_blocks(sale, row, now)
    sale["quantity"] = row.quantity
    return sale


def _if_direct(row, value):
    """The processor_* keys come only with payment_processor (purchase.rb)."""
    return value if row.payment_processor else None


def transaction_url_for_seller(row):
    """Only for Stripe Connect or direct PayPal sales (charge_processor.rb:229-233);
    the dashboard URL shapes are the sandbox's."""
    if row.payment_processor == "stripe_connect":
        return f"https://dashboard.stripe.com/payments/{row.processor_transaction_id}"
    if row.payment_processor == "paypal":
        return f"https://www.paypal.com/activity/payment/{row.processor_transaction_id}"
    return None


def _preorder_authorization_time(row):
    """preorder.created_at on a pre-order's release charge (is_preorder_charge?)."""
    if row.preorder is None or row.is_preorder_authorization:
        return None
    return iso_time(row.preorder.created_at)


def _ppp(row):
    """Purchase#ppp_info: the GeoIP country and the discount, e.g. "35%"."""
    if row.ppp_discount is None:
        return None
    return {"country": row.ip_country, "discount": f"{row.ppp_discount}%"}


def _termination_date(subscription):
    """Subscription#termination_date: (ended_at || cancelled_at || failed_at).to_date,
    a cancellation scheduled later included."""
    if subscription is None:
        return None
    moment = (
        subscription.ended_at or subscription.cancelled_at or subscription.failed_at
    )
    return moment.astimezone(UTC).date().isoformat() if moment else None


def _buyer_presentment(row):
    """Purchase#buyer_presentment_api_fields: only for a sale charged in the buyer's
    currency (here its listed currency), amounts in that currency's minor units."""
    if not row.presentment:
        return None
    currency = row.currency
    tax = usd_cents_to_listed(row.tax_cents, currency) if row.tax_label else 0
    seller_tax, gumroad_tax = (tax, 0) if row.seller_tax else (0, tax)
    tip = usd_cents_to_listed(row.tip_cents, currency) if row.tip_cents else 0
    return {
        "currency": currency.code,
        "price_cents": row.listed_total,
        "tip_cents": tip,
        "seller_tax_cents": seller_tax,
        "gumroad_tax_cents": gumroad_tax,
        "shipping_cents": usd_cents_to_listed(row.shipping_cents, currency),
        "total_cents": row.listed_total + gumroad_tax,
        "fx_rate": f"{1 / currency.usd_rate:.6f}",  # buyer currency per US dollar
        "refunded_cents": row.refunded_listed,
    }


def _iso_or_none(value):
    return iso_time(value) if value is not None else None


def _add_conditional_sale_blocks(sale, row, now):
    subscription = row.subscription
    if subscription is not None:
        sale["subscription_id"] = subscription.id
        sale["cancelled"] = (
            subscription.cancelled_at is not None or subscription.failed_at is not None
        )
        sale["dead"] = not subscription.is_active(now)
        sale["ended"] = subscription.ended_at is not None
        sale["free_trial_ended"] = None
        sale["free_trial_ends_on"] = None
        sale["recurring_charge"] = row.recurring_charge
    if row.preorder is not None:
        # Not nil-filtered: both the authorization and its charge carry them.
        sale["preorder_cancelled"] = row.preorder.cancelled
        sale["is_preorder_authorization"] = row.is_preorder_authorization
        sale["is_in_preorder_state"] = row.preorder.in_preorder_state
    shipment = row.shipment
    if shipment is None and row.product.kind == "physical":
        shipment = {"shipped": False, "tracking_url": None}
    if shipment is not None:
        sale["shipped"] = shipment["shipped"]
        sale["tracking_url"] = shipment["tracking_url"]
    if row.offer_code is not None:
        offer = row.offer_code
        if offer.percent_off is not None:
            amount_off = f"{offer.percent_off}%"
        else:
            amount_off = format_money(offer.amount_cents, row.currency)
        sale["offer_code"] = {
            "code": offer.code,
            "displayed_amount_off": amount_off,
            "name": offer.code,
        }
    if row.affiliate_email:
        sale["affiliate"] = {
            "email": row.affiliate_email,
            "amount": format_usd_cents(row.affiliate_credit_cents),
        }
    license_ = row.shown_license
    if license_ is not None:
        sale["license_key"] = license_.serial
        sale["license_id"] = license_.id
        sale["license_disabled"] = license_.disabled
        sale["license_uses"] = license_.uses
        sale["is_multiseat_license"] = license_.multiseat
    if row.product.kind == "physical":
        # purchase.rb:2427-2435: without SKUs the sku is the product's own.
        sale["sku_id"] = f"pid_{row.product.id}"
        sale["sku_external_id"] = f"pid_{row.product.id}"
    if row.shipping_cents > 0:
        sale["formatted_shipping_amount"] = format_money(
            usd_cents_to_listed(row.shipping_cents, row.currency), row.currency
        )


def invoice_url(row):
    return (
        f"https://gumroad.com/purchases/{row.id}/invoice/new"
        f"?email={quote(row.email, safe='')}"
    )


def formatted_product_price(product):
    if product.is_tiered_membership:
        cheapest = min(
            option.recurrence_prices[product.subscription_duration]
            for option in product.variant_options
        )
        text = format_money(cheapest, product.currency)
        return text + RECURRENCE_SUFFIX[product.subscription_duration]
    text = format_money(product.price, product.currency)
    return text + "+" if product.customizable_price else text


def product_json(product, seller, *, full=False, sales_stats=None):
    """Product#as_json for the API; `sales_stats` (count, usd cents) with view_sales."""
    data = {
        "name": product.name,
        "description": product.description,
        "require_shipping": product.kind == "physical",
        "preview_url": None,
        "custom_receipt": None,
        "customizable_price": product.customizable_price,
        "custom_permalink": product.custom_permalink,
        "subscription_duration": product.subscription_duration,
        "id": product.id,
        "url": None,
        "price": product.price,
        "currency": product.currency.code,
        "taxonomy_id": None,
        "category": None,
        "category_label": None,
        "short_url": product.long_url(seller),
        "landing_url": product.long_url(seller),
        "thumbnail_url": product.thumbnail_url,
        "tags": list(product.tags),
        "formatted_price": formatted_product_price(product),
        "published": product.published,
        "file_info": dict(product.file_info),
        "max_purchase_count": product.max_purchase_count,
        "deleted": product.deleted,
        "custom_fields": [
            {
                "id": spec.id,
                "type": spec.type,
                "name": spec.name,
                "required": spec.required,
                "collect_per_product": False,
            }
            for spec in product.custom_fields
        ],
        "custom_summary": None,
        "is_tiered_membership": product.is_tiered_membership,
        "recurrences": list(product.recurrences) if product.recurrences else None,
        "covers": [],
        "main_cover_id": None,
        "bundle_products": [],
        "variants": _variants_json(product, full),
    }
    if full:
        data.update(
            {
                "custom_html": None,
                "refund_policy": {
                    "refund_period": 30,
                    "title": "30-day money back guarantee",
                    "fine_print": None,
                    "inherited": True,
                },
                "rich_content": [],
                "has_same_rich_content_for_all_variants": True,
                "main_section_index": 0,
                "sections": [],
                "files": [],
            }
        )
    if sales_stats is not None:
        data["custom_delivery_url"] = None
        data["sales_count"], data["sales_usd_cents"] = sales_stats
    return data


def _variants_json(product, full):
    if not product.variant_options:
        return []
    options = []
    for option in product.variant_options:
        prices = None
        if option.recurrence_prices:
            prices = {
                recurrence: {"price_cents": cents, "suggested_price_cents": None}
                for recurrence, cents in option.recurrence_prices.items()
            }
        entry = {
            "name": option.name,
            "price_difference": option.price_difference,
            "is_pay_what_you_want": False,
            "recurrence_prices": prices,
            "url": None,
        }
        if full:
            entry["rich_content"] = []
        options.append(entry)
    return [{"title": product.variant_title, "options": options}]


def user_json(seller, scopes, links):
    private = bool(scopes & PROFILE_SCOPES)
    avatar = "https://public-files.gumroad.com/avatar-acme"
    if private:
        data = {
            "name": seller.name,
            "bio": seller.bio,
            "twitter_handle": None,
            "currency_type": "usd",
            "id": seller.external_id,
            "user_id": seller.user_id,
            "url": seller.url,
            "profile_picture_url": avatar,
            "links": links,
            "profile_url": avatar,  # Gumroad really puts the avatar URL here
            "email": seller.email,
        }
    else:
        data = {"name": seller.name, "bio": seller.bio, "twitter_handle": None}
        data = {key: value for key, value in data.items() if value is not None}
        data.update(
            {
                "id": seller.external_id,
                "user_id": seller.user_id,
                "url": seller.url,
                "profile_picture_url": avatar,
                "links": links,
            }
        )
    if scopes & {"view_profile", "account"}:
        data["display_name"] = seller.name
    return data


def subscriber_json(subscription, now):
    data = {
        "id": subscription.id,
        "email": subscription.email,
        "product_id": subscription.product.id,
        "product_name": subscription.product.name,
        "user_id": subscription.user_id,
        "user_email": subscription.user_email,
        "purchase_ids": [row.id for row in subscription.purchases if row.listed],
        "created_at": iso_time(subscription.created_at),
        "user_requested_cancellation_at": _iso_or_none(
            subscription.user_requested_cancellation_at
        ),
        "charge_occurrence_count": subscription.charge_occurrence_count,
        "recurrence": subscription.recurrence,
        "cancelled_at": _iso_or_none(subscription.cancelled_at),
        "ended_at": _iso_or_none(subscription.ended_at),
        "failed_at": _iso_or_none(subscription.failed_at),
        "free_trial_ends_at": _iso_or_none(subscription.free_trial_ends_at),
        "status": subscription.status(now),
    }
    if subscription.license is not None:
        data["license_key"] = subscription.license.serial
    return data


def payout_json(payout, *, include_sales=False, include_transactions=False):
    data = {
        "id": payout.id,
        "amount": f"{payout.amount_cents // 100}.{payout.amount_cents % 100:02d}",
        "currency": "USD",
        "status": payout.status,
        "created_at": iso_time(payout.created_at),
        "processed_at": _iso_or_none(payout.processed_at),
        "payment_processor": "STRIPE",
        "bank_account_visual": "******6789",
        "paypal_email": None,
    }
    if include_sales:
        data["sales"] = list(payout.sale_ids)
        data["refunded_sales"] = list(payout.refunded_sale_ids)
        data["disputed_sales"] = list(payout.disputed_sale_ids)
    if include_transactions:
        data["transactions"] = [payout_rows.render(row) for row in payout.transactions]
    return data


def upcoming_payout_json(
    payout, seller, *, include_sales=False, include_transactions=False
):
    """payouts_controller.rb#index: Payment.new(amount_cents:, currency:
    user.currency_type, state: user.payouts_status).as_json.merge(id: nil), so an
    unsaved payment: no dates, no processor, the status "payable" or "paused"."""
    data = {
        "id": None,
        "amount": f"{payout.amount_cents // 100}.{payout.amount_cents % 100:02d}",
        "currency": seller.currency_type,
        "status": "paused" if seller.payouts_paused else "payable",
        "created_at": None,
        "processed_at": None,
        "payment_processor": None,
        "bank_account_visual": None,
        "paypal_email": None,
    }
    if include_sales:
        data["sales"] = list(payout.sale_ids)
        data["refunded_sales"] = list(payout.refunded_sale_ids)
        data["disputed_sales"] = list(payout.disputed_sale_ids)
    if include_transactions:
        data["transactions"] = [payout_rows.render(row) for row in payout.transactions]
    return data


def resource_subscription_json(subscription):
    return {
        "id": subscription.id,
        "resource_name": subscription.resource_name,
        "post_url": subscription.post_url,
    }


def license_purchase_json(row, seller):
    """The `purchase` of a license answer: the ping payload without resource_name,
    merged with the v1 as_json_for_license keys (licenses_controller.rb:122-126)."""
    purchase = sale_payload(row, seller)
    purchase["id"] = row.id
    purchase["created_at"] = iso_time(row.created_at)
    names = list(row.variants.values())
    purchase["variants"] = f"({', '.join(names)})" if names else ""
    purchase["custom_fields"] = [
        f"{name}: {value}" for name, value in row.custom_fields.items()
    ]
    purchase["offer_code"] = None
    if row.offer_code is not None:
        offer = row.offer_code
        amount_off = (
            f"{offer.percent_off}%"
            if offer.percent_off is not None
            else format_money(offer.amount_cents, row.currency)
        )
        purchase["offer_code"] = {
            "code": offer.code,
            "displayed_amount_off": amount_off,
            "name": offer.code,
        }
    subscription = row.subscription
    if subscription is None:
        purchase["refunded"] = row.fully_refunded
        purchase["chargebacked"] = row.chargedback
    else:
        purchase["subscription_ended_at"] = _iso_or_none(subscription.ended_at)
        purchase["subscription_cancelled_at"] = _iso_or_none(subscription.cancelled_at)
        purchase["subscription_failed_at"] = _iso_or_none(subscription.failed_at)
    return purchase
