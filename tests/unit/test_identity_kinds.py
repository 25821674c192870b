"""Identity kinds: normalisers, the catalog's ``identity_kinds`` section, unknown-kind errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.dialects import mysql, postgresql, sqlite

from dsrflow.adapters.registry import AdapterRegistry
from dsrflow.adapters.sdk import Subject
from dsrflow.adapters.sql import SqlConfig
from dsrflow.adapters.sql.normalize import normalized
from dsrflow.adapters.sql.plan import SqlPlan
from dsrflow.catalog import load_catalog
from dsrflow.cli.requests import parse_identities
from dsrflow.domain import Identity
from dsrflow.errors import ConfigError, UserError
from dsrflow.identity import (
    BUILTIN_KINDS,
    IdentityKinds,
    KindRule,
    casefold_glob,
    normalize_phone,
    normalize_value,
)
from tests.fixtures.cli import invoke

KINDS_44 = IdentityKinds(dict(BUILTIN_KINDS), default_country_code="44")


@pytest.fixture
def registry() -> AdapterRegistry:
    return AdapterRegistry.from_entry_points()


def errors_of(tmp_path: Path, text: str, registry: AdapterRegistry) -> list[str]:
    path = tmp_path / "dsrflow.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_catalog(path, registry)
    return str(exc.value).splitlines()


def load(tmp_path: Path, text: str, registry: AdapterRegistry):
    path = tmp_path / "dsrflow.yaml"
    path.write_text(text)
    return load_catalog(path, registry)


# -- normalisers ------------------------------------------------------------------------------


def test_email_is_trimmed_and_lower_cased_only() -> None:
    assert normalize_value("email", "  Mia.Park+shop@Example.org ") == "mia.park+shop@example.org"
    assert normalize_value("email", "Mia.Park+shop@Example.org") != normalize_value(
        "email", "mia.park@example.org"
    )
    assert normalize_value("email", "mia.park@example.org") != normalize_value(
        "email", "miapark@example.org"
    )


@pytest.mark.parametrize(
    "typed", ["+44 20 7946 0018", "020 7946 0018", "0044 20 7946 0018", "+44 (0)20 7946 0018",
              "(020) 7946-0018", "+442079460018"],
)  # fmt: skip
def test_phone_forms_give_one_e164(typed: str) -> None:
    assert normalize_phone(typed, "44") == "+442079460018"
    assert KINDS_44.normalize("phone", typed) == "+442079460018"


def test_phone_without_country_code_keeps_national_digits() -> None:
    assert normalize_phone("020 7946 0018") == "02079460018"
    assert normalize_phone("+44 20 7946 0018") == "+442079460018"
    assert normalize_phone("no digits") == "" and normalize_phone("00") == ""


def test_casefold_glob_only_widens_letter_case() -> None:
    def esc(ch: str) -> str:
        return "\\" + ch if ch in "*?[]\\" else ch

    assert casefold_glob("a*1@x", esc) == "[aA]\\*1@[xX]"
    assert casefold_glob("ß", esc) == "ß"  # upper() is 'SS': no class


# -- the registry -----------------------------------------------------------------------------

CATALOG = """\
version: 1
identity_kinds:
  phone: {{default_country_code: "44"}}
  loyalty_no: {{strong: true, match: exact}}
  username: {{match: casefold}}
stores:
  shop:
    adapter: sql
    connection: {{url: "sqlite:///shop.db"}}
    collections:
      customers:
        identities: {identities}
        provides: {{id: customer_id}}
      cards:
        identities: {{card: loyalty_no}}
"""


def test_registry_from_the_catalog(tmp_path: Path, registry: AdapterRegistry) -> None:
    cat = load(tmp_path, CATALOG.format(identities="{email: email, phone: phone}"), registry)
    kinds = cat.identity_kinds
    assert kinds.strong_kinds() == {"email", "phone", "loyalty_no"}
    assert kinds.default_country_code == "44"
    assert kinds.mode("email") == "casefold" and kinds.mode("phone") == "phone"
    assert kinds.mode("loyalty_no") == "exact" and kinds.mode("username") == "casefold"
    assert kinds.mode("customer_id") == "exact" and "customer_id" not in kinds.strong_kinds()
    assert kinds.names() == ["customer_id", "email", "loyalty_no", "phone", "username"]


def test_long_form_and_exact_opt_in(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = CATALOG.format(identities="{email: {kind: email, match: exact}, mail2: email}")
    coll = load(tmp_path, text, registry).stores["shop"].config.collections["customers"]
    assert coll.identity_kinds() == {"email": "email", "mail2": "email"}
    assert coll.identities["email"].match == "exact" and coll.identities["mail2"].match is None


@pytest.mark.parametrize(
    ("identities", "where", "kind"),
    [
        ("{email: emial}", "stores.shop.collections.customers.identities.email", "emial"),
        ("{email: Email}", "stores.shop.collections.customers.identities.email", "Email"),
        ("{email: {kind: emial}}", "stores.shop.collections.customers.identities.email", "emial"),
    ],
)
def test_unknown_sql_kind_names_file_and_line(
    tmp_path: Path, registry: AdapterRegistry, identities: str, where: str, kind: str
) -> None:
    lines = errors_of(tmp_path, CATALOG.format(identities=identities), registry)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'dsrflow.yaml'}:12: {where}: ")
    assert f"unknown identity kind {kind!r} (known: customer_id, email, loyalty_no" in lines[0]


def test_unknown_kinds_in_every_adapter(tmp_path: Path, registry: AdapterRegistry) -> None:
    text = """\
version: 1
stores:
  cache:
    adapter: redis
    connection: {url: "redis://localhost:6379/0"}
    collections:
      s: {keys: "session:{emial}:*"}
      n: {keys: "news", member: "{Email}x{email}"}
  uploads:
    adapter: files
    root: files
    collections:
      a: {paths: "a/{phnoe}.png"}
  vendor:
    adapter: opendsr
    url: https://vendor.example
    certificate_file: c.pem
    identities: {emial: email}
  shop:
    adapter: sql
    connection: {url: "sqlite:///shop.db"}
    collections:
      c: {identities: {email: email}, provides: {ref: Customer_Id}}
"""
    lines = errors_of(tmp_path, text, registry)
    f = tmp_path / "dsrflow.yaml"
    known = "(known: email, phone)"
    assert lines == [
        f"{f}:7: stores.cache.collections.s.keys: unknown identity kind 'emial' {known}",
        f"{f}:8: stores.cache.collections.n.member: unknown identity kind 'Email' {known}",
        f"{f}:13: stores.uploads.collections.a.paths: unknown identity kind 'phnoe' {known}",
        f"{f}:18: stores.vendor.identities.emial: unknown identity kind 'emial' {known}",
        f"{f}:23: stores.shop.collections.c.provides.ref: unknown identity kind "
        f"'Customer_Id' {known}",
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{email: {match: exact}}", "kind 'email' is built in with match 'casefold'"),
        ("{phone: {strong: false}}", "kind 'phone' is built in as strong"),
        ("{Loyalty: {strong: true}}", "kind 'Loyalty': kinds are lower-case"),
        ("{loyalty_no: {default_country_code: '44'}}", "applies to phone only"),
        ("{phone: {default_country_code: '+44'}}", "String should match pattern"),
        ("{loyalty_no: {match: fuzzy}}", "Input should be 'exact', 'casefold' or 'phone'"),
    ],
)
def test_bad_identity_kinds_section(
    tmp_path: Path, registry: AdapterRegistry, section: str, message: str
) -> None:
    text = f"version: 1\nidentity_kinds: {section}\n" + CATALOG.split("\n", 5)[5].format(
        identities="{email: email}"
    ).replace("loyalty_no", "customer_id")
    lines = errors_of(tmp_path, text, registry)
    assert len(lines) == 1 and ":2: identity_kinds" in lines[0] and message in lines[0], lines


# -- the YAML date bug (issue 8, item 9) ------------------------------------------------------

DATED = """\
version: 1
stores:
  shop:
    adapter: sql
    exemption: {ground: "Art. 17(3)(b)", until: 2034-12-31}
    connection: {url: "sqlite:///shop.db"}
    collections:
      invoices:
        identities: {email: email}
        erase: {strategy: keep, basis: "Art. 17(3)(b): tax law", until: 2034-12-31}
"""


def test_unquoted_yaml_dates_load(tmp_path: Path, registry: AdapterRegistry) -> None:
    cat = load(tmp_path, DATED, registry)
    spec = cat.stores["shop"].config.collections["invoices"].erase
    assert spec.until is not None and spec.until.isoformat() == "2034-12-31"
    assert cat.stores["shop"].plan().exemption.until == "2034-12-31"
    assert cat.digest.startswith("sha256:")  # the digest used to crash on a date


def test_validate_cli_prints_ok_for_unquoted_dates(tmp_path: Path) -> None:
    (tmp_path / "dsrflow.yaml").write_text(DATED)
    r = invoke("catalog", "validate", cwd=tmp_path, env={"DSRFLOW_STATE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert ": OK, 1 stores" in r.stdout and "Traceback" not in r.stdout + r.stderr


# -- where requests are built ----------------------------------------------------------------


def test_submitted_identifiers_use_the_catalog_rules() -> None:
    ids = parse_identities([" Mia.Park+shop@Example.org"], ["phone=020 7946 0018"], KINDS_44)
    assert ids == [
        Identity("email", "mia.park+shop@example.org"),
        Identity("phone", "+442079460018"),
    ]
    with pytest.raises(UserError, match="unknown identity kind 'emial'"):
        parse_identities([], ["emial=x@y.z"], KINDS_44)
    with pytest.raises(UserError, match="no value left"):
        parse_identities([], ["phone=n/a"], KINDS_44)


@pytest.mark.parametrize(
    "typed",
    [
        "+44 20 7946 \u0660\u0660\u0661\u0668",  # Arabic-Indic digits at the end
        "\uff10\uff12\uff10 7946 0018",  # full-width digits
        "+44 20 7946 001\u0968",  # one Devanagari digit would be dropped: a shorter number
    ],
)
def test_a_phone_with_other_scripts_digits_is_refused_not_truncated(typed: str) -> None:
    # Normalising keeps ASCII digits only (as the SQL form must), so these would lose digits
    # and could match another person's shorter number; the subject is asked to retype.
    with pytest.raises(UserError) as err:
        parse_identities([], [f"phone={typed}"], KINDS_44)
    assert str(err.value) == "--identity phone=...: write the phone number with the digits 0-9"
    assert parse_identities([], ["phone=+44 20 7946 0018"], KINDS_44) == [
        Identity("phone", "+442079460018")
    ]
    # An exact kind keeps its value as typed: other scripts' digits are its own characters.
    kinds = IdentityKinds({**BUILTIN_KINDS, "ref": KindRule("ref", "exact")})
    assert parse_identities([], ["ref=A\u0661"], kinds) == [Identity("ref", "A\u0661")]


# -- the SQL shapes ---------------------------------------------------------------------------


def test_sql_shapes_per_dialect() -> None:
    t = Table("people", MetaData(), Column("id", Integer, primary_key=True),
              Column("email", String(100)), Column("phone", String(40)))  # fmt: skip

    def sql(expr: object, dialect: object) -> str:
        return str(expr.compile(dialect=dialect))  # type: ignore[attr-defined]

    pg = sql(normalized(t.c.email, "casefold", "postgresql"), postgresql.dialect())
    # Every white space Python trims (CR, tab, no-break space...), and the look-alikes guarded
    # through lower(): literals only (an expression index must see the same text), no params.
    assert pg.startswith("replace(replace(lower(replace(replace(btrim(people.email, E'\\u0009")
    assert "\\u00a0" in pg and "E'\\u212a'" in pg and "%(" not in pg
    my = sql(normalized(t.c.email, "casefold", "mysql"), mysql.dialect())
    assert my.startswith(
        "CONVERT(replace(replace(lower(replace(replace(regexp_replace(people.email"
    )
    assert my.endswith("USING utf8mb4) COLLATE utf8mb4_bin")
    assert sql(normalized(t.c.email, "casefold", "sqlite"), sqlite.dialect()) == (
        "dsrflow_casefold(people.email)"
    )
    assert sql(normalized(t.c.email, "exact", "sqlite"), sqlite.dialect()) == "people.email"
    pg_phone = sql(normalized(t.c.phone, "phone", "postgresql", country_code="44"),
                   postgresql.dialect())  # fmt: skip
    assert "regexp_replace" in pg_phone and "'+44'" in pg_phone and "%(" not in pg_phone
    assert sql(normalized(t.c.phone, "phone", "sqlite", country_code="44"), sqlite.dialect()) == (
        "dsrflow_e164(people.phone, '44')"
    )
    with pytest.raises(ValueError, match="country_code"):
        normalized(t.c.phone, "phone", "postgresql", country_code="44; drop")

    cfg = SqlConfig.model_validate({
        "connection": {"url": "sqlite:///x.db"},
        "collections": {"people": {"identities": {"email": "email", "phone": "phone"}}},
    })  # fmt: skip
    plan = SqlPlan("s", cfg, {"people": t}, "postgresql", kinds=KINDS_44)
    clause = plan.match("people", Subject.of([Identity("email", "A@B.C")]))
    assert "btrim(people.email, E'" in sql(clause, postgresql.dialect())
    assert plan.identity_mode("people", "phone") == "phone"


def test_bad_long_form_says_what_is_allowed(tmp_path: Path, registry: AdapterRegistry) -> None:
    lines = errors_of(tmp_path, CATALOG.format(identities="{email: 42}"), registry)
    assert lines == [
        f"{tmp_path / 'dsrflow.yaml'}:12: stores.shop.collections.customers.identities.email: "
        "give an identity kind (email) or {kind: email, match: exact}"
    ]
    text = CATALOG.format(identities="{email: {kind: email, match: fuzzy}}")
    [line] = errors_of(tmp_path, text, registry)
    assert "identities.email.match: Input should be 'exact', 'casefold' or 'phone'" in line
