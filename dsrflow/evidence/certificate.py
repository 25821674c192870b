"""The human-readable certificate in each bundle (``certificate.html``, printable).

Laid out after the NIST SP 800-88 Rev. 1 "Certificate of Sanitization" (Appendix G): per store,
what was sanitised (media information), where, the method, the tool and its version, the
verification method, who performed it and when; and who validates it. It is rendered from the
same records the signature covers and is itself listed in the signed manifest, so it cannot be
altered unnoticed; but the records, not this page, are the evidence.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Template

METHOD = {
    "delete": ("Clear", "Logical deletion of the subject's rows/keys"),
    "anonymize": ("Clear", "De-identification: identifying fields set to null or replaced"),
    "keep-with-basis": ("None", "Retained under the legal basis stated per collection"),
    "exempt": ("None", "Not erased: exemption applies"),
    "not_found": ("None", "Nothing matched the subject; nothing to sanitise"),
    "failed": ("NOT SANITISED", "The erasure failed and needs attention"),
    "not_erased": ("NOT SANITISED", "The store was not erased"),
}


@cache
def _template() -> Template:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("dsrflow.evidence", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("certificate.html")


def render_certificate(
    predicate: dict[str, Any], records: list[dict[str, Any]], signing_key_id: str
) -> bytes:
    """The certificate for a bundle (deterministic: same input, same bytes)."""
    html = _template().render(
        p=predicate, records=records, method=METHOD, signing_key_id=signing_key_id
    )
    return html.encode("utf-8")
