"""A small kustomize for the tests: enough of it to render deploy/k8s without kubectl.

Supports what our kustomizations use: `resources` (files and directories), `namespace`,
`images` (newName, newTag, digest), `labels` (metadata only) and `patches` given as a path
(merged onto the object of the same kind and name) or inline JSON 6902 `replace` operations with
a target. Anything else fails loudly rather than rendering something kustomize would not.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.unit.deploy.manifests import load_documents

SUPPORTED = frozenset(
    {"apiVersion", "kind", "resources", "namespace", "images", "labels", "patches"}
)


def load_kustomization(directory: Path) -> dict[str, Any]:
    """The kustomization.yaml of a directory, refusing fields this renderer does not know."""
    (kustomization,) = load_documents(directory / "kustomization.yaml")
    unknown = set(kustomization) - SUPPORTED
    assert not unknown, f"{directory}: unsupported kustomization fields {sorted(unknown)}"
    return kustomization


def merge(base: Any, patch: Any) -> Any:
    """Mappings merge key by key; anything else in the patch replaces the base's value."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    return copy.deepcopy(patch)


def _replace(document: dict[str, Any], pointer: str, value: Any) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    holder: Any = document
    for part in parents:
        holder = holder[int(part)] if isinstance(holder, list) else holder[part]
    if isinstance(holder, list):
        holder[int(last)] = value
    else:
        assert last in holder, f"replace of a missing path {pointer}"
        holder[last] = value


def _matches(document: dict[str, Any], target: dict[str, Any]) -> bool:
    group, _, _version = document["apiVersion"].rpartition("/")
    return bool(
        document["kind"] == target["kind"]
        and document["metadata"]["name"] == target["name"]
        and group == target.get("group", "")
    )


def _set_images(document: Any, images: list[dict[str, str]]) -> None:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "image" and isinstance(value, str):
                name = value.split("@")[0]
                if ":" in name.rsplit("/", 1)[-1]:
                    name = name.rsplit(":", 1)[0]
                for image in images:
                    if image["name"] == name:
                        new = image.get("newName", name)
                        if "digest" in image:
                            document[key] = f"{new}@{image['digest']}"
                        else:
                            document[key] = f"{new}:{image.get('newTag', 'latest')}"
            else:
                _set_images(value, images)
    elif isinstance(document, list):
        for item in document:
            _set_images(item, images)


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects a kustomization directory produces."""
    kustomization = load_kustomization(directory)
    documents: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        documents.extend(render(path) if path.is_dir() else load_documents(path))
    for patch in kustomization.get("patches", []):
        if "path" in patch:
            (body,) = load_documents(directory / patch["path"])
            hits = [
                i
                for i, doc in enumerate(documents)
                if (doc["kind"], doc["metadata"]["name"])
                == (body["kind"], body["metadata"]["name"])
            ]
            assert len(hits) == 1, f"patch {patch['path']} matches {len(hits)} objects"
            documents[hits[0]] = merge(documents[hits[0]], body)
        else:
            operations = yaml.safe_load(patch["patch"])
            targets = [doc for doc in documents if _matches(doc, patch["target"])]
            assert len(targets) == 1, f"{patch['target']} matches {len(targets)} objects"
            for operation in operations:
                assert operation["op"] == "replace", f"unsupported JSON patch op {operation}"
                _replace(targets[0], operation["path"], operation["value"])
    for document in documents:
        if "namespace" in kustomization:
            document["metadata"]["namespace"] = kustomization["namespace"]
        for labels in kustomization.get("labels", []):
            assert not labels.get("includeSelectors"), "selector labels are not rendered here"
            document["metadata"].setdefault("labels", {}).update(labels["pairs"])
        _set_images(document, kustomization.get("images", []))
    return documents
