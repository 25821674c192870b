"""Temporal workflow definitions: orchestration only, deterministic, no I/O."""
