"""Load policy YAML and report validation errors at the line that is wrong."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from policies.model import PolicyDocument

DEFAULT_POLICY = "default.yaml"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, line and field."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


def _node_at(node: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
    """Walk the composed YAML tree along a pydantic error location, as far as it goes."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            wanted = {"in_": "in", "not_": "not"}.get(str(key), str(key))
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == wanted), None)
            if nxt is None:
                # Tagged union members appear in the loc as class names: skip them.
                continue
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
    return node


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part[:1].isupper() or part.startswith("function-"):
            continue  # union branch names carry no meaning for the author
        else:
            out += ("." if out else "") + {"in_": "in", "not_": "not"}.get(part, part)
    return out or "(top level)"


class LoadedPolicy:
    """A validated policy document plus its provenance (source and content digest)."""

    def __init__(self, document: PolicyDocument, source: str, digest: str) -> None:
        self.document = document
        self.source = source
        self.digest = digest

    @property
    def version(self) -> str:
        """``name@semver``: what decisions are keyed on, so a new version re-decides."""
        return f"{self.document.policy}@{self.document.version}"


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
    """Validate policy YAML text. Raises :class:`PolicyError` with the offending line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PolicyError(source, mark.line + 1 if mark else None, str(exc.problem)) from exc
    if root is None or not isinstance(data, dict):
        raise PolicyError(source, 1, "a policy file must be a mapping with policy, version and rules")
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        # Report the deepest error first: for unions pydantic lists one error per branch.
        errors = sorted(exc.errors(), key=lambda e: -len(e["loc"]))
        first = errors[0]
        node = _node_at(root, tuple(first["loc"]))
        raise PolicyError(
            source, node.start_mark.line + 1, f"{_format_loc(tuple(first['loc']))}: {first['msg']}"
        ) from exc
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return LoadedPolicy(document, source, digest)


def load_policy(path: str | Path | None = None) -> LoadedPolicy:
    """Load a policy file; ``None`` loads the packaged default policy."""
    if path is None:
        text = resources.files("policies").joinpath("files", DEFAULT_POLICY).read_text("utf-8")
        return parse_policy(text, f"policies/files/{DEFAULT_POLICY}")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise PolicyError(str(p), None, f"cannot read policy file: {exc.strerror}") from exc
    return parse_policy(text, str(p))
