from datetime import date
from decimal import Decimal

from gumroad.daily import (
    entry_line_values,
    invoice_line_values,
    merge_parts,
    nonzero_lines,
    split_due,
    summary_label,
)


def invoice_part(day, product, price, quantity=1, currency=2, tax="0", extra=()):
    return {
        "move_type": "out_invoice",
        "day": day,
        "journal_id": 7,
        "currency_id": currency,
        "seller_tax": tax,
        "lines": [
            {
                "name": f"Ebook {product}",
                "product_id": product,
                "quantity": quantity,
                "price_unit": price,
                "account_id": 40,
                "tax_ids": [[5, 0, 0]],
            },
            *extra,
        ],
    }


def entry_part(day, balance, fee, journal=9):
    revenue = balance + fee
    return {
        "move_type": "entry",
        "day": day,
        "journal_id": journal,
        "lines": [
            {
                "name": "Gumroad balance: GR-abc==",
                "account_id": 1,
                "partner_id": 5,
                "currency_id": 2,
                "amount_currency": balance,
                "balance": balance,
            },
            {
                "name": "Gumroad fee: GR-abc==",
                "account_id": 2,
                "currency_id": 2,
                "amount_currency": fee,
                "balance": fee,
            },
            {
                "name": "Ebook",
                "account_id": 3,
                "partner_id": 5,
                "currency_id": 2,
                "amount_currency": -revenue,
                "balance": -revenue,
            },
        ],
    }


def test_sales_of_one_day_and_product_merge_into_one_line_exactly():
    parts = [
        (("s1", 0), invoice_part("2026-11-30", 1, 9.99)),
        (("s2", 0), invoice_part("2026-11-30", 1, 9.99)),
        (("s3", 0), invoice_part("2026-11-30", 2, 0.1, quantity=3)),
        (("s4", 0), invoice_part("2026-12-01", 1, 9.99)),
    ]
    first, second = merge_parts(parts)
    assert (first.day, second.day) == (date(2026, 11, 30), date(2026, 12, 1))
    ebook_1, ebook_2 = first.lines
    assert ebook_1.amount == Decimal("19.98") and ebook_1.quantity == 2
    assert ebook_1.sources == [("s1", 0), ("s2", 0)]
    assert invoice_line_values(ebook_1)["price_unit"] == 9.99
    assert invoice_line_values(ebook_1)["quantity"] == 2
    assert ebook_2.amount == Decimal("0.30")
    assert second.sources == [("s4", 0)]


def test_a_line_whose_unit_price_is_not_exact_keeps_the_total():
    parts = [
        (("s1", 0), invoice_part("2026-11-30", 1, 10.00)),
        (("s2", 0), invoice_part("2026-11-30", 1, 5.00)),
        (("s3", 0), invoice_part("2026-11-30", 1, 5.00)),
    ]
    [summary] = merge_parts(parts)
    vals = invoice_line_values(summary.lines[0])
    # 20.00 / 3 has no price to the cent.
    assert (vals["quantity"], vals["price_unit"]) == (1.0, 20.0)
    assert vals["name"] == "Ebook 1 (Qty: 3)"


def test_currencies_journals_and_types_make_separate_summaries():
    refund = dict(invoice_part("2026-11-30", 1, 5.0), move_type="out_refund")
    parts = [
        (("s1", 0), invoice_part("2026-11-30", 1, 5.0)),
        (("s2", 0), invoice_part("2026-11-30", 1, 5.0, currency=3)),
        (("s3", 0), refund),
        (("s1", 1), entry_part("2026-11-30", 4.0, 1.0)),
        (("s4", 0), entry_part("2026-11-30", 4.0, 1.0, journal=10)),
    ]
    kinds = [(s.move_type, s.currency_id, s.journal_id) for s in merge_parts(parts)]
    assert sorted(kinds, key=str) == sorted(
        [
            ("entry", None, 9),
            ("entry", None, 10),
            ("out_invoice", 2, 7),
            ("out_invoice", 3, 7),
            ("out_refund", 2, 7),
        ],
        key=str,
    )


def test_balance_entries_sum_per_line_stay_balanced_and_drop_what_cancels():
    parts = [
        (("s1", 0), entry_part("2026-11-30", 8.50, 1.49)),
        (("s2", 0), entry_part("2026-11-30", 8.51, 1.48)),
        (("s3", 0), entry_part("2026-11-30", -8.50, -1.49)),
        (("s4", 0), entry_part("2026-11-30", -8.51, -1.48)),
        (("s5", 0), entry_part("2026-11-30", 3.33, 0.67)),
    ]
    [summary] = merge_parts(parts)
    values = [entry_line_values(line) for line in nonzero_lines(summary)]
    assert [v["name"] for v in values] == ["Gumroad balance", "Gumroad fee", "Ebook"]
    assert [v["balance"] for v in values] == [3.33, 0.67, -4.0]
    assert sum(Decimal(str(v["balance"])) for v in values) == 0
    assert summary.lines[0].sources == [
        ("s1", 0),
        ("s2", 0),
        ("s3", 0),
        ("s4", 0),
        ("s5", 0),
    ]
    # All cancelled out: nothing to book.
    [empty] = merge_parts(parts[:4])
    assert nonzero_lines(empty) == []


def test_seller_tax_of_a_day_is_the_sum_of_its_sales():
    parts = [
        (("s1", 0), invoice_part("2026-11-30", 1, 10.0, tax="0.83")),
        (("s2", 0), invoice_part("2026-11-30", 1, 10.0, tax="0.84")),
    ]
    [summary] = merge_parts(parts)
    assert summary.seller_tax == Decimal("1.67")


def test_due_parts_are_those_of_days_that_ended():
    parts = [
        invoice_part("2026-11-29", 1, 1.0),
        invoice_part("2026-11-30", 1, 1.0),
        invoice_part("2026-12-01", 1, 1.0),
    ]
    due, later = split_due(parts, date(2026, 11, 30))
    assert [p["day"] for p in due] == ["2026-11-29", "2026-11-30"]
    assert [p["day"] for p in later] == ["2026-12-01"]


def test_summary_labels_drop_the_sale_reference_and_quantity_note():
    assert summary_label("Gumroad fee: GR-Ab1_c==") == "Gumroad fee"
    assert summary_label("Ebook (Qty: 3)") == "Ebook"
    assert summary_label("Refund: Ebook (size: L)") == "Refund: Ebook (size: L)"
    assert summary_label("PayPal (Gumroad sales): GR-x1") == "PayPal (Gumroad sales)"
