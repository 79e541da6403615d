"""Command line: run the emulator standalone until SIGTERM/SIGINT or its maximum lifetime.

    python -m emulator --host 127.0.0.1 --port 8081 --api-key KEY --latency-ms 50

The first line on stdout is the base URL (for ALICE_API_URL, with ALLOW_INSECURE_ALICE_URL=true);
status goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator.control import DEFAULT_API_KEY, AliceEmulator
from emulator.faults import Faults


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--token-ttl-s", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=0, help="seeds reports and fault rates")
    parser.add_argument("--no-auto-create", action="store_true", help="unknown users get 404")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 503")
    parser.add_argument("--error-status", type=int, default=503)
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="share answered 429")
    parser.add_argument("--retry-after-s", type=int, default=1)
    parser.add_argument("--reset-rate", type=float, default=0.0)
    parser.add_argument(
        "--variety",
        type=float,
        default=0.0,
        help="share (0-1) of users whose reports get 1-3 features (NFC, expired...) by seed",
    )
    parser.add_argument(
        "--rate-limit-per-s", type=int, default=0, help="429 above N API requests/s (0: off)"
    )
    parser.add_argument(
        "--pregenerate-file", type=Path, help="file of user ids (one a line) to render up front"
    )
    parser.add_argument(
        "--max-lifetime-s", type=float, default=3600.0, help="stop by itself after this long"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    """Start, print the URL, wait for a signal or the lifetime, stop."""
    faults = Faults(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        error_status=args.error_status,
        rate_limit_rate=args.rate_limit_rate,
        retry_after_s=args.retry_after_s,
        reset_rate=args.reset_rate,
    )
    emulator = AliceEmulator(
        api_key=args.api_key,
        token_ttl_s=args.token_ttl_s,
        seed=args.seed,
        auto_create_users=not args.no_auto_create,
        faults=faults,
        variety=args.variety,
        rate_limit_per_s=args.rate_limit_per_s or None,
    )
    if args.pregenerate_file is not None:
        user_ids = args.pregenerate_file.read_text().split()
        count = emulator.pregenerate(user_ids)
        print(f"emulator: pre-generated {count} reports", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    base_url = await emulator.start(host=args.host, port=args.port)
    print(base_url, flush=True)
    print(f"emulator: listening on {base_url}", file=sys.stderr, flush=True)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_lifetime_s)
    except TimeoutError:
        print("emulator: maximum lifetime reached", file=sys.stderr)
    finally:
        await emulator.stop()
    print("emulator: stopped", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m emulator`."""
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
