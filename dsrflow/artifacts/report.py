"""The access package's human-readable report: layered HTML that opens offline.

``report/index.html`` comes first: a summary (what we hold, where), then the data by category
(what it is used for, on which basis, who receives it, how long it is kept, where it came
from), then per system what was left out or redacted and why, then the subject's rights. The
records themselves are on ``report/<store>/<collection>-<n>.html`` pages of ``PAGE_SIZE``
records each, written as the records stream. No script, no external asset (the style sheet is
embedded in each page), print-friendly; every string comes from ``i18n/<lang>.json``.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable
from functools import cache
from html import escape
from pathlib import Path
from typing import IO, Any

from dsrflow.artifacts.package import Part, StorePart, cell, iter_records

PAGE_SIZE = 500
"""Records per HTML page: a large collection becomes several pages, each quick to open."""

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;
color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #999;margin-top:2rem}
h3{font-size:1.1rem}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:#eee}dl{display:grid;grid-template-columns:14rem 1fr;
gap:.2rem .8rem}dt{font-weight:600}nav a{margin-right:1rem}.muted{color:#555}
@media print{nav{display:none}a{color:#000;text-decoration:none}body{max-width:none}
h2{break-after:avoid}tr{break-inside:avoid}}
"""


@cache
def strings(lang: str = "en") -> dict[str, Any]:
    """The report's strings in a language (English when the language has no file)."""
    folder = Path(__file__).with_name("i18n")
    path = folder / f"{lang}.json"
    if not path.exists():
        path = folder / "en.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _page(title: str, body: str, lang: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}"
    )


def page_name(part: Part, page: int) -> str:
    """A records page's file name, relative to its store's folder."""
    return f"{part.stem}-{page}.html"


def write_report(
    zf: zipfile.ZipFile,
    *,
    head: dict[str, Any],
    stores: list[StorePart],
    key: bytes,
    dump: Callable[[Any], str],
) -> None:
    """Write the index page, then each collection's record pages."""
    s = strings(head.get("language", "en"))
    zf.writestr("report/index.html", _index(head, stores, s))
    for sp in stores:
        for part in sp.parts:
            _records(zf, sp.store, part, key, dump, s)


def _index(head: dict[str, Any], stores: list[StorePart], s: dict[str, Any]) -> str:
    e = escape
    out = [f"<h1>{e(s['title'])}</h1><p>{e(s['intro'])}</p>",
           f"<p class=\"muted\">{e(s['request'])}: {e(head['request_id'])} · "
           f"{e(s['generated'])}: {e(head['generated_at'])}</p>",
           f"<h2>{e(s['summary'])}</h2><table><tr><th>{e(s['store'])}</th>"
           f"<th>{e(s['collection'])}</th><th>{e(s['records'])}</th><th></th></tr>"]  # fmt: skip
    for sp in stores:
        if not sp.parts:
            out.append(f"<tr><td>{e(sp.store)}</td><td>—</td><td>{sp.records}</td>"
                       f"<td>{e(s['status'])}: {e(s['statuses'].get(sp.status, sp.status))}"
                       "</td></tr>")  # fmt: skip
        for part in sp.parts:
            link = f"{e(sp.store)}/{e(page_name(part, 1))}"
            out.append(f"<tr><td>{e(sp.store)}</td><td>{e(part.collection)}</td>"
                       f"<td>{part.count}</td><td><a href=\"{link}\">{e(s['view_records'])}"
                       "</a></td></tr>")  # fmt: skip
    out.append("</table>")
    out.append(f"<h2>{e(s['categories_heading'])}</h2>")
    for category, holders in _by_category(stores, s).items():
        out.append(f"<h3>{e(category)}</h3>")
        for store, part, fields in holders:
            out.append(f"<p><strong>{e(s['held_in'])}:</strong> {e(store)} / "
                       f"{e(part.collection)}" + (f" ({e(s['fields'])}: "
                       f"{e(', '.join(fields))})" if fields else "") + "</p>")  # fmt: skip
            out.append(_processing(part.sheet.processing, s))
    out.append(f"<h2>{e(s['details_heading'])}</h2>")
    for sp in stores:
        out.append(f"<h3>{e(sp.store)}</h3>")
        ruled = [p for p in sp.parts if p.sheet.excluded or p.sheet.redacted]
        if not ruled:
            out.append(f"<p>{e(s['no_redaction'])}</p>")
        for part in ruled:
            out.append(f"<p><strong>{e(part.collection)}</strong></p><ul>")
            for r in part.sheet.excluded:
                out.append(f"<li>{e(s['excluded_heading'])}: {e(r['field'])} — "
                           f"{e(r['reason'])}</li>")  # fmt: skip
            for r in part.sheet.redacted:
                ground = s.get(f"ground_{r['ground']}", r["ground"])
                out.append(f"<li>{e(s['redacted_heading'])}: {e(r['field'])} — {e(ground)}: "
                           f"{e(r['reason'])}</li>")  # fmt: skip
            out.append("</ul>")
    rights = head["rights"]
    out.append(f"<h2>{e(s['rights_heading'])}</h2><ul>")
    out += [f"<li>{e(line)}</li>" for line in rights["notice"]]
    out.append("</ul></body></html>\n")
    return _page(s["title"], "".join(out), s["lang"])


def _by_category(
    stores: list[StorePart], s: dict[str, Any]
) -> dict[str, list[tuple[str, Part, list[str]]]]:
    found: dict[str, list[tuple[str, Part, list[str]]]] = {}
    for sp in stores:
        for part in sp.parts:
            proc = part.sheet.processing
            cats = proc.get("data_categories") or [s["category_none"]]
            by_field = proc.get("field_categories") or {}
            for cat in cats:
                fields = sorted(f for f, cs in by_field.items() if cat in cs)
                found.setdefault(cat, []).append((sp.store, part, fields))
    none = found.pop(s["category_none"], None)  # the uncategorised come last
    ordered = dict(sorted(found.items()))
    if none:
        ordered[s["category_none"]] = none
    return ordered


def _processing(proc: dict[str, Any], s: dict[str, Any]) -> str:
    e = escape
    missing = e(s["not_stated"])
    recipients = []
    for r in proc.get("recipients") or []:
        text = e(r["name"]) + (f" ({e(r['country'])})" if r.get("country") else "")
        if r.get("outside_eea"):
            text += " — " + e(s["outside_eea"].format(safeguard=r.get("safeguard", "")))
        recipients.append(text)
    rows = [
        (s["purposes"], e("; ".join(proc.get("purposes") or [])) or missing),
        (s["legal_basis"], e(proc.get("legal_basis") or "") or missing),
        (s["recipients"], "<br>".join(recipients) or e(s["no_recipients"])),
        (s["retention"], e(proc.get("retention") or "") or missing),
        (s["source"], e(proc.get("source") or "") or missing),
    ]
    return "<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _records(
    zf: zipfile.ZipFile,
    store: str,
    part: Part,
    key: bytes,
    dump: Callable[[Any], str],
    s: dict[str, Any],
) -> None:
    """Stream a collection's records into pages of ``PAGE_SIZE`` rows."""
    e = escape
    columns = part.columns(export=False)
    pages = max(1, math.ceil(part.count / PAGE_SIZE))
    header = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>"
    member: IO[bytes] | None = None
    page = 0

    def open_page(n: int) -> IO[bytes]:
        title = f"{store} / {part.collection}"
        nav = [f'<a href="../index.html">{e(s["back"])}</a>']
        if n > 1:
            nav.append(f'<a href="{e(page_name(part, n - 1))}">{e(s["previous"])}</a>')
        if n < pages:
            nav.append(f'<a href="{e(page_name(part, n + 1))}">{e(s["next"])}</a>')
        m = zf.open(f"report/{store}/{page_name(part, n)}", "w", force_zip64=True)
        m.write(_page(title, f"<nav>{''.join(nav)}</nav><h1>{e(title)}</h1>"
                f"<p>{e(s['page'].format(page=n, pages=pages))}</p><table>{header}",
                s["lang"]).encode())  # fmt: skip
        return m

    def close_page(m: IO[bytes]) -> None:
        m.write(b"</table></body></html>\n")
        m.close()

    for i, data in enumerate(iter_records(part, key)):
        if i % PAGE_SIZE == 0:
            if member is not None:
                close_page(member)
            page += 1
            member = open_page(page)
        assert member is not None
        row = "".join(f"<td>{e(cell(data.get(c), dump))}</td>" for c in columns)
        member.write(f"<tr>{row}</tr>\n".encode())
    if member is None:  # no record: one page saying so
        member = open_page(1)
        member.write(f"<tr><td>{e(s['no_records'])}</td></tr>".encode())
    close_page(member)
