"""Scrubbing personal data out of text: the adapter SDK's, under the core's name.

The rules live in ``dsrflow.adapters.sdk.redact`` because adapters describe their drivers'
errors with them and the SDK may import nothing of the core; logging, activities and the CLI
import them from here.
"""

from dsrflow.adapters.sdk.redact import REDACTED as REDACTED
from dsrflow.adapters.sdk.redact import DriverError as DriverError
from dsrflow.adapters.sdk.redact import describe_driver_error as describe_driver_error
from dsrflow.adapters.sdk.redact import describe_exception as describe_exception
from dsrflow.adapters.sdk.redact import first_line as first_line
from dsrflow.adapters.sdk.redact import scrub as scrub
