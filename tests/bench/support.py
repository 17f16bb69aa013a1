"""Shared pieces of the benchmarks' smoke tests."""

from __future__ import annotations

import socket


def unanswered_postgres_url() -> str:
    """A PostgreSQL URL on a local port that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
