"""The ``dsrflow`` command line."""
