"""Encryption: per-request data keys, the Temporal payload codec, encrypted files at rest."""
