"""Product sub-resources of API v2: offer codes, custom fields, variant categories,
variants and SKUs (config/routes.rb `resources :links, path: "products"`).

Each handler follows its Api::V2 controller: `fetch_product` answers "The product
was not found." (200, success false) for an unknown product, lists use the plural
key, single records the singular one, and a delete answers
"The <object> was deleted successfully." (base_controller.rb success_with_object).
"""

import re

from .api import Response, failure, not_found, success
from .currency import format_number
from .ids import derived_id, external_id
from .records import CustomFieldSpec, OfferCode, VariantCategory, VariantOption

CUSTOM_FIELD_TYPES = ("text", "checkbox", "terms", "long_text", "file")
# BasePrice::Recurrence.all, the keys of a tier's recurrence_price_values.
RECURRENCES = ("monthly", "quarterly", "biannually", "yearly", "every_two_years")
OFFER_PARAMS_MISSING = (
    "You are missing required offer code parameters. Please refer to "
    "https://gumroad.com/api#offer-codes for the correct parameters."
)


def _to_i(value):
    """Ruby's String#to_i: leading digits, else 0."""
    match = re.match(r"\s*[-+]?\d+", str(value or ""))
    return int(match.group()) if match else 0


def _int_or_none(request, name):
    value = request.param(name)
    return None if value is None else _to_i(value)


def _product(store, request):
    # base_controller.rb#fetch_product: seller's products (deleted ones too).
    return store.product(request.path_args[0], include_deleted=True)


def _on_product(action):
    """A route of one product (each controller's fetch_product): under the store's
    lock, `action(store, request, product)`, or Gumroad's not-found answer."""

    def handler(sandbox, request):
        store = sandbox.store
        with store.lock:
            product = _product(store, request)
            if product is None:
                return not_found("product")
            return action(store, request, product)

    return handler


def deleted(object_name):
    return success(message=f"The {object_name} was deleted successfully.")


def server_error():
    # nil.variants raises NoMethodError in VariantsController#fetch_variant_category.
    body = b"<html><body><h1>We're sorry, but something went wrong.</h1>"
    return Response(500, body + b"</body></html>\n", "text/html")


# -- JSON shapes -----------------------------------------------------------------------
def offer_code_json(store, offer):
    """OfferCode#as_json_for_api: the code is sent as `name`."""
    times_used = sum(
        row.quantity for row in store.listed.rows if row.offer_code is offer
    )
    data = {
        "id": offer.id,
        "name": offer.code,
        "max_purchase_count": offer.max_purchase_count,
        "minimum_amount_cents": offer.minimum_amount_cents,
        "universal": offer.universal,
        "times_used": times_used,
    }
    if offer.percent_off is not None:
        data["percent_off"] = offer.percent_off
    else:
        data["amount_cents"] = offer.amount_cents
    return data


def custom_field_json(spec, product):
    """CustomField#as_json (custom_field.rb)."""
    return {
        "id": spec.id,
        "type": spec.type,
        "name": spec.name,
        "required": spec.required,
        "global": False,
        "collect_per_product": False,
        "products": [product.id],
    }


def variant_category_json(category):
    return {"id": category.id, "title": category.title}


def variant_json(option, product):
    """BaseVariant#as_json, plus Variant#as_json's price keys for tiers."""
    data = {
        "id": option.id,
        "max_purchase_count": option.max_purchase_count,
        "name": option.name,
        "description": option.description,
        "price_difference_cents": option.price_difference,
    }
    if option.recurrence_prices:
        data["is_customizable_price"] = False
        values = {}
        for recurrence in RECURRENCES:
            cents = option.recurrence_prices.get(recurrence)
            if cents is None:
                values[recurrence] = {"enabled": False}
                continue
            values[recurrence] = {
                "enabled": True,
                "price_cents": cents,
                "suggested_price_cents": None,
                "price": format_number(cents, product.currency).removesuffix(".00"),
            }
        data["recurrence_price_values"] = values
    return data


def sku_json(sku, product):
    """Sku#as_json: BaseVariant's keys, plus `custom_sku` when the seller set one."""
    data = variant_json(sku, product)
    if sku.custom_sku:
        data["custom_sku"] = sku.custom_sku
    return data


# -- offer codes (offer_codes_controller.rb) -------------------------------------------
def _offer_codes(store, product):
    codes = [offer for offer in product.offer_codes if not offer.deleted]
    codes += [offer for offer in store.universal_offer_codes if not offer.deleted]
    return codes


def _find_offer(store, product, offer_id):
    for offer in _offer_codes(store, product):
        if offer.id == offer_id:
            return offer
    return None


@_on_product
def list_offer_codes(store, request, product):
    data = [offer_code_json(store, o) for o in _offer_codes(store, product)]
    return success("offer_codes", data)


def create_offer_code(sandbox, request):
    # check_offer_code_params runs before fetch_product.
    if request.param("amount_off") is None and request.param("amount_cents") is None:
        return failure(OFFER_PARAMS_MISSING)
    return _create_offer_code(sandbox, request)


@_on_product
def _create_offer_code(store, request, product):
    code = request.param("name")
    if code is None:
        return failure("Discount code can't be blank")
    universal = request.params.get("universal") == "true"
    taken = [o.code for o in _offer_codes(store, product)]
    if code in taken:
        return failure("Discount code must be unique.")
    offer = _new_offer_code(store, request, code, universal)
    if universal:
        store.universal_offer_codes.append(offer)
    else:
        product.offer_codes.append(offer)
    return success("offer_code", offer_code_json(store, offer))


def _new_offer_code(store, request, code, universal):
    if request.params.get("offer_type") == "percent":
        kwargs = {"percent_off": _to_i(request.param("amount_off"))}
    else:
        amount = request.param("amount_cents") or request.param("amount_off")
        kwargs = {"amount_cents": _to_i(amount)}
    return OfferCode(
        code=code,
        id=external_id(store.builder.rng),
        max_purchase_count=_int_or_none(request, "max_purchase_count"),
        minimum_amount_cents=_int_or_none(request, "minimum_amount_cents"),
        universal=universal,
        **kwargs,
    )


def _offer_handler(action):
    @_on_product
    def handler(store, request, product):
        offer = _find_offer(store, product, request.path_args[1])
        if offer is None:
            return not_found("offer_code")
        return action(store, request, offer)

    return handler


def _show_offer(store, request, offer):
    return success("offer_code", offer_code_json(store, offer))


def _update_offer(store, request, offer):
    # permitted_params: max_purchase_count and minimum_amount_cents only.
    if "max_purchase_count" in request.params:
        offer.max_purchase_count = _int_or_none(request, "max_purchase_count")
    if "minimum_amount_cents" in request.params:
        offer.minimum_amount_cents = _int_or_none(request, "minimum_amount_cents")
    return success("offer_code", offer_code_json(store, offer))


def _delete_offer(store, request, offer):
    offer.deleted = True
    return deleted("offer_code")


# -- custom fields (custom_fields_controller.rb) ---------------------------------------
@_on_product
def list_custom_fields(store, request, product):
    data = [custom_field_json(spec, product) for spec in product.custom_fields]
    return success("custom_fields", data)


@_on_product
def create_custom_field(store, request, product):
    name = request.param("name") or request.param("url") or request.param("label")
    if name is None:
        return failure("The custom_field was unable to be created.")
    field_type = request.params.get("type") or "text"
    if field_type not in CUSTOM_FIELD_TYPES:
        return failure("Field type is not included in the list")
    spec = CustomFieldSpec(
        id=external_id(store.builder.rng),
        name=name,
        type=field_type,
        required=request.params.get("required") == "true",
    )
    product.custom_fields.append(spec)
    return success("custom_field", custom_field_json(spec, product))


def _custom_field_handler(action):
    @_on_product
    def handler(store, request, product):
        # fetch_custom_field: `:id` is the field's name, the last one wins.
        named = [s for s in product.custom_fields if s.name == request.path_args[1]]
        if not named:
            return not_found("custom_field")
        return action(request, product, named[-1])

    return handler


def _update_custom_field(request, product, spec):
    if request.params.get("required") is not None:
        spec.required = request.params["required"] == "true"
    return success("custom_field", custom_field_json(spec, product))


def _delete_custom_field(request, product, spec):
    product.custom_fields.remove(spec)
    return deleted("custom_field")


# -- variant categories and variants ---------------------------------------------------
def _categories(product):
    return [c for c in product.variant_categories if not c.deleted]


def _find_category(product, category_id):
    for category in _categories(product):
        if category.id == category_id:
            return category
    return None


@_on_product
def list_variant_categories(store, request, product):
    data = [variant_category_json(c) for c in _categories(product)]
    return success("variant_categories", data)


@_on_product
def create_variant_category(store, request, product):
    category = VariantCategory(
        id=derived_id(
            product.id, "variant_category", str(len(product.variant_categories))
        ),
        title=request.params.get("title"),
    )
    if not product.variant_categories and not product.variant_options:
        # The product's first category: its options are the product's.
        category.options = product.variant_options
        product.variant_title = category.title
    product.variant_categories.append(category)
    return success("variant_category", variant_category_json(category))


def _category_handler(action):
    @_on_product
    def handler(store, request, product):
        category = _find_category(product, request.path_args[1])
        if category is None:
            return not_found("variant_category")
        return action(store, request, product, category)

    return handler


def _show_category(store, request, product, category):
    return success("variant_category", variant_category_json(category))


def _update_category(store, request, product, category):
    if "title" in request.params:
        category.title = request.params["title"]
        if category.options is product.variant_options:
            product.variant_title = category.title
    return success("variant_category", variant_category_json(category))


def _delete_category(store, request, product, category):
    category.deleted = True
    return deleted("variant_category")


def _list_variants(store, request, product, category):
    alive = [option for option in category.options if not option.deleted]
    return success("variants", [variant_json(o, product) for o in alive])


def _create_variant(store, request, product, category):
    name = request.param("name")
    if name is None:
        return failure("Name can't be blank")
    option = VariantOption(
        id=external_id(store.builder.rng),
        name=name,
        price_difference=_to_i(request.param("price_difference_cents")),
        description=request.params.get("description"),
        max_purchase_count=_int_or_none(request, "max_purchase_count"),
    )
    category.options.append(option)
    return success("variant", variant_json(option, product))


def _variant_handler(action):
    def on_category(store, request, product, category):
        for option in category.options:
            if option.id == request.path_args[2] and not option.deleted:
                return action(request, product, option)
        return not_found("variant")

    return on_category


def _show_variant(request, product, option):
    return success("variant", variant_json(option, product))


def _update_variant(request, product, option):
    if request.param("name") is not None:
        option.name = request.param("name")
    if "description" in request.params:
        option.description = request.params["description"]
    if "price_difference_cents" in request.params:
        option.price_difference = _to_i(request.params["price_difference_cents"])
    if "max_purchase_count" in request.params:
        option.max_purchase_count = _int_or_none(request, "max_purchase_count")
    return success("variant", variant_json(option, product))


def _delete_variant(request, product, option):
    option.deleted = True
    return deleted("variant")


def _variants_handler(action):
    """VariantsController#fetch_variant_category reads `.variants` of a nil category
    before its not-found check, so an unknown category is a 500 in Gumroad."""

    @_on_product
    def handler(store, request, product):
        category = _find_category(product, request.path_args[1])
        if category is None:
            return server_error()
        return action(store, request, product, category)

    return handler


# -- skus (skus_controller.rb) ---------------------------------------------------------
@_on_product
def list_skus(store, request, product):
    """SKUs of SKU-enabled products, the variants of a physical product, else []."""
    data = []
    skus = [sku for sku in product.skus if not sku.deleted]
    if skus:
        data = [sku_json(sku, product) for sku in skus]
    elif product.kind == "physical":
        data = [
            variant_json(option, product)
            for category in _categories(product)
            for option in category.options
            if not option.deleted
        ]
    return success("skus", data)


_ID = r"([^/]+)"
_P = rf"/products/{_ID}"
EDIT = {"edit_products"}
ROUTES = [
    ("GET", rf"{_P}/offer_codes", list_offer_codes, "read"),
    ("POST", rf"{_P}/offer_codes", create_offer_code, EDIT),
    ("GET", rf"{_P}/offer_codes/{_ID}", _offer_handler(_show_offer), "read"),
    ("PUT", rf"{_P}/offer_codes/{_ID}", _offer_handler(_update_offer), EDIT),
    ("PATCH", rf"{_P}/offer_codes/{_ID}", _offer_handler(_update_offer), EDIT),
    ("DELETE", rf"{_P}/offer_codes/{_ID}", _offer_handler(_delete_offer), EDIT),
    ("GET", rf"{_P}/custom_fields", list_custom_fields, "read"),
    ("POST", rf"{_P}/custom_fields", create_custom_field, EDIT),
    (
        "PUT",
        rf"{_P}/custom_fields/{_ID}",
        _custom_field_handler(_update_custom_field),
        EDIT,
    ),
    (
        "PATCH",
        rf"{_P}/custom_fields/{_ID}",
        _custom_field_handler(_update_custom_field),
        EDIT,
    ),
    (
        "DELETE",
        rf"{_P}/custom_fields/{_ID}",
        _custom_field_handler(_delete_custom_field),
        EDIT,
    ),
    ("GET", rf"{_P}/variant_categories", list_variant_categories, "read"),
    ("POST", rf"{_P}/variant_categories", create_variant_category, EDIT),
]
_C = rf"{_P}/variant_categories/{_ID}"
ROUTES += [
    ("GET", _C, _category_handler(_show_category), "read"),
    ("PUT", _C, _category_handler(_update_category), EDIT),
    ("PATCH", _C, _category_handler(_update_category), EDIT),
    ("DELETE", _C, _category_handler(_delete_category), EDIT),
    ("GET", rf"{_C}/variants", _variants_handler(_list_variants), "read"),
    ("POST", rf"{_C}/variants", _variants_handler(_create_variant), EDIT),
    (
        "GET",
        rf"{_C}/variants/{_ID}",
        _variants_handler(_variant_handler(_show_variant)),
        "read",
    ),
    (
        "PUT",
        rf"{_C}/variants/{_ID}",
        _variants_handler(_variant_handler(_update_variant)),
        EDIT,
    ),
    (
        "PATCH",
        rf"{_C}/variants/{_ID}",
        _variants_handler(_variant_handler(_update_variant)),
        EDIT,
    ),
    (
        "DELETE",
        rf"{_C}/variants/{_ID}",
        _variants_handler(_variant_handler(_delete_variant)),
        EDIT,
    ),
    ("GET", rf"{_P}/skus", list_skus, "read"),
]
