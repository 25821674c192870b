"""Identity kinds and the normalisation of identifiers: the adapter SDK's, under the core's name.

The rules live in ``dsrflow.adapters.sdk.identity`` because adapters match by them and the
SDK may import nothing of the core; the core (catalog, intake, ledger, evidence format and,
through it, the offline verifier) imports them from here. Both names are one module's objects.
"""

from dsrflow.adapters.sdk.identity import BUILTIN_KINDS as BUILTIN_KINDS
from dsrflow.adapters.sdk.identity import BUILTIN_MODES as BUILTIN_MODES
from dsrflow.adapters.sdk.identity import DEFAULT_KINDS as DEFAULT_KINDS
from dsrflow.adapters.sdk.identity import FOLD_GUARDED as FOLD_GUARDED
from dsrflow.adapters.sdk.identity import MODES as MODES
from dsrflow.adapters.sdk.identity import TRIMMED as TRIMMED
from dsrflow.adapters.sdk.identity import IdentityKinds as IdentityKinds
from dsrflow.adapters.sdk.identity import KindRule as KindRule
from dsrflow.adapters.sdk.identity import casefold as casefold
from dsrflow.adapters.sdk.identity import casefold_glob as casefold_glob
from dsrflow.adapters.sdk.identity import normalize_mode as normalize_mode
from dsrflow.adapters.sdk.identity import normalize_phone as normalize_phone
from dsrflow.adapters.sdk.identity import normalize_value as normalize_value
from dsrflow.adapters.sdk.identity import valid_kind as valid_kind
