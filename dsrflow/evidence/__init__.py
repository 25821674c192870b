"""Evidence bundles: signed, offline-verifiable proof of what a request did in every store.

``format`` holds the pieces both the builder and the offline verifier use; it imports only the
standard library, ``cryptography`` and ``rfc8785`` so the verifier stays light.
"""
