"""Built-in files adapter: a folder (local or a mounted object store) with per-subject paths."""

from dsrflow.adapters.files.adapter import FilesAdapter, FilesConfig

__all__ = ["FilesAdapter", "FilesConfig"]
