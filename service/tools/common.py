"""What the operator tools share: exit codes, settings loading, one-line failures, Kafka errors.

Settings: `check-config` needs every setting. `replay-dlq` and `backfill` talk to Kafka only, so
when ALICE_API_KEY is the one thing missing or invalid they run with a placeholder key (never
used: these tools build no Alice client) instead of refusing; any other invalid setting stops
them with exit code 2, listing each problem by its environment variable name (never a value).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from pydantic import SecretStr, ValidationError

from service.settings import Settings

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
# Tools that never call Alice run with this key when ALICE_API_KEY is absent or empty.
ALICE_KEY_PLACEHOLDER: Final = "unused-by-operator-tools"


class ToolFailed(Exception):
    """A tool cannot go on: print the one-line message and exit with `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def settings_problems(error: ValidationError, *, ignore: tuple[str, ...] = ()) -> list[str]:
    """One line per invalid setting, named as its environment variable, without the value."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        if tuple(item["loc"]) in {(name,) for name in ignore}:
            continue
        name = "_".join(str(part) for part in item["loc"]).upper() or "SETTINGS"
        lines.append(f"{name}: {item['msg']}")
    return lines


def _only_alice_key(error: ValidationError) -> bool:
    return all(tuple(item["loc"]) == ("alice_api_key",) for item in error.errors())


def load_settings(*, need_alice: bool) -> Settings:
    """Settings from the environment; raise ToolFailed(exit 2) listing what is invalid."""
    try:
        return Settings()  # type: ignore[call-arg,unused-ignore]  # read from the environment
    except ValidationError as exc:
        if not need_alice and _only_alice_key(exc):
            return Settings(alice_api_key=SecretStr(ALICE_KEY_PLACEHOLDER))
        unused = () if need_alice else ("alice_api_key",)
        problems = "\n  ".join(settings_problems(exc, ignore=unused))
        raise ToolFailed(f"invalid settings:\n  {problems}", EXIT_USAGE) from None


@contextmanager
def kafka_failures(bootstrap: str) -> Iterator[None]:
    """Turn an unreachable or failing Kafka into a one-line ToolFailed (exit 1)."""
    from aiokafka.errors import KafkaConnectionError, KafkaError  # noqa: PLC0415 - fast --help

    try:
        yield
    except TimeoutError:
        raise ToolFailed(f"Kafka at {bootstrap} did not answer in time") from None
    except KafkaConnectionError:
        raise ToolFailed(f"Kafka at {bootstrap} is unreachable") from None
    except KafkaError as exc:
        name = type(exc).__name__
        text = str(exc).removeprefix(f"{name}: ")
        raise ToolFailed(f"Kafka at {bootstrap}: {name}: {text}") from None
    except OSError as exc:
        raise ToolFailed(f"Kafka at {bootstrap} is unreachable: {exc.strerror or exc}") from None


def quiet_logging() -> None:
    """Tools speak through their own output: library and service logs only when critical."""
    import structlog  # noqa: PLC0415

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(stream=sys.stderr, level=logging.CRITICAL)
    logging.getLogger().setLevel(logging.CRITICAL)


def guarded(command: Callable[..., int]) -> Callable[..., int]:
    """Run a command; a ToolFailed becomes `error: <message>` on stderr and its exit code."""

    def run(*args: object) -> int:
        quiet_logging()
        try:
            return command(*args)
        except ToolFailed as failure:
            print(f"error: {failure.message}", file=sys.stderr)
            return failure.code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    run.__doc__ = command.__doc__
    run.__name__ = command.__name__
    return run
