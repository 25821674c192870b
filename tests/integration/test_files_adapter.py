"""The files adapter on a real folder: the conformance kit plus file specifics."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dsrflow.adapters.files import FilesAdapter, FilesConfig
from dsrflow.adapters.sdk import AdapterContext, PermanentAdapterError, Subject
from dsrflow.adapters.testing import AdapterConformance, Harness, Seeded
from dsrflow.domain import Identity

COLLECTIONS = {
    "avatars": {"paths": "avatars/{customer_id}.*"},
    "documents": {"paths": "customers/{customer_id}/**/*"},
}


def make(base: Path, root: str = "files") -> FilesAdapter:
    cfg = FilesConfig.model_validate({"root": root, "collections": COLLECTIONS, "batch_size": 50})
    return FilesAdapter.create(cfg, AdapterContext("uploads", base, {}))


class FilesHarness(Harness):
    batch_size = 50

    def __init__(self, base: Path) -> None:
        self.root = base / "files"
        (self.root / "avatars").mkdir(parents=True)
        (self.root / "customers").mkdir()
        self.adapter = make(base)
        self.ids = itertools.count(1)

    def _subject(self, tag: str) -> tuple[int, Subject]:
        cid = next(self.ids)
        email = f"{tag}-{cid}@example.com"
        return cid, Subject.of([Identity("email", email), Identity("customer_id", str(cid))])

    def seed(self, tag: str) -> Seeded:
        cid, subject = self._subject(tag)
        seeded = Seeded(subject, records=3)
        (self.root / "avatars" / f"{cid}.png").write_bytes(b"\x89PNG\x00\xff" + bytes([cid]))
        letters = self.root / "customers" / str(cid) / "letters"
        letters.mkdir(parents=True)
        (letters / "a.txt").write_text(f"Dear {seeded.marker}")
        (self.root / "customers" / str(cid) / "b.txt").write_text("note")
        return seeded

    def seed_large(self, n: int) -> Seeded:
        cid, subject = self._subject("large")
        bulk = self.root / "customers" / str(cid) / "bulk"
        bulk.mkdir(parents=True)
        for i in range(n):
            (bulk / f"{i}.txt").write_text("x")
        return Seeded(subject, records=n)


class TestFilesConformance(AdapterConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> FilesHarness:
        h = FilesHarness(tmp_path)
        h.seed("present")
        return h


def test_erase_removes_subject_folders_but_not_fixed_ones(tmp_path: Path) -> None:
    h = FilesHarness(tmp_path)
    a, b = h.seed("a"), h.seed("b")
    records = {r.data["path"]: r.data for r in h.adapter.access(a.subject)}
    assert records["customers/1/letters/a.txt"]["text"] == f"Dear {a.marker}"
    assert "base64" in records["avatars/1.png"]
    receipt = h.adapter.erase(a.subject)
    assert [(c.collection, c.matched, c.affected, c.residual) for c in receipt.collections] == [
        ("avatars", 1, 1, 0), ("documents", 2, 2, 0),
    ]  # fmt: skip
    assert not (h.root / "customers" / "1").exists()
    assert (h.root / "customers").is_dir() and (h.root / "avatars").is_dir()
    assert len(list(h.adapter.access(b.subject))) == 3


def test_path_values_cannot_escape_the_root(tmp_path: Path) -> None:
    h = FilesHarness(tmp_path)
    h.seed("victim")
    for value in ("..", "../files/customers/1", "*", "1/../2"):
        sneaky = Subject.of([Identity("customer_id", value)])
        assert list(h.adapter.access(sneaky)) == []
        assert h.adapter.erase(sneaky).affected == 0
    assert (h.root / "customers" / "1" / "b.txt").exists()


def test_missing_root_is_a_permanent_error_naming_the_store(tmp_path: Path) -> None:
    adapter = make(tmp_path, root="nowhere")
    with pytest.raises(PermanentAdapterError, match=r"store 'uploads': root folder .* not found"):
        adapter.verify(Subject.of([Identity("customer_id", "1")]))
    assert not adapter.check_connection().ok


def test_config_refuses_paths_outside_root() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="inside root"):
        FilesConfig.model_validate({"root": "x", "collections": {"a": {"paths": "../{email}"}}})
