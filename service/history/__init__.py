"""Per-user history: a user's snapshots over time, why each was fetched, what changed (field by
field), and the derived events each produced; as the `history` command and a read-only HTTP API.

Pure: `diff`, `masking`, `origin`, `timeline`, `render`. I/O: `store` (reads), `query` (the use
case), `cli`, `api` (the HTTP server on HISTORY_API_PORT).
"""
