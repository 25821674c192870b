"""``dsrflow scan --format html``: the coverage report as a readable, printable page.

Drawn from ``render.to_json``'s data, never from the scan's internals: what the JSON cannot
hold (a sampled value) the page cannot show. A standalone document: inline CSS, no script,
nothing fetched.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2

from dsrflow.discovery.render import to_json
from dsrflow.discovery.report import ScanResult

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
STATUSES = ("mapped", "unmapped", "ignored", "clean")


def to_html(result: ScanResult) -> str:
    """The coverage report per store, table and column, with classes, confidence and budget."""
    data = to_json(result)
    for store in data["stores"]:
        store["counts"] = {k: sum(1 for t in store["tables"] if t["status"] == k)
                           for k in STATUSES}  # fmt: skip
    return _TEMPLATES.get_template("scan.html").render(
        r=data, generated_at=datetime.now(UTC).isoformat(timespec="seconds"), statuses=STATUSES
    )
