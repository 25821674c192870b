"""dsrflow: durable orchestration of GDPR data-subject requests with verifiable erasure evidence."""

__version__ = "0.1.0"
