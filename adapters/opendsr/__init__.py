"""Built-in OpenDSR v2 processor adapter (GDPR Art. 19: tell every recipient)."""

from adapters.opendsr.adapter import OpenDsrAdapter
from adapters.opendsr.callbacks import CallbackResult, CallbackVerifier, callback_handler
from adapters.opendsr.config import OpenDsrConfig

__all__ = [
    "CallbackResult",
    "CallbackVerifier",
    "OpenDsrAdapter",
    "OpenDsrConfig",
    "callback_handler",
]
