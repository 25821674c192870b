"""Discovery of personal data the catalog does not cover (``dsrflow scan``, docs/discovery.md)."""
