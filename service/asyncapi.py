"""The AsyncAPI document of the service's Kafka channels (input, derived events, dead letters).

`docs/asyncapi.yaml` is generated from the app itself, so the document cannot drift from the
subscriber and publishers that `service.app` declares:

    uv run python -m service.asyncapi --out docs/asyncapi.yaml

The content is what `faststream docs gen --yaml service.asyncapi:app` writes (that CLI needs the
`faststream[cli]` extra, which the project does not install), with the channels, operations,
messages and schemas sorted by name: FastStream's own order changes from run to run. The app is
built from the settings' defaults only, never the environment, so the document is the same on
every machine; building it opens no connection.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import yaml
from faststream.asgi import AsgiFastStream
from faststream.specification import AsyncAPI
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from service.app import build_service
from service.events.schemas import asyncapi_messages
from service.messages import OnboardingCompleted
from service.settings import Settings

DOCS_API_KEY = "docs-only"  # a placeholder: the docs app never calls Alice

# Mappings whose order FastStream takes from a WeakSet of endpoints (memory addresses): sorted
# by name, so that the same app always gives the same text.
_SORTED_MAPPINGS = (
    ("channels",),
    ("operations",),
    ("components", "messages"),
    ("components", "schemas"),
)


class DocsSettings(Settings):
    """The settings' defaults, with the environment ignored (deterministic documents)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read the constructor's arguments only."""
        return (init_settings,)


async def _build_docs_app() -> AsgiFastStream:
    # The Kafka producer must be created inside a running loop; nothing is started.
    # Development: the document needs no key-encryption key (nothing is stored).
    service = build_service(DocsSettings(alice_api_key=DOCS_API_KEY, environment="development"))
    await asyncio.gather(service.producer.stop(), service.alice.aclose(), service.database.aclose())
    app = service.app
    # The document's title and version are the package's, not FastStream's defaults.
    package = metadata("alice-report-ingestor")
    specification = AsyncAPI(
        service.broker,
        title=package["Name"],
        version=package["Version"],
        description=package["Summary"],
    )
    for path, handler in getattr(app.schema, "http_handlers", ()):
        specification.add_http_route(path, handler)
    app.schema = specification
    return app


def docs_app() -> AsgiFastStream:
    """The service's FastStream app, built for its schema only (a `--factory` for FastStream)."""
    return asyncio.run(_build_docs_app())


def asyncapi_yaml() -> str:
    """The AsyncAPI document as YAML: `faststream docs gen --yaml`'s, in a stable order."""
    document = docs_app().schema.to_specification().to_jsonable()
    _input_payload(document)
    _derived_messages(document)
    for path in _SORTED_MAPPINGS:
        *parents, name = path
        holder = document
        for key in parents:
            holder = holder.get(key, {})
        if name in holder:
            holder[name] = dict(sorted(holder[name].items()))
    return yaml.dump(document, sort_keys=False, allow_unicode=True)


def _input_payload(document: dict[str, Any]) -> None:
    """Name the input payload: the handler takes records undecoded (`NoCast`), so that invalid
    ones reach the dead-letter path instead of failing in FastStream's validation, and FastStream
    then documents the payload as empty. The contract is OnboardingCompleted."""
    schemas = document.get("components", {}).get("schemas", {})
    if "EmptyPayload" not in schemas:
        return
    del schemas["EmptyPayload"]
    schemas.setdefault(
        "OnboardingCompleted",
        OnboardingCompleted.model_json_schema(ref_template="#/components/schemas/{model}"),
    )
    for message in document.get("components", {}).get("messages", {}).values():
        payload = message.get("payload", {})
        if payload.get("$ref") == "#/components/schemas/EmptyPayload":
            payload["$ref"] = "#/components/schemas/OnboardingCompleted"


def _derived_messages(document: dict[str, Any]) -> None:
    """One message per derived event type on the output channel: FastStream documents a
    publisher with one payload, while the type travels in the `ce_type` header."""
    components = document.get("components", {})
    for name, channel in document.get("channels", {}).items():
        refs = [ref["$ref"].rsplit("/", 1)[-1] for ref in channel.get("messages", {}).values()]
        payloads = [components["messages"][ref]["payload"].get("$ref", "") for ref in refs]
        if not any(p.endswith(":Payload") for p in payloads) or name not in document["operations"]:
            continue
        messages, schemas = asyncapi_messages(name)
        for ref, payload in zip(refs, payloads, strict=True):
            del components["messages"][ref]
            components["schemas"].pop(payload.rsplit("/", 1)[-1], None)
        components["messages"].update(messages)
        components["schemas"].update(schemas)
        channel["messages"] = {
            key.split(":", 1)[1]: {"$ref": f"#/components/messages/{key}"} for key in messages
        }
        document["operations"][name]["messages"] = [
            {"$ref": f"#/channels/{name}/messages/{key.split(':', 1)[1]}"} for key in messages
        ]


def __getattr__(name: str) -> AsgiFastStream:
    # `service.asyncapi:app` for the FastStream CLI, built on first access rather than at import.
    if name == "app":
        return docs_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Write the AsyncAPI document to --out (default docs/asyncapi.yaml)."""
    parser = argparse.ArgumentParser(prog="python -m service.asyncapi", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/asyncapi.yaml"))
    args = parser.parse_args(argv)
    args.out.write_text(asyncapi_yaml(), encoding="utf-8")
    print(f"AsyncAPI document written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
