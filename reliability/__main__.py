"""`python -m reliability [--quick] [--only NAME ...]`: run the fault suite, write the results."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from reliability.report import merged, previous_rows, write_markdown, write_results
from reliability.runner import open_run, run_one
from reliability.scenarios import SCENARIOS

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the chosen scenarios; exit 1 when any target is missed."""
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes and short faults")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), metavar="NAME")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--markdown", type=Path, default=HERE.parent / "RELIABILITY.md")
    parser.add_argument(
        "--merge", action="store_true", help="replace only these scenarios' rows in --out"
    )
    args = parser.parse_args()
    names = args.only or list(SCENARIOS)
    kept = previous_rows(args.out) if args.merge else []

    async def suite() -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        async with open_run(quick=args.quick) as run:
            for name in names:
                results.append(await run_one(run, name))
                # Written after every scenario: a run cut short still leaves its figures.
                rows = merged(kept, results)
                write_results(args.out, rows, quick=args.quick)
                if args.markdown.exists():
                    write_markdown(args.markdown, rows)
        return results

    results = asyncio.run(suite())
    failed = [r["name"] for r in results if not r["passed"]]
    print(
        f"reliability: {len(results) - len(failed)} of {len(results)} scenarios met every target"
        + (f"; failed: {', '.join(map(str, failed))}" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
