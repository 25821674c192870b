"""Property-based: mutate valid bundles at random; the verifier never crashes and never accepts.

Class 10 of issue 9. Three mutation families:

- bytes of the zip file (any position, any value, insertions and deletions);
- bytes of one member, re-zipped deterministically so the container checks pass and the
  mutation reaches the member's own checks (signed members by digest, log members byte-exact);
- a JSON value inside a record replaced by an arbitrary JSON value and the bundle **re-signed
  with the real key**: the verifier must end in a verdict or a one-line failure, never an
  exception. (The verifier before issue 9 crashed on these, e.g. ``collections`` replaced by a
  string or a boolean: ``AttributeError``/``TypeError`` instead of a failure reason.)
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsrflow.evidence.format import canonical, write_zip
from dsrflow.verify import Expect, TrustState, verify_bundle
from tests.unit.evidence_kit import KEYRING, build, members, reseal

BUNDLE = build()
PARTS = members(BUNDLE)
NAMES = sorted(PARTS)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def check(tmp_path: Path, data: bytes):
    path = tmp_path / "m.zip"
    path.write_bytes(data)
    report = verify_bundle(path, Expect(KEYRING, TrustState()))  # must not raise
    if not report.ok:
        assert report.failure and "\n" not in report.failure
    return report


@SETTINGS
@given(st.data())
def test_any_changed_byte_of_the_file_is_refused(tmp_path, data) -> None:
    i = data.draw(st.integers(0, len(BUNDLE) - 1), label="position")
    how = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    value = bytes([data.draw(st.integers(0, 255), label="byte")])
    mutated = {
        "replace": BUNDLE[:i] + value + BUNDLE[i + 1 :],
        "insert": BUNDLE[:i] + value + BUNDLE[i:],
        "delete": BUNDLE[:i] + BUNDLE[i + 1 :],
    }[how]
    report = check(tmp_path, mutated)
    assert mutated == BUNDLE or not report.ok


@SETTINGS
@given(st.data())
def test_any_changed_byte_of_a_member_is_refused(tmp_path, data) -> None:
    name = data.draw(st.sampled_from(NAMES), label="member")
    body = PARTS[name]
    i = data.draw(st.integers(0, len(body) - 1), label="position")
    value = data.draw(st.binary(min_size=0, max_size=3), label="replacement")
    span = data.draw(st.integers(0, 3), label="replaced length")
    changed = body[:i] + value + body[i + span :]
    report = check(tmp_path, write_zip({**PARTS, name: changed}))
    assert changed == body or not report.ok, f"{name} changed and was accepted"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@SETTINGS
@given(st.data())
def test_resigned_record_mutations_never_crash(tmp_path, data) -> None:
    store = data.draw(st.sampled_from([n for n in NAMES if n.startswith("records/")]))
    rec = json.loads(PARTS[store])
    path = data.draw(st.sampled_from(list(_paths(rec))[1:]), label="path")
    value = data.draw(JSON, label="value")
    target = rec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        body = canonical(rec)
    except Exception:  # rfc8785 refuses integers beyond 2^53: the builder could not sign it
        return
    check(tmp_path, reseal({**PARTS, store: body}))
