"""Container safety: read a bundle zip without trusting anything in it.

Rejects, before reading any member: traversal names, links and other non-regular files,
directories, duplicate names, compressed members (bundles store members uncompressed, so a
zip bomb cannot hide behind a small file) and declared sizes over the limits. Then requires the
file to be byte-identical to the deterministic zip of its members.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile

from dsrflow.evidence.format import write_zip
from dsrflow.verify.report import VerificationError

MAX_BUNDLE = 64 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_MEMBER = 16 * 1024 * 1024
MAX_TOTAL = 256 * 1024 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _fail(reason: str) -> VerificationError:
    return VerificationError(f"container: {reason}")


def _check_name(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or ".." in parts or ":" in name:
        raise _fail(f"unsafe member name {name!r} (path traversal)")
    if name.endswith("/"):
        raise _fail(f"member {name!r} is a directory")
    if not all(_SEGMENT.match(p) for p in parts):
        raise _fail(f"unsafe member name {name!r}")


def read_members(data: bytes) -> dict[str, bytes]:
    """The members of a bundle, after every container check.

    Raises:
        VerificationError: ``container: <reason>``.

    """
    if len(data) > MAX_BUNDLE:
        raise _fail(f"file is {len(data)} bytes (limit {MAX_BUNDLE})")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # zipfile raises many types on hostile input; all mean unreadable
        raise _fail(f"not a readable zip ({type(exc).__name__}: {exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise _fail(f"{len(infos)} members (limit {MAX_MEMBERS})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _fail(f"member {name!r} is a symbolic link")
        if mode and not stat.S_ISREG(mode):
            raise _fail(f"member {name!r} is not a regular file")
        if name in seen:
            raise _fail(f"duplicate member name {name!r}")
        seen.add(name)
        total += info.file_size
        if info.file_size > MAX_MEMBER or total > MAX_TOTAL:
            raise _fail(
                f"member {name!r} declares {info.file_size} bytes uncompressed "
                f"(limits {MAX_MEMBER} per member, {MAX_TOTAL} in all): a possible zip bomb"
            )
        if info.compress_type != zipfile.ZIP_STORED:
            raise _fail(
                f"member {name!r} is compressed (method {info.compress_type}); "
                "bundles store members uncompressed"
            )
    members: dict[str, bytes] = {}
    for info in infos:
        try:
            content = zf.read(info)
        except Exception as exc:  # bad CRC, truncated data
            raise _fail(f"member {info.filename!r} is corrupt ({type(exc).__name__})") from None
        members[info.filename] = content
    names = [i.filename for i in infos]
    if names != sorted(names):
        raise _fail("members are not in name order")
    if write_zip(members) != data:
        # Members are checked by digest later; the container around them must be exactly the
        # deterministic zip those members make, so no byte of the file escapes the signature.
        raise _fail(
            "not the deterministic zip of its members "
            "(timestamps, modes, extra fields, comments or trailing bytes differ)"
        )
    return members
