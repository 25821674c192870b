"""Property-based: identity normalisation never merges two subjects (issue 14, build item 2).

Completes ``test_identity_properties.py`` (plus-tags, dots, case, idempotence) with what the
documented rules (docs/catalog.md, ``dsrflow.adapters.sdk.identity``) say about look-alikes,
white space and phone formats.
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from dsrflow.identity import TRIMMED, casefold, normalize_phone, normalize_value

LOCAL = st.text(alphabet=string.ascii_lowercase + string.digits + "._-+", min_size=1, max_size=12)
DOMAIN = st.from_regex(r"[a-z0-9]{1,10}\.(org|com)", fullmatch=True)
# Look-alikes of ASCII letters from other scripts: each must stay itself.
CONFUSABLE = {
    "a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
    "i": "\u0456", "k": "\u212a", "s": "\u0455", "j": "\u0458", "y": "\u0443",
}  # fmt: skip
PAD = st.text(alphabet=TRIMMED, max_size=3)


@given(local=LOCAL, domain=DOMAIN, data=st.data())
def test_a_look_alike_letter_never_merges_with_the_ascii_one(
    local: str, domain: str, data: st.DataObject
) -> None:
    address = f"{local}@{domain}"
    spots = [i for i, ch in enumerate(address) if ch in CONFUSABLE]
    if not spots:
        address = "a" + address
        spots = [0]
    i = data.draw(st.sampled_from(spots), label="position")
    look_alike = address[:i] + CONFUSABLE[address[i]] + address[i + 1 :]
    for upper in (False, True):
        typed = look_alike.upper() if upper else look_alike
        assert normalize_value("email", typed) != normalize_value("email", address)


@given(x=st.text(max_size=20), y=st.text(max_size=20))
def test_two_emails_merge_only_when_equal_after_trim_and_guarded_lower(x: str, y: str) -> None:
    """Nothing but case and the documented padding is forgotten: not NFKC, not accents."""
    if normalize_value("email", x) == normalize_value("email", y):
        core_x, core_y = x.strip(TRIMMED), y.strip(TRIMMED)
        assert len(core_x) == len(core_y)
        for a, b in zip(core_x, core_y, strict=True):
            assert a == b or (casefold(a) == casefold(b) and a.lower() == b.lower())


@given(local=LOCAL, domain=DOMAIN, left=PAD, right=PAD)
def test_documented_padding_is_trimmed_and_inner_space_kept(
    local: str, domain: str, left: str, right: str
) -> None:
    address = f"{local}@{domain}"
    assert normalize_value("email", left + address + right) == address
    inner = f"{local} @{domain}"
    assert normalize_value("email", inner) != address


@given(local=LOCAL, domain=DOMAIN)
def test_compatibility_forms_are_not_folded(local: str, domain: str) -> None:
    """Fullwidth or ligature forms are different characters: NFKC is not applied."""
    address = f"{local}@{domain}"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in address)
    assert normalize_value("email", fullwidth) != address


NATIONAL = st.text(alphabet=string.digits, min_size=6, max_size=11).filter(lambda d: d[0] != "0")
CC = st.sampled_from(["44", "1", "353", "49"])
SEPARATED = st.sampled_from(["", " ", "-", ".", "(", ")", "/"])


@given(number=NATIONAL, cc=CC, sep=SEPARATED, data=st.data())
def test_every_documented_way_of_writing_a_number_is_one_e164(
    number: str, cc: str, sep: str, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(number) - 1), label="separator position")
    spaced = number[:cut] + sep + number[cut:]
    e164 = "+" + cc + number
    forms = [f"+{cc}{spaced}", f"00{cc} {spaced}", f"+{cc} (0){spaced}", f"0{spaced}"]
    for form in forms:
        assert normalize_phone(form, cc) == e164, form
    assert normalize_phone(f"+{cc}{spaced}", None) == e164


@given(number=NATIONAL, cc=CC, other=CC)
def test_a_national_number_belongs_to_the_default_country_only(
    number: str, cc: str, other: str
) -> None:
    national = "0" + number
    if cc != other:
        assert normalize_phone(national, cc) != normalize_phone(national, other)
    # Without a default country code a national number cannot be placed: it matches only itself.
    assert normalize_phone(national, None) != normalize_phone("+" + cc + number, None)


@given(a=NATIONAL, b=NATIONAL, cc=CC)
def test_different_digits_are_different_people(a: str, b: str, cc: str) -> None:
    if a != b:
        assert normalize_phone("0" + a, cc) != normalize_phone("0" + b, cc)
        assert normalize_phone("+" + cc + a, cc) != normalize_phone("+" + cc + b, cc)
