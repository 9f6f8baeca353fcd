"""The committed event contract (schemas/*.json and schemas/asyncapi.yaml) matches the models.

``feedguard schemas`` regenerates both; this test is the CI drift check. The AsyncAPI document is
validated against the official AsyncAPI 3.0.0 JSON Schema (``tests/data/asyncapi-3.0.0.schema.json``
from the npm package @asyncapi/specs 6.11.1, Apache-2.0) and every ``$ref`` in it must resolve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from fgtest import ROOT

from safety.cli import main
from safety.contract import CHANNELS
from safety.events import ALL_EVENTS
from safety.topics import ALL_TOPICS

COMMITTED = ROOT / "schemas"


def test_committed_schemas_and_asyncapi_match_the_models(tmp_path: Path) -> None:
    assert main(["schemas", str(tmp_path)]) == 0
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == sorted(p.name for p in COMMITTED.iterdir()), "run: feedguard schemas schemas"
    for name in generated:
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), (
            f"schemas/{name} drifted from safety/events.py: run `feedguard schemas schemas` and commit"
        )


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_asyncapi_is_valid_3_0_and_covers_every_topic_and_event() -> None:
    doc = yaml.safe_load((COMMITTED / "asyncapi.yaml").read_text())
    spec = json.loads((ROOT / "tests" / "data" / "asyncapi-3.0.0.schema.json").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(spec).iter_errors(doc)]
    assert errors == []
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        _resolve(doc, ref)  # KeyError if dangling
    assert sorted(c["address"] for c in doc["channels"].values()) == sorted(ALL_TOPICS)
    assert sorted(m["name"] for m in doc["components"]["messages"].values()) == sorted(ALL_EVENTS)
    # Which side produces what: the platform sends only videos.generated.
    receive = [op for op in doc["operations"].values() if op["action"] == "receive"]
    assert [_resolve(doc, op["channel"]["$ref"])["address"] for op in receive] == ["videos.generated"]
    assert {c.topic for c in CHANNELS if c.decision_header} == {
        "feed.publish", "moderation.review", "videos.rejected", "feed.takedown", "feed.relabel"
    }  # fmt: skip


def test_asyncapi_payloads_accept_what_the_json_schemas_accept() -> None:
    """The same models: an outcome valid under schemas/video.published-v1.json is valid under the
    AsyncAPI payload too (resolved against components/schemas)."""
    doc = yaml.safe_load((COMMITTED / "asyncapi.yaml").read_text())
    sample = {
        "schema": "video.published/v1",
        "video_id": "v1",
        "audience": "13+",
        "labels": ["violence.mild"],
        "asset_uri": "file:///srv/published/v1.mp4",
        "decision_id": "d1",
        "policy_version": "default@2.0.0",
        "obligations": [{"character_id": "c1", "name": "Pip", "owner": "Acme", "attribution": "A"}],
    }
    standalone = json.loads((COMMITTED / "video.published-v1.json").read_text())
    payload = doc["components"]["messages"]["videoPublishedV1"]["payload"]
    wrapped = {**payload, "components": doc["components"]}
    for schema in (standalone, wrapped):
        assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(sample)] == []
    bad = {**sample, "audience": "21+"}
    assert list(jsonschema.Draft202012Validator(wrapped).iter_errors(bad))
    assert list(jsonschema.Draft202012Validator(standalone).iter_errors(bad))
