"""Property-based: ``dsrflow verify`` on mutated bundles ends in a failure code, one line.

Issue 14, build item 2 (bundle verification). Extends ``test_verify_mutation.py`` (bytes of
the file, bytes of a member, re-signed value replacements, all through ``verify_bundle``) with
mutations of the container and of JSON structure, run through the real command:

- the zip truncated anywhere, members duplicated, dropped, renamed or added;
- any JSON member (signed or not) changed structurally: a value wrapped in a list or object,
  a key duplicated with another value, a number made huge (``1e400``, 400-digit integers),
  deep nesting, the whole document replaced by a scalar;
- the same structural mutations of a record, re-signed with the real key.

The command never prints a traceback; an unsigned mutation never verifies (exit 1 or 2, the
documented failure codes, never 0 or 3), and every outcome prints its failure on one line.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dsrflow.evidence.format import write_zip
from tests.fixtures.cli import invoke
from tests.unit.evidence_kit import KEYRING, build, members, reseal

BUNDLE = build()
PARTS = members(BUNDLE)
NAMES = sorted(PARTS)
JSON_NAMES = [n for n in NAMES if n.endswith(".json")]
RECORDS = [n for n in NAMES if n.startswith("records/")]
BUDGET = settings(max_examples=40)
HUGE = st.sampled_from(["1e400", "-1e400", "9" * 400, "-" + "9" * 400, "1.5e-400", "NaN"])


def verify(tmp: Path, data: bytes) -> tuple[int, str, str]:
    (tmp / "keyring.json").write_bytes(KEYRING)
    (tmp / "b.zip").write_bytes(data)
    env = {"DSRFLOW_STATE_DIR": str(tmp / "state"),
           "DSRFLOW_VERIFIER_STATE": str(tmp / "verifier.json")}  # fmt: skip
    r = invoke("verify", tmp / "b.zip", "--keyring", tmp / "keyring.json", env=env)
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    assert r.returncode in (0, 1, 2, 3), out
    if r.returncode in (1, 2):
        problem = [ln for ln in out.splitlines() if ln.startswith(("FAIL ", "Error", "error"))]
        assert problem, out
        assert all(len(ln) < 2000 for ln in problem)
    return r.returncode, r.stdout, r.stderr


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are the point
        for name, body in entries:
            zf.writestr(name, body)
    return buf.getvalue()


@st.composite
def structural(draw: st.DrawFn, text: str) -> str:
    """``text`` (a JSON document) with one structural change, written out as raw JSON text."""
    doc: Any = json.loads(text)
    how = draw(st.sampled_from(["wrap", "dupkey", "huge", "nest", "scalar", "drop"]))
    if how == "scalar" or not isinstance(doc, dict) or not doc:
        return draw(st.sampled_from(["null", "0", '"x"', "[]", "true", "9" * 400]))
    key = draw(st.sampled_from(sorted(doc)))
    if how == "wrap":
        doc[key] = draw(st.sampled_from([[doc[key]], {"v": doc[key]}]))
    elif how == "drop":
        del doc[key]
    elif how == "nest":
        doc[key] = json.loads("[" * 200 + "1" + "]" * 200)
    body = json.dumps(doc)
    if how == "dupkey":
        return body[:-1] + f", {json.dumps(key)}: {draw(HUGE | st.just('{}'))}" + "}"
    if how == "huge":
        return body[:-1] + f", {json.dumps(key + '_')}: {draw(HUGE)}" + "}"
    return body


def test_the_untouched_bundle_verifies_unpinned(tmp_path: Path) -> None:
    code, out, _ = verify(tmp_path, BUNDLE)
    assert code == 3, out


@BUDGET
@given(data=st.data())
def test_container_mutations_never_verify(tmp_path_factory, data) -> None:
    tmp = tmp_path_factory.mktemp("v")
    how = data.draw(st.sampled_from(["truncate", "duplicate", "drop", "rename", "add"]))
    entries = list(PARTS.items())
    if how == "truncate":
        mutated = BUNDLE[: data.draw(st.integers(0, len(BUNDLE) - 1), label="length")]
    else:
        i = data.draw(st.integers(0, len(entries) - 1), label="member")
        name, body = entries[i]
        if how == "duplicate":
            other = data.draw(st.sampled_from([body, b"{}", b"x"]), label="copy")
            entries.insert(data.draw(st.integers(0, len(entries))), (name, other))
        elif how == "drop":
            del entries[i]
        elif how == "rename":
            new = data.draw(st.sampled_from(["../" + name, "/" + name, name.upper(), name + "/"]))
            entries[i] = (new, body)
        else:
            extra = st.text(alphabet="abcé.-_/", min_size=1, max_size=12).filter(str.isalpha)
            entries.append(
                (data.draw(extra | st.sampled_from(["records/x.json", "a/../b"])), b"{}")
            )
        mutated = zip_of(entries)
    code, out, _ = verify(tmp, mutated)
    assert code in (1, 2), f"{how} verified: {out}"


@BUDGET
@given(data=st.data())
def test_structural_json_mutations_never_verify(tmp_path_factory, data) -> None:
    name = data.draw(st.sampled_from(JSON_NAMES), label="member")
    changed = data.draw(structural(PARTS[name].decode()), label="document").encode()
    if changed == PARTS[name]:
        return
    code, out, _ = verify(tmp_path_factory.mktemp("v"), write_zip({**PARTS, name: changed}))
    assert code in (1, 2), f"{name} changed and verified: {out}"


@BUDGET
@given(data=st.data())
def test_resigned_structural_record_mutations_never_crash(tmp_path_factory, data) -> None:
    name = data.draw(st.sampled_from(RECORDS), label="record")
    changed = data.draw(structural(PARTS[name].decode()), label="document").encode()
    verify(tmp_path_factory.mktemp("v"), reseal({**PARTS, name: changed}))
