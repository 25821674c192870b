"""The test store itself holds what issue 8's "Must show" asks for (so the other tests mean it)."""

from __future__ import annotations

from sqlalchemy import text

from tests.acceptance.newcomer import (
    NOAH,
    PLUS_TAG_CUSTOMER,
    SUBJECT_ROW_COUNT,
    SUBJECT_ROWS,
    TABLES,
    NewcomerStore,
    rows_by_id,
)


def test_the_store_has_every_trap_of_the_issue(shop: NewcomerStore) -> None:
    dump = shop.dump()
    customers = rows_by_id(dump, "customers")
    # Mixed case in the identity column; other cases and padding in a second e-mail table.
    assert customers[1][1] == "Mia.Park+shop@Example.org"
    assert rows_by_id(dump, "newsletter_signups")[1][1] == "MIA.PARK+SHOP@EXAMPLE.ORG "
    # A second customer whose address differs only by the plus-tag, with rows in every table.
    assert customers[PLUS_TAG_CUSTOMER][1] == "mia.park@example.org"
    assert 2 in rows_by_id(dump, "signin_log") and 3 in rows_by_id(dump, "reviews")
    assert 20 in rows_by_id(dump, "orders") and 2000 in rows_by_id(dump, "addresses")
    # A self-reference: Noah was referred by the subject.
    assert customers[NOAH][4] == 1
    # Her 12 rows are all there.
    assert sum(len(SUBJECT_ROWS[t].intersection(rows_by_id(dump, t))) for t in TABLES) == (
        SUBJECT_ROW_COUNT
    )
    # The foreign keys are enforced (SQLite only when asked, as the adapter does).
    eng = shop.engine()
    try:
        with eng.connect() as conn:
            if shop.engine_name == "sqlite":
                conn.execute(text("PRAGMA foreign_keys=ON"))
            try:
                conn.execute(text("DELETE FROM customers WHERE id = 1"))
                refused = False
            except Exception:
                refused = True
            conn.rollback()
    finally:
        eng.dispose()
    assert refused, "deleting the subject's customer row must be refused by foreign keys"
    assert shop.dump() == dump
