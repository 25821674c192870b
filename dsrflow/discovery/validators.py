"""Check-digit and format validators of the value classifiers (pure functions, no I/O).

Each takes one already-stripped string and answers whether it is a well-formed value of its
class. Check digits are what keep the classifiers honest: a 16-digit order id that fails Luhn
is not a card, an IBAN whose mod-97 fails is not an IBAN.
"""

from __future__ import annotations

import ipaddress
import re

_DIGITS = re.compile(r"^\d+$")

# Card brands by issuer identification number: (first digits low, high, lengths).
_BINS: tuple[tuple[int, int, int, frozenset[int]], ...] = (
    (1, 4, 4, frozenset({13, 16, 19})),  # Visa
    (2, 51, 55, frozenset({16})),  # Mastercard
    (4, 2221, 2720, frozenset({16})),  # Mastercard 2-series
    (2, 34, 34, frozenset({15})),  # American Express
    (2, 37, 37, frozenset({15})),
    (4, 6011, 6011, frozenset({16, 17, 18, 19})),  # Discover
    (3, 644, 649, frozenset({16, 17, 18, 19})),
    (2, 65, 65, frozenset({16, 17, 18, 19})),
    (4, 3528, 3589, frozenset({16, 17, 18, 19})),  # JCB
    (3, 300, 305, frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (2, 36, 36, frozenset({14, 15, 16, 17, 18, 19})),
    (2, 38, 39, frozenset({16, 17, 18, 19})),
    (2, 62, 62, frozenset({16, 17, 18, 19})),  # UnionPay
    (2, 50, 50, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
    (2, 56, 58, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
    (2, 67, 67, frozenset({12, 13, 14, 15, 16, 17, 18, 19})),
)

# IBAN length per country (ISO 13616 registry, the countries in it as of 2024).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip

_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_NINO_BAD_PREFIX = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})
_SSN = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_SSN_PLAIN = re.compile(r"^(\d{3})(\d{2})(\d{4})$")
_NIR = re.compile(r"^([1-478])(\d{2})(\d{2})(\d{2}|2[AB])(\d{3})(\d{3})(\d{2})$")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of digits."""
    if not digits or not _DIGITS.match(digits):
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    """Whether the number starts with a card brand's BIN range at a length that brand issues."""
    for width, low, high, lengths in _BINS:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def is_card(text: str) -> bool:
    """A payment card number: 12-19 digits (spaces or dashes allowed), a brand's BIN, Luhn."""
    digits = re.sub(r"[ -]", "", text)
    if not (12 <= len(digits) <= 19) or not _DIGITS.match(digits):
        return False
    return card_brand_ok(digits) and luhn_ok(digits)


def iban_checksum(iban: str) -> int:
    """ISO 7064 MOD 97-10 of an IBAN (1 when its check digits are right)."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97


def is_iban(text: str) -> bool:
    """An IBAN: a known country, its length, and check digits that pass mod 97."""
    iban = text.replace(" ", "").upper()
    if not re.match(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$", iban):
        return False
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    return iban_checksum(iban) == 1


def is_uk_nino(text: str) -> bool:
    """A UK National Insurance number (AB123456C; spaces allowed; invalid prefixes refused)."""
    nino = text.replace(" ", "").upper()
    return bool(_NINO.match(nino)) and nino[:2] not in _NINO_BAD_PREFIX


def is_us_ssn(text: str, *, plain: bool = False) -> bool:
    """A US SSN in the dashed form (``plain``: also nine bare digits), outside the invalid ranges.

    Never issued: area 000, 666 and 900-999, group 00, serial 0000.
    """
    m = _SSN.match(text) or (_SSN_PLAIN.match(text) if plain else None)
    if not m:
        return False
    area, group, serial = m.groups()
    if area in ("000", "666") or area.startswith("9"):
        return False
    return group != "00" and serial != "0000"


def steuer_id_check_digit(first10: str) -> int:
    """ISO 7064 MOD 11,10 check digit of the German tax id's first ten digits."""
    product = 10
    for ch in first10:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def is_de_steuer_id(text: str) -> bool:
    """A German Steuer-Identifikationsnummer: 11 digits, digit rule, MOD 11,10 check digit.

    Of the first ten digits (the first not 0) exactly one appears two or three times, every
    other at most once.
    """
    digits = text.replace(" ", "")
    if len(digits) != 11 or not _DIGITS.match(digits) or digits[0] == "0":
        return False
    counts = sorted((digits[:10].count(d) for d in set(digits[:10])), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] != 1):
        return False
    return steuer_id_check_digit(digits[:10]) == int(digits[10])


def nir_key(body13: str) -> int:
    """The key of a French NIR: 97 - (number mod 97), Corsica's 2A/2B read as 19/18."""
    number = int(body13.replace("2A", "19").replace("2B", "18"))
    return 97 - number % 97


def is_fr_nir(text: str) -> bool:
    """A French NIR (numéro de sécurité sociale): 15 characters whose key is right."""
    nir = text.replace(" ", "").upper()
    m = _NIR.match(nir)
    if not m:
        return False
    month = int(m.group(3))
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    return nir_key(nir[:13]) == int(m.group(7))


def is_ip(text: str) -> bool:
    """An IPv4 (dotted quad) or IPv6 address."""
    if not (7 <= len(text) <= 45) or not re.match(r"^[0-9A-Fa-f:.]+$", text):
        return False
    if "." in text and ":" not in text and text.count(".") != 3:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
