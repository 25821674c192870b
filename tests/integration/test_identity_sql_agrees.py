"""The SQL normalisers compute exactly what the Python ones do, on each engine (Hypothesis).

A matcher compares ``normalized(col)`` in SQL with values normalised in Python; if the two rules
ever disagreed, a row would silently not match. SQLite runs the Python normaliser itself, so
PostgreSQL and MariaDB are the ones that need proving.
"""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, create_engine, literal, select

from dsrflow.adapters.sql.normalize import normalized
from dsrflow.identity import normalize_mode
from tests.fixtures.databases import MARIADB_ADMIN, PG_ADMIN, engines
from tests.fixtures.services import require_service

PHONES = st.text(alphabet=string.digits + "+()-. /x" + "0" * 4, max_size=24)
# Spaces pad; tabs and newlines are not trimmed by SQL trim() and never reach an e-mail column
# from a form, so the e-mail alphabet is printable ASCII.
EMAILS = st.text(alphabet=string.ascii_letters + string.digits + " .+_-@", max_size=24)


@pytest.fixture(params=engines("postgres", "mariadb"), scope="module")
def engine(request: pytest.FixtureRequest) -> Iterator[object]:
    require_service(request.param)
    eng = create_engine(PG_ADMIN if request.param == "postgres" else MARIADB_ADMIN)
    yield eng
    eng.dispose()


def sql_form(engine: object, mode: str, value: str, cc: str | None) -> str | None:
    dialect = engine.dialect.name  # type: ignore[attr-defined]
    expr = normalized(literal(value, String), mode, dialect, country_code=cc)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(select(expr)).scalar_one()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=PHONES, cc=st.sampled_from([None, "44", "1"]))
def test_phone_sql_equals_python(engine: object, value: str, cc: str | None) -> None:
    assert sql_form(engine, "phone", value, cc) == normalize_mode(
        "phone", value, default_country_code=cc
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=EMAILS)
def test_casefold_sql_equals_python(engine: object, value: str) -> None:
    assert sql_form(engine, "casefold", value, None) == normalize_mode("casefold", value)
