"""Adapters: the SDK every data store adapter is written against, the registry, the built-ins.

``dsrflow.adapters.sdk`` is the contract (a leaf: it imports nothing of the orchestrator);
``dsrflow.adapters.registry`` finds adapters by entry point; ``dsrflow.adapters.testing`` is the
conformance kit. See ``docs/writing-an-adapter.md``. Store-specific code lives here and nowhere
else. Nothing is imported here, so that importing the SDK loads the SDK only.
"""
