"""The demo: two seeded SQLite stores, one subject, an access and an erasure request."""
