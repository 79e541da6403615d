"""The operator command line: run, migrate, check-config, replay-dlq, backfill, erase, export,
retention, audit, history, rotate-keys, seal-legacy.

Exit codes: 0 success, 1 failure of the work itself, 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from service.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg,unused-ignore]  # read from the environment
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise SystemExit(_fail(f"invalid settings: {problems}", EXIT_USAGE)) from None


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def cmd_run(args: argparse.Namespace) -> int:
    """Run the service (Kafka consumer, relay, health and metrics on HTTP_PORT)."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from service.app import build_service  # noqa: PLC0415
    from service.crypto import KeysMissing  # noqa: PLC0415
    from service.observability import configure_logging  # noqa: PLC0415
    from service.shutdown import WATCHDOG_MARGIN_S, Watchdog  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings.log_level)
    try:
        service = build_service(
            settings, watchdog=Watchdog(settings.shutdown_timeout_s + WATCHDOG_MARGIN_S)
        )
    except KeysMissing as missing:
        return _fail(str(missing), EXIT_USAGE)
    # Everything built so far lives as long as the process: move it out of the collector's
    # sight, and collect the young generation less often. Validating 20-40 KB reports makes
    # many short-lived objects; with the default threshold (700) the collector ran several
    # times per report (measured with `make bench --profile`).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    config = uvicorn.Config(
        service.app,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
    )
    uvicorn.Server(config).run()
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the database migrations up to head."""
    from service.store.database import connect_args  # noqa: PLC0415
    from service.store.migrate import upgrade_to_head  # noqa: PLC0415
    from service.tools.common import guarded, load_settings  # noqa: PLC0415

    def migrate() -> int:
        # The Alice key is not needed to migrate; DATABASE_SSLMODE applies as in the service.
        settings = load_settings(need_alice=False)
        tls = {k: v for k, v in connect_args(settings).items() if k == "ssl"}
        upgrade_to_head(settings.database_url.get_secret_value(), connect_args=tls)
        print("migrations applied: database at head")
        return EXIT_OK

    return guarded(migrate)()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="alice-report-ingestor: Alice Onboarding reports from Kafka to PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help=cmd_run.__doc__).set_defaults(func=cmd_run)
    commands.add_parser("migrate", help=cmd_migrate.__doc__).set_defaults(func=cmd_migrate)
    # The operator tools are optional; when present, an import error inside them must surface
    # (catching ImportError would hide a broken tool behind a missing command).
    if importlib.util.find_spec("service.tools") is not None:
        from service.tools import register  # noqa: PLC0415

        register(commands)
    from service.history.cli import register as register_history  # noqa: PLC0415

    register_history(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.func(args)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return int(result)
