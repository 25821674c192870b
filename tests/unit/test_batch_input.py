"""The batch file and the batch declaration: bad input is one FILE:LINE line, nothing echoed.

``read_subjects`` reads the whole ``.csv``/``.jsonl`` file before anything starts; the SDK
refuses an adapter that declares ``supports_erase_many`` without the methods it promises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import BaseModel

from dsrflow.activities.batch import result_tag, seal, unseal_all
from dsrflow.adapters.sdk import Capability, ContractError, describe
from dsrflow.batches import SealedMember
from dsrflow.domain import Identity
from dsrflow.errors import UserError
from dsrflow.service.batch import read_subjects

SECRET = "ann.secret@example.org"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_csv_and_jsonl_give_normalised_subjects(tmp_path: Path) -> None:
    csv = write(
        tmp_path, "s.csv", "email,phone\n Ann@Example.org ,\nbob@example.org,+44 20 7946 0000\n\n"
    )
    assert read_subjects(csv) == [
        [Identity("email", "ann@example.org")],
        [Identity("email", "bob@example.org"), Identity("phone", "+442079460000")],
    ]
    jsonl = write(
        tmp_path, "s.jsonl", '{"email": "ann@example.org"}\n\n{"email": ["b@x.org", "c@x.org"]}\n'
    )
    assert [len(s) for s in read_subjects(jsonl)] == [1, 2]


@pytest.mark.parametrize(
    ("name", "body", "error"),
    [
        (
            "s.csv",
            f"email\nok@example.org\nnot-an-address-{SECRET[:3]}\n",
            "s.csv:3: --email: not an e-mail address",
        ),
        ("s.csv", "email,phone\nok@example.org\n", "s.csv:2: 1 cells, the header has 2"),
        ("s.csv", "email,email\n", "s.csv:1: the header must name each identity kind once"),
        ("s.csv", f"email\n{SECRET}\n{SECRET.upper()}\n", "s.csv:3: the same subject as line 2"),
        ("s.csv", "", "s.csv:1: no header row"),
        ("s.csv", "email\n\n", "s.csv: no subjects in the file"),
        (
            "s.jsonl",
            f'{{"email": "{SECRET}"}}\n{{"email": 3}}\n',
            "s.jsonl:2: 'email': expected text",
        ),
        ("s.jsonl", f'{{"email": "{SECRET}"\n', "s.jsonl:1: not a JSON object"),
        ("s.jsonl", '["x"]\n', "s.jsonl:1: expected an object of identity kinds"),
        ("s.txt", "email\n", "s.txt: expected a .csv or .jsonl file"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_and_line(
    tmp_path: Path, name: str, body: str, error: str
) -> None:
    with pytest.raises(UserError) as caught:
        read_subjects(write(tmp_path, name, body))
    message = str(caught.value)
    assert message.startswith(error), message
    assert "\n" not in message and SECRET not in message.lower() and "ann." not in message


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_bytes(b"email\n\xff\xfe\n")
    with pytest.raises(UserError, match=r"^s\.csv: not UTF-8 text$"):
        read_subjects(path)


class _Config(BaseModel):
    pass


def _adapter(**members: Any) -> type:
    base: dict[str, Any] = {
        "name": "x", "version": "1", "config_model": _Config,
        "capabilities": frozenset({Capability.ERASE}),
        "check_connection": lambda self: None, "close": lambda self: None,
        "erase": lambda self, subject, progress=None: None,
        "__init__": lambda self, config, ctx: None,
        "supports_erase_many": True,
    }  # fmt: skip
    return type("X", (), {**base, **members})


def test_declaring_erase_many_needs_both_methods() -> None:
    with pytest.raises(ContractError, match=r"no erase_many\(\) method.*no verify_many"):
        describe(_adapter())
    spec = describe(
        _adapter(erase_many=lambda self, s, p=None, **k: [], verify_many=lambda self, s: [])
    )
    assert spec.supports_erase_many
    assert spec.erase_many_for(_Config()) is True


def test_erase_many_is_absent_by_default() -> None:
    spec = describe(_adapter(supports_erase_many=False))
    assert spec.supports_erase_many is False and spec.erase_many_for(_Config()) is False


class _Keys:
    """A key store stand-in: one fixed key per request id (the real one is the ledger's)."""

    keys: ClassVar[dict[str, bytes]] = {}

    def key_for(self, owner: str) -> tuple[str, bytes]:
        self.keys.setdefault(f"k-{owner}", bytes(range(32)) if owner == "a" else bytes(32))
        return f"k-{owner}", self.keys[f"k-{owner}"]

    def get_many(self, key_ids: list[str]) -> dict[str, bytes]:
        return {k: self.keys[k] for k in key_ids}


def test_sealed_identities_open_for_their_own_request_only() -> None:
    keys: Any = _Keys()
    ids = [Identity("email", SECRET)]
    sealed = seal(keys, "a", ids)
    assert SECRET not in sealed and "ann" not in sealed
    assert unseal_all(keys, [SealedMember("a", sealed)]) == [ids]
    with pytest.raises(InvalidTag):
        unseal_all(keys, [SealedMember("b", sealed)])  # another request's id as AAD


def test_a_result_tag_binds_member_receipt_and_verification() -> None:
    from datetime import UTC, datetime

    from dsrflow.domain import StoreReceipt, VerifyReceipt

    at = datetime(2026, 12, 3, tzinfo=UTC)
    receipt = StoreReceipt("crm", "sql", "1", "erase", 3, 3, "sha256:x", at, at, 1)
    check = VerifyReceipt("crm", 0, at, "sha256:y")
    tag = result_tag(bytes(32), "dsr-a", receipt, check)
    assert tag == result_tag(bytes(32), "dsr-a", receipt, check)
    assert tag != result_tag(bytes(32), "dsr-b", receipt, check)  # another member
    assert tag != result_tag(bytes(range(32)), "dsr-a", receipt, check)  # another key
    forged = StoreReceipt("crm", "sql", "1", "erase", 9, 9, "sha256:x", at, at, 1)
    assert tag != result_tag(bytes(32), "dsr-a", forged, check)


def test_the_journal_stores_a_batch_receipt_as_the_payload_converter_would() -> None:
    import json
    from datetime import UTC, datetime

    from temporalio.converter import PayloadConverter

    from dsrflow.domain import CollectionCount, StoreReceipt
    from dsrflow.ledger.journal import plain

    at = datetime(2026, 12, 3, 8, 1, 2, 345678, tzinfo=UTC)
    receipt = StoreReceipt(
        "crm", "sql", "1", "erase", 3, 2, "sha256:x", at, at, 2,
        collections=[CollectionCount("t", "delete", 3, 2, 1), CollectionCount("k", "keep", 1, 0,
                     basis="Art. 17(3)(b)", until="2030-01-01")],
        catalog_digest="sha256:c", note=None,
    )  # fmt: skip
    converted = json.loads(PayloadConverter.default.to_payloads([receipt])[0].data)
    assert plain(receipt) == converted


def test_record_many_keeps_the_journal_rules(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from dsrflow.domain import StoreReceipt
    from dsrflow.ledger import Ledger
    from dsrflow.ledger.journal import ReceiptJournal

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    journal = ReceiptJournal(ledger, b"i" * 32)
    at = datetime(2026, 12, 3, tzinfo=UTC)

    def receipt(affected: int) -> StoreReceipt:
        return StoreReceipt("crm", "sql", "1", "erase", affected, affected, "sha256:x", at, at)

    journal.record_many([(receipt(3), "r1", ["t1"]), (receipt(0), "r2", ["t2"])], operation="erase")
    # A re-run that changed nothing never hides the run that did; one that did replaces it.
    journal.record_many([(receipt(0), "r1", ["t1"]), (receipt(2), "r2", ["t2"])], operation="erase")
    first, second = (journal.committed(r, "crm", "erase") for r in ("r1", "r2"))
    assert first is not None and first.receipt == receipt(3)
    assert second is not None and second.receipt.affected == 2
    assert journal.erased_first("r9", "crm", ["t1"]) == "r1"  # the subject index was written
    ledger.close()


def test_a_kept_answer_is_read_from_the_ledger_and_only_trusted_with_its_tag(
    tmp_path: Path,
) -> None:
    from dataclasses import replace
    from datetime import UTC, datetime

    from sqlalchemy import update

    from dsrflow.activities.batch import BatchActivities, answer_tag
    from dsrflow.batches import BatchResultCheck, BatchStoreResult
    from dsrflow.crypto.keystore import KeyStore
    from dsrflow.domain import StoreReceipt, VerifyReceipt
    from dsrflow.ledger import Ledger
    from dsrflow.ledger.batch_answers import BatchAnswers
    from dsrflow.ledger.journal import ReceiptJournal, plain
    from dsrflow.ledger.models import BatchAnswerRow

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)
    keystore = KeyStore(ledger, b"k" * 32)
    answers = BatchAnswers(ledger)
    acts = BatchActivities(
        Any, keystore, journal=ReceiptJournal(ledger, b"i" * 32), answers=answers
    )  # type: ignore[arg-type]  # no store is touched by check_batch_result
    at = datetime(2026, 12, 3, tzinfo=UTC)
    receipt = StoreReceipt("crm", "sql", "1", "erase", 3, 3, "sha256:x", at, at, 1)
    check = VerifyReceipt("crm", 0, at, "sha256:y")
    tag = answer_tag(keystore.key_for("dsr-a")[1], "dsr-a", "crm", receipt, check)
    answers.keep("batch-1", "crm", [("dsr-a", receipt, check, tag)])

    def checked(rid: str, store: str = "crm") -> Any:
        return acts.check_batch_result(BatchResultCheck(rid, BatchStoreResult(store, kept=True)))

    mine = checked("dsr-a")
    assert mine.valid and mine.receipt == receipt and mine.verification == check
    # A forged "kept" signal to a member nothing was kept for, or for another store: refused.
    assert not checked("dsr-b").valid and checked("dsr-b").receipt is None
    assert not checked("dsr-a", "billing").valid
    # Her genuine crm answer copied to another of her stores: not an answer for that store.
    answers.keep("batch-1", "billing", [("dsr-a", receipt, check, tag)])
    assert not checked("dsr-a", "billing").valid
    relabelled = (replace(receipt, store="billing"), replace(check, store="billing"))
    answers.keep("batch-1", "billing", [("dsr-a", *relabelled, tag)])
    assert not checked("dsr-a", "billing").valid  # the tag names the store it was made for
    # A row rewritten in the ledger, in any field, no longer matches its tag.
    for change in ({"affected": 9}, {"dry_run": True}, {"note": "text"}, {"recovered": True}):
        with ledger.session() as s:
            s.execute(update(BatchAnswerRow).values(receipt={**plain(receipt), **change}))
        assert not checked("dsr-a").valid, change
    with ledger.session() as s:
        s.execute(update(BatchAnswerRow).values(receipt=plain(receipt)))
    assert checked("dsr-a").valid  # the untouched row still passes: the checks above are real
    ledger.close()
