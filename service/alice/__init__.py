"""The Alice Onboarding adapter: an async client with a token cache, retries and typed errors.

- `AliceClient` (client.py): the auth chain, bounded retries, size and concurrency caps.
- `ReportSource` (ports.py): the Protocol the use case depends on.
- `build_http_client` (transport.py): the process's one pooled `httpx.AsyncClient`.
- `TokenCache` (tokens.py), `canonical_user_id` (userid.py), `responses.py`, `wire.py`: the parts.
"""

from service.alice.client import AliceClient, OnCall, OnRetry
from service.alice.ports import ReportSource
from service.alice.transport import build_http_client

__all__ = ["AliceClient", "OnCall", "OnRetry", "ReportSource", "build_http_client"]
