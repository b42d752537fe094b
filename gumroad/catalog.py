"""A product's variants, SKUs and offer codes, read from the product sub-resource routes
of API v2 (decisions only; the reads go through `GumroadClient`).

* `GET /products/:id/variant_categories` then `.../variant_categories/:id/variants`:
  each category's options with their ids and `price_difference_cents`
  (variant_category.rb#as_json, base_variant.rb#as_json).
* `GET /products/:id/skus` (skus_controller.rb): a SKU-enabled product's SKUs, else a
  physical product's variants, else []. A sale of a SKU product names its SKU in
  `variants` (`{link.sku_title: sku.name}`) and in `sku_id` (`custom_sku` or the
  external id) / `sku_external_id` (purchase.rb `variant_names_hash`,
  `sku_custom_name_or_external_id`). SKUs exist only on physical products, so the
  route is read for products that `require_shipping`.
* `GET /products/:id/offer_codes`: the code is in `name`, the discount in
  `percent_off` or `amount_cents` (product currency minor units, offer_code.rb).

`Catalogue.attributes()` is what becomes Odoo attributes: one per category, or one
for the SKUs when the product has real SKUs (ids that are no variant's).
"""

from dataclasses import dataclass

from .errors import MalformedPayloadError


@dataclass(frozen=True)
class Option:
    """One value of an attribute: a category's option, or a SKU."""

    name: str
    price_difference_cents: int = 0
    id: str | None = None
    # The ids a sale's `sku_id` / `sku_external_id` can carry for this value.
    sku_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribute:
    title: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class OfferCode:
    code: str
    percent_off: int | None = None
    amount_cents: int | None = None

    def as_dict(self):
        if self.percent_off is not None:
            return {"percent_off": self.percent_off}
        return {"amount_cents": self.amount_cents or 0}


@dataclass(frozen=True)
class Catalogue:
    categories: tuple[Attribute, ...]
    skus: tuple[Option, ...] = ()
    # None: not read (the product's codes are left as they were).
    offer_codes: tuple[OfferCode, ...] | None = None
    # Read from the routes (ids and SKUs known), not from the product JSON.
    from_routes: bool = False

    @property
    def has_real_skus(self):
        """SKUs that are not simply the variants (a SKU-enabled product)."""
        option_ids = {o.id for c in self.categories for o in c.options}
        return bool(self.skus) and any(s.id not in option_ids for s in self.skus)

    def attributes(self) -> tuple[Attribute, ...]:
        """The Odoo attributes: one "<title> - <title>" attribute of the SKUs for a
        SKU-enabled product, else one per category. A value carries the sale
        `sku_id`s that name it (a SKU's, or the option's when the product has one
        category and /skus lists the options)."""
        if self.has_real_skus:
            title = " - ".join(c.title for c in self.categories) or "SKU"
            return (Attribute(title, self.skus),)
        sku_ids = {s.id for s in self.skus}
        if len(self.categories) != 1 or not sku_ids:
            return self.categories
        (category,) = self.categories
        options = tuple(
            Option(o.name, o.price_difference_cents, o.id, (o.id,))
            if o.id in sku_ids
            else o
            for o in category.options
        )
        return (Attribute(category.title, options),)

    def offer_codes_dict(self):
        """{code: {"percent_off": n} | {"amount_cents": n}}, or None if not read."""
        if self.offer_codes is None:
            return None
        return {offer.code: offer.as_dict() for offer in self.offer_codes}


def _malformed(what, value):
    return MalformedPayloadError(f"Gumroad sent {what} that cannot be read: {value!r}")


def _name(item, key="name"):
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, str):
        raise _malformed(f"a catalogue entry without a {key!r}", item)
    return value.strip()


def _cents(item, key):
    value = item.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise _malformed(f"a non-integer {key!r}", item)
    return value


def _id(item):
    value = item.get("id")
    return value if isinstance(value, str) and value else None


def parse_option(item) -> Option:
    """A variant (`price_difference_cents`) or the product JSON's option
    (`price_difference`)."""
    key = (
        "price_difference_cents"
        if "price_difference_cents" in item
        else ("price_difference")
    )
    return Option(_name(item), _cents(item, key), _id(item))


def parse_sku(item) -> Option:
    sku = parse_option(item)
    ids = tuple(
        dict.fromkeys(
            value
            for value in (sku.id, item.get("custom_sku"))
            if isinstance(value, str) and value
        )
    )
    return Option(sku.name, sku.price_difference_cents, sku.id, ids)


def parse_offer_code(item) -> OfferCode:
    code = _name(item)
    percent = item.get("percent_off")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, int):
            raise _malformed("a non-integer 'percent_off'", item)
        return OfferCode(code, percent_off=percent)
    return OfferCode(code, amount_cents=_cents(item, "amount_cents"))


def _attribute(title, options):
    named = tuple(o for o in options if o.name)
    if not title or not named:
        return None
    return Attribute(title.strip(), named)


def catalogue_from_product(product: dict) -> Catalogue:
    """The categories the product JSON's `variants` shows (no ids, no SKUs, no offer
    codes): what is known without the sub-resource routes."""
    categories = []
    for category in product.get("variants") or []:
        if not isinstance(category, dict):
            continue
        options = [parse_option(o) for o in category.get("options") or []]
        attribute = _attribute(category.get("title"), options)
        if attribute:
            categories.append(attribute)
    return Catalogue(tuple(categories))


def read_catalogue(client, product: dict) -> Catalogue:
    """Variants (when the product JSON lists any), SKUs (physical products) and offer
    codes of one product, through the sub-resource routes."""
    product_id = product["id"]
    categories = []
    if product.get("variants"):
        for category in client.list_variant_categories(product_id):
            if not isinstance(category, dict) or not _id(category):
                raise _malformed("a variant category without an id", category)
            options = [
                parse_option(o)
                for o in client.list_variants(product_id, category["id"])
            ]
            attribute = _attribute(category.get("title"), options)
            if attribute:
                categories.append(attribute)
    skus = ()
    if product.get("require_shipping") and categories:
        skus = tuple(parse_sku(s) for s in client.list_skus(product_id))
    offers = tuple(parse_offer_code(o) for o in client.list_offer_codes(product_id))
    return Catalogue(tuple(categories), skus, offers, from_routes=True)
