"""HTTP endpoints of dsrflow (FastAPI)."""
