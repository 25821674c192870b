"""The discovery classifiers: a true and a false positive per class, and properties.

A 16-digit order id that fails Luhn is not a card; an IBAN with wrong check digits is not an
IBAN; a date is a date of birth only with a name signal (else a weak signal); random text never
crashes a classifier.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsrflow.discovery import validators as v
from dsrflow.discovery.classify import (
    REPORT_AT,
    classify_column,
    classify_value,
    name_signals,
)

TODAY = date(2026, 6, 1)


def classes(name: str, values: list[object]) -> dict[str, tuple[float, str]]:
    """Class -> (confidence, evidence) of the column's findings at or above REPORT_AT."""
    return {
        f.cls: (f.confidence, f.evidence)
        for f in classify_column(name, values, today=TODAY)
        if f.confidence >= REPORT_AT
    }


# (class, column name, values that are it, values that are not)
CASES = [
    ("email", "contact", ["ann@example.com", "b.o'neil+x@mail.example.co.uk"],
     ["ann@", "@example.com", "ann at example dot com", "a@b"]),
    ("phone", "x", ["+44 20 7946 0958", "+49 (30) 1234567", "+14155550123"],
     ["+1", "12345", "2024-01-01", "+12"]),
    ("ip_address", "x", ["192.168.10.4", "2001:db8::8a2e:370:7334"],
     ["999.1.1.1", "1.2.3", "v1.2.3.4", "2001:zz8::1"]),
    ("payment_card", "x", ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"],
     ["1234567812345678", "4111111111111112", "9111111111111119", "0000000000000000"]),
    ("iban", "x",
     ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"],
     ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543", "XX89370400440532013000"]),
    ("uk_nino", "x", ["AB123456C", "JG 10 37 28 D"],
     ["BG123456C", "AB123456E", "DA123456A", "AB12345C"]),
    ("us_ssn", "x", ["123-45-6789", "078-05-1121"],
     ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"]),
    ("fr_nir", "x", ["2 55 08 2A 004 001 " + f"{v.nir_key('255082A004001'):02d}",
                     "1850775123456" + f"{v.nir_key('1850775123456'):02d}"],
     ["1850775123456" + f"{(v.nir_key('1850775123456') + 1) % 97:02d}", "5850775123456 00"]),
    ("person_name", "x", ["Jane Doe", "Thomas Müller-Lang"],
     ["Order Shipped", "New York", "jane doe"]),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "column", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_true_and_false_positives(cls: str, column: str, good: list[str], bad: list[str]) -> None:
    found = classes(column, good)
    assert cls in found
    assert found[cls][1] == "values"
    for value in bad:
        assert cls not in classify_value(value, today=TODAY), value


def test_a_sixteen_digit_order_id_failing_luhn_is_not_a_card() -> None:
    assert not v.luhn_ok("1234567812345678")
    assert classes("order_id", ["1234567812345678", "8765432187654321"]) == {}


def test_an_iban_with_a_wrong_check_digit_is_not_an_iban() -> None:
    assert v.is_iban("DE89370400440532013000")
    assert not v.is_iban("DE88370400440532013000")
    assert classes("reference", ["DE88370400440532013000"]) == {}


def test_steuer_id_counts_only_with_a_name_signal() -> None:
    good = "86095742719"  # a published example of a valid Steuer-ID
    assert v.is_de_steuer_id(good)
    assert not v.is_de_steuer_id("86095742718")  # wrong check digit
    assert not v.is_de_steuer_id("12345678901")  # no digit repeated
    assert "de_steuer_id" in classes("steuer_id", [good])
    assert "de_steuer_id" not in classes("amount", [good])


def test_bare_ssn_and_national_phone_need_their_name() -> None:
    assert "us_ssn" in classes("ssn", ["123456789"])
    assert classes("quantity", ["123456789"]) == {}
    assert "phone" in classes("telephone", ["030 1234567"])
    assert "phone" not in classes("reference", ["030 1234567"])


def test_dates_of_birth_need_a_name_signal_else_weak() -> None:
    born = [date(1980, 5, 4), "1975-12-01", "04.05.1990"]
    assert classes("date_of_birth", born)["date_of_birth"][1] == "both"
    weak = [f for f in classify_column("created", born, today=TODAY)]
    assert weak and all(f.confidence < REPORT_AT for f in weak)
    # Outside a plausible birth range (a 5-year-old, someone born in 1850): not a birth date.
    assert classify_column("dob", [date(2022, 1, 1), "1850-01-01"], today=TODAY)[0].matched == 0


def test_name_signals() -> None:
    assert name_signals("customerEmail") == {"email": 0.6}
    assert "date_of_birth" in name_signals("date_of_birth")
    assert "phone" in name_signals("mobile_phone")
    assert name_signals("address_id") == {}  # a link to the data, not the data
    assert name_signals("card_type") == {}
    assert name_signals("quantity") == {}
    only_name = classify_column("email", [])
    assert [(f.cls, f.evidence, f.matched) for f in only_name] == [("email", "name", 0)]


def test_free_text_containing_personal_data() -> None:
    notes = ["Customer called, please write to jane@example.com about the refund",
             "Paid with 4111 1111 1111 1111 yesterday, ask Peter Smith",
             "nothing to see here at all in this note"]  # fmt: skip
    found = {f.cls: f for f in classify_column("note", notes, today=TODAY)}
    assert found["email"].in_text and found["email"].matched == 1
    assert found["payment_card"].in_text
    assert found["person_name"].in_text
    assert found["email"].confidence >= REPORT_AT


def test_findings_hold_counts_never_values() -> None:
    found = classify_column("email", ["canary-7f3a@example.com"] * 3)
    assert "canary" not in repr(found)
    assert found[0].matched == 3 and found[0].sampled == 3


# --- properties -----------------------------------------------------------------------------


def with_luhn(body: str) -> str:
    for d in "0123456789":
        if v.luhn_ok(body + d):
            return body + d
    raise AssertionError


cards = st.sampled_from([("4", 16), ("51", 16), ("2221", 16), ("34", 15), ("6011", 16)]).flatmap(
    lambda p: st.text(
        "0123456789", min_size=p[1] - len(p[0]) - 1, max_size=p[1] - len(p[0]) - 1
    ).map(lambda rest, p=p: with_luhn(p[0] + rest))
)


@settings(max_examples=200, deadline=None)
@given(cards, st.data())
def test_valid_luhn_cards_are_found_and_one_changed_digit_is_not(
    card: str, data: st.DataObject
) -> None:
    assert "payment_card" in classify_value(card)
    i = data.draw(st.integers(0, len(card) - 1))
    d = data.draw(st.sampled_from([c for c in "0123456789" if c != card[i]]))
    assert "payment_card" not in classify_value(card[:i] + d + card[i + 1 :])


def make_iban(country: str, bban: str) -> str:
    check = 98 - v.iban_checksum(country + "00" + bban)
    return f"{country}{check:02d}{bban}"


ibans = st.sampled_from(sorted(v.IBAN_LENGTHS)).flatmap(
    lambda c: st.text("0123456789", min_size=v.IBAN_LENGTHS[c] - 4,
                      max_size=v.IBAN_LENGTHS[c] - 4).map(lambda b, c=c: make_iban(c, b))
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(ibans, st.data())
def test_generated_ibans_are_found_and_one_changed_digit_is_not(
    iban: str, data: st.DataObject
) -> None:
    assert v.is_iban(iban)
    assert "iban" in classify_value(iban)
    i = data.draw(st.integers(2, len(iban) - 1))
    d = data.draw(st.sampled_from([c for c in "0123456789" if c != iban[i]]))
    assert not v.is_iban(iban[:i] + d + iban[i + 1 :])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=30))
def test_random_text_never_crashes(value: str, column: str) -> None:
    classify_value(value)
    for f in classify_column(column, [value, value.upper(), None, b"\x00"]):
        assert 0 <= f.confidence <= 1 and f.matched <= f.sampled


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=10**15, max_value=10**16 - 1))
def test_integers_are_never_cards(n: int) -> None:
    # An integer column (an order id) is not a card, whatever its digits.
    assert classify_value(n) == set()
