"""The controller's keys: signers, the root-signed keyring, and key management on disk.

``signer`` and ``keyring`` are pure (standard library, ``cryptography``, ``rfc8785``) because
the offline verifier reads keyrings; ``manager`` handles key files and is used by the CLI and the
signing activity. Nothing here is imported at package level.
"""
