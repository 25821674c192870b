"""Built-in OpenDSR v2 processor adapter (GDPR Art. 19: tell every recipient)."""

from dsrflow.adapters.opendsr.adapter import OpenDsrAdapter
from dsrflow.adapters.opendsr.callbacks import CallbackResult, CallbackVerifier, callback_handler
from dsrflow.adapters.opendsr.config import OpenDsrConfig

__all__ = [
    "CallbackResult",
    "CallbackVerifier",
    "OpenDsrAdapter",
    "OpenDsrConfig",
    "callback_handler",
]
