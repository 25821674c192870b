"""Classifiers of personal data: column/key-name signals and value patterns (pure, no I/O).

``classify_column(name, values)`` looks at one column's name and a sample of its values and
returns one ``Finding`` per class found: the class, a confidence, the evidence kind (``name``,
``values`` or ``both``) and counts. A finding never holds a value: the scan's reports carry
only counts and pattern names.

Strict classes (e-mail, card, IBAN, IPs, E.164 phones, dashed SSNs, NINO, NIR) count on their
values alone; loose ones (dates of birth, national-form phones, bare nine-digit SSNs, Steuer-ID)
are too easily mistaken for ids, dates or counts: without a name signal they are weak signals.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from dsrflow.discovery import validators as v

CLASSES = (
    "email", "phone", "ip_address", "payment_card", "iban", "date_of_birth", "uk_nino",
    "us_ssn", "de_steuer_id", "fr_nir", "person_name", "address",
)  # fmt: skip

Evidence = Literal["name", "values", "both"]
REPORT_AT = 0.5
"""Findings at or above this confidence make a column personal data; below: weak signals."""

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}$")
_EMAIL_IN = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}")
_CARD_IN = re.compile(r"(?<![\d-])(?:\d[ -]?){11,18}\d(?![\d-])")
_IBAN_IN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}\b")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_E164_IN = re.compile(r"(?<![\w+])\+[1-9][\d ().-]{7,18}\d")
_NATIONAL_PHONE = re.compile(r"^(\(?0\d{1,5}\)?[ ./-]?\d[\d ./-]{4,12}\d|\(\d{3}\) ?\d{3}-\d{4})$")
_SSN_IN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.+Z-]*)?$|^(\d{2})[./](\d{2})[./](\d{4})$")
_NAME_IN = re.compile(r"\b([A-Z][a-z]{1,20})\s+(?:[A-Z]\.\s+)?([A-Z][a-z]+(?:-[A-Z][a-z]+)?)\b")

# Given names common across the EU/UK/US: a name in free text needs one of them first, which
# keeps "Order Shipped" and "New York" out. Conservative by design.
# fmt: off
GIVEN_NAMES = frozenset({
    "adam", "alan", "albert", "alexander", "alice", "amanda", "amelia", "andrea", "andreas",
    "andrew", "anna", "anne", "anthony", "barbara", "ben", "benjamin", "brian", "carol",
    "caroline", "charles", "charlotte", "chris", "christian", "christina", "christopher",
    "claire", "daniel", "david", "deborah", "diana", "donald", "dorothy", "edward", "elena",
    "elizabeth", "emily", "emma", "eric", "eva", "fatima", "francesca", "frank", "gary",
    "george", "hannah", "harry", "helen", "henry", "isabella", "jack", "jacob", "james", "jan",
    "jane", "jason", "jean", "jennifer", "jessica", "joan", "john", "jonathan", "joseph",
    "joshua", "julia", "karen", "katharina", "kevin", "laura", "lena", "linda", "lisa", "lucas",
    "lucy", "luis", "maria", "mark", "martin", "mary", "matthew", "michael", "michelle",
    "mohammed", "nancy", "nicole", "noah", "oliver", "olivia", "patricia", "paul", "peter",
    "pierre", "rachel", "richard", "robert", "ruth", "ryan", "sandra", "sarah", "sebastian",
    "sophie", "stefan", "stephen", "steven", "susan", "thomas", "timothy", "tom", "victoria",
    "william"
})
# fmt: on

# Column/key name tokens -> class. A name ending in an id-like token (address_id, card_type)
# names a link or a flag, not the data, and gives no signal.
_NAME_SIGNALS: tuple[tuple[re.Pattern[str], str, float], ...] = (
    (re.compile(r"^(e_?mail|mail|email_?address)$"), "email", 0.6),
    (re.compile(r"^(phone|mobile|tel|telephone|msisdn|cell|fax)$"), "phone", 0.6),
    (re.compile(r"^(ip|ipv4|ipv6|ip_?addr(ess)?|remote_addr|client_ip)$"), "ip_address", 0.5),
    (re.compile(r"^(card|pan|ccn|cc|credit_?card|card_?number|cc_?number)$"), "payment_card", 0.6),
    (re.compile(r"^(iban|bank_?account|account_?number)$"), "iban", 0.6),
    (re.compile(r"^(dob|birth|birthday|birthdate|date_of_birth|born)$"), "date_of_birth", 0.6),
    (re.compile(r"^(nino|ni_?number|national_?insurance)$"), "uk_nino", 0.6),
    (re.compile(r"^(ssn|social_?security)$"), "us_ssn", 0.6),
    (re.compile(r"^(steuer_?id|tax_?id|steuerid|idnr|tin)$"), "de_steuer_id", 0.6),
    (re.compile(r"^(nir|insee|secu)$"), "fr_nir", 0.6),
    (re.compile(r"^(name|first_?name|last_?name|surname|full_?name|given_?name|forename)$"),
     "person_name", 0.4),
    (re.compile(r"^(address|street|house|city|zip|zipcode|postcode|postal_?code)$"), "address",
     0.4),
)  # fmt: skip
_LINK_TOKENS = frozenset({"id", "ids", "key", "type", "count", "verified", "hash", "config", "at"})


@dataclass(frozen=True)
class Finding:
    """One class of personal data found in a column: never a value, only counts.

    Attributes:
        cls: The class (one of ``CLASSES``).
        confidence: 0..1; at least ``REPORT_AT`` makes the column personal data.
        evidence: ``name`` (column name only), ``values`` (sampled values only) or ``both``.
        matched: Sampled values of the class (whole value or, in free text, contained).
        sampled: Non-empty values sampled.
        in_text: Found inside free text rather than as whole values.
    """

    cls: str
    confidence: float
    evidence: Evidence
    matched: int
    sampled: int
    in_text: bool = False


def name_signals(column: str) -> dict[str, float]:
    """Classes a column or key name suggests, with the signal's confidence."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column).lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", snake) if t]
    if not tokens:
        return {}
    found: dict[str, float] = {}
    # The whole name and each of its one- to three-token parts (customer_email, date_of_birth);
    # a name ending in a link token (address_id) counts only as a whole (steuer_id, tax_id).
    parts = {"_".join(tokens)}
    if tokens[-1] not in _LINK_TOKENS:
        parts |= set(tokens) | {f"{a}_{b}" for a, b in itertools.pairwise(tokens)}
        parts |= {"_".join(tokens[i : i + 3]) for i in range(len(tokens) - 2)}
    for pattern, cls, confidence in _NAME_SIGNALS:
        if any(pattern.match(p) for p in parts):
            found[cls] = max(found.get(cls, 0.0), confidence)
    return found


def _birth_date(value: object, today: date) -> bool:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        m = _DATE.match(str(value))
        if not m:
            return False
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (
            m.group(6), m.group(5), m.group(4))  # fmt: skip
        try:
            value = date(int(y), int(mo), int(d))
        except ValueError:
            return False
    return today.year - 120 <= value.year <= today.year - 13


def _is_phone(text: str) -> tuple[bool, bool]:
    """(E.164 or international form, a national form)."""
    compact = re.sub(r"[ ().-]", "", text)
    if text.startswith("+") and _E164.match(compact):
        return True, False
    return False, bool(_NATIONAL_PHONE.match(text)) and 8 <= len(compact) <= 13


def _whole(text: str, loose: set[str]) -> set[str]:
    """Classes the whole value is (strict ones, and ``loose`` ones the name allows)."""
    out: set[str] = set()
    if "@" in text and _EMAIL.match(text):
        return {"email"}
    if v.is_card(text):
        out.add("payment_card")
    if text[:2].isalpha() and v.is_iban(text):
        out.add("iban")
    if v.is_ip(text):
        out.add("ip_address")
    e164, national = _is_phone(text)
    if e164 or (national and "phone" in loose):
        out.add("phone")
    if v.is_uk_nino(text):
        out.add("uk_nino")
    if v.is_us_ssn(text, plain="us_ssn" in loose):
        out.add("us_ssn")
    if v.is_fr_nir(text):
        out.add("fr_nir")
    if "de_steuer_id" in loose and v.is_de_steuer_id(text):
        out.add("de_steuer_id")
    m = _NAME_IN.fullmatch(text)
    if m and m.group(1).lower() in GIVEN_NAMES:
        out.add("person_name")
    return out


def _within(text: str) -> set[str]:
    """Strict classes contained in free text (a note, a message body, a log line)."""
    out: set[str] = set()
    if "@" in text and _EMAIL_IN.search(text):
        out.add("email")
    if any(v.is_card(m.group(0)) for m in _CARD_IN.finditer(text)):
        out.add("payment_card")
    if any(v.is_iban(m.group(0)) for m in _IBAN_IN.finditer(text)):
        out.add("iban")
    if any(_E164.match(re.sub(r"[ ().-]", "", m.group(0))) for m in _E164_IN.finditer(text)):
        out.add("phone")
    if any(v.is_us_ssn(m.group(0)) for m in _SSN_IN.finditer(text)):
        out.add("us_ssn")
    if any(m.group(1).lower() in GIVEN_NAMES for m in _NAME_IN.finditer(text)):
        out.add("person_name")
    return out


def classify_value(
    value: object, *, loose: Iterable[str] = (), today: date | None = None
) -> set[str]:
    """Classes one value belongs to (whole value), or contains if it is free text."""
    return _classify(value, set(loose), today or date.today())[0]


def _classify(value: object, loose: set[str], today: date) -> tuple[set[str], bool]:
    if value is None or isinstance(value, bool | int | float):
        return set(), False
    if isinstance(value, date):
        return ({"date_of_birth"} if _birth_date(value, today) else set()), False
    if isinstance(value, bytes | bytearray | memoryview):
        return set(), False
    text = str(value).strip()
    if not text or len(text) > 20_000:
        text = text[:20_000]
    if not text:
        return set(), False
    found = _whole(text, loose)
    if _DATE.match(text) and _birth_date(text, today):
        found.add("date_of_birth")
    if found:
        return found, False
    if " " in text and len(text) >= 20:
        return _within(text), True
    return set(), False


def classify_column(
    name: str, values: Iterable[object], *, today: date | None = None
) -> list[Finding]:
    """Findings for one column from its name and a sample of its values (counts only)."""
    signals = name_signals(name)
    day = today or date.today()
    sampled = 0
    whole: dict[str, int] = {}
    inside: dict[str, int] = {}
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        sampled += 1
        classes, in_text = _classify(value, set(signals), day)
        for cls in classes:
            bucket = inside if in_text else whole
            bucket[cls] = bucket.get(cls, 0) + 1
    findings = []
    for cls in CLASSES:
        named = signals.get(cls)
        count, in_text = whole.get(cls, 0), False
        if not count and inside.get(cls):
            count, in_text = inside[cls], True
        if not count and named is None:
            continue
        findings.append(_finding(cls, named, count, sampled, in_text))
    return findings


def _finding(cls: str, named: float | None, count: int, sampled: int, in_text: bool) -> Finding:
    if not count:
        assert named is not None
        return Finding(cls, named, "name", 0, sampled)
    share = count / sampled if sampled else 0.0
    # A handful of notes mentioning an e-mail still make a free-text column personal.
    base = 0.55 + 0.3 * min(1.0, share * 4) if in_text else 0.35 + 0.6 * share
    if cls in ("date_of_birth", "de_steuer_id", "person_name") and named is None:
        base = min(base, 0.3 if cls != "person_name" else 0.45 + 0.2 * share)
    evidence: Evidence = "values" if named is None else "both"
    confidence = min(0.99, base + (0.2 if named is not None else 0.0))
    return Finding(cls, round(confidence, 2), evidence, count, sampled, in_text)
