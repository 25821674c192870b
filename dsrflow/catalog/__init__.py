"""The store catalog: config-as-code describing every data store and what it holds."""

from dsrflow.catalog.loader import load_catalog
from dsrflow.catalog.model import Catalog, RetryConfig, StoreCommon, StoreEntry

__all__ = ["Catalog", "RetryConfig", "StoreCommon", "StoreEntry", "load_catalog"]
