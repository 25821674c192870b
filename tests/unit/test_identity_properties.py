"""Property-based checks of identity normalisation (Hypothesis).

The wrong-person rule: normalisation may only forget letter case and surrounding spaces of an
e-mail, never a plus-tag, a dot or any other character; and it is idempotent, so a value that is
normalised twice (at submission, then again in the matcher) is still the same value.
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from dsrflow.identity import MODES, normalize_mode, normalize_phone, normalize_value

LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
DOMAIN = st.from_regex(r"[A-Za-z0-9]{1,10}\.(org|com|CO\.UK)", fullmatch=True)
COUNTRY = st.sampled_from([None, "44", "1", "353"])


@st.composite
def mangled(draw: st.DrawFn, address: str) -> str:
    """The same address as a person might type it: any letter case, padded with spaces."""
    flips = draw(st.lists(st.booleans(), min_size=len(address), max_size=len(address)))
    cased = "".join(c.upper() if f else c.lower() for c, f in zip(address, flips, strict=True))
    return " " * draw(st.integers(0, 2)) + cased + " " * draw(st.integers(0, 2))


@given(local=LOCAL, tag=LOCAL, domain=DOMAIN, data=st.data())
def test_plus_tags_never_merge(local: str, tag: str, domain: str, data: st.DataObject) -> None:
    tagged = f"{local}+{tag}@{domain}"
    plain = f"{local}@{domain}"
    a = normalize_value("email", data.draw(mangled(tagged)))
    b = normalize_value("email", data.draw(mangled(plain)))
    assert a != b
    assert a == tagged.lower() and b == plain.lower()


@given(left=LOCAL, right=LOCAL, domain=DOMAIN, data=st.data())
def test_dots_never_merge(left: str, right: str, domain: str, data: st.DataObject) -> None:
    dotted = f"{left}.{right}@{domain}"
    joined = f"{left}{right}@{domain}"
    assert normalize_value("email", data.draw(mangled(dotted))) != normalize_value(
        "email", data.draw(mangled(joined))
    )


@given(x=st.text(max_size=40), y=st.text(max_size=40))
def test_email_merges_only_case_and_padding(x: str, y: str) -> None:
    same = normalize_value("email", x) == normalize_value("email", y)
    assert same == (x.strip().lower() == y.strip().lower())


@given(value=st.text(max_size=40), mode=st.sampled_from(MODES), cc=COUNTRY)
def test_normalisation_is_idempotent(value: str, mode: str, cc: str | None) -> None:
    once = normalize_mode(mode, value, default_country_code=cc)
    assert normalize_mode(mode, once, default_country_code=cc) == once


@given(digits=st.text(alphabet=string.digits, min_size=4, max_size=12), cc=COUNTRY)
def test_different_international_numbers_stay_different(digits: str, cc: str | None) -> None:
    other = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    assert normalize_phone("+" + digits, cc) != normalize_phone("+" + other, cc)
    assert normalize_phone("00" + digits, cc) == normalize_phone("+" + digits, cc)
