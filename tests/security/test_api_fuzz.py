"""Schemathesis against the live app's own /openapi.json, once with a valid key of every role:
no 500s, and every response conforms to the schema (status documented? body matches?).

Generation is derandomized and bounded per operation, so CI sees the same requests every run.
NUL characters and integers beyond int64 are generated too (they once were 500s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from fgapi import Api
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

Seed = Callable[[Api], dict[str, str]]  # the seed fixture (conftest)
BUDGET = {GenerationMode.POSITIVE: 4, GenerationMode.NEGATIVE: 2}  # examples per operation and role
# /readyz answers a documented 503 here because this app has no broker (the readiness tests cover it).
EXCLUDED = ("/readyz",)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_schemathesis_every_operation_every_role(api: Api, seed: Seed) -> None:
    fuzz_api = api
    keys = seed(fuzz_api)
    schema = schemathesis.openapi.from_url(f"{fuzz_api.url}/openapi.json")
    operations = [
        result.ok() for result in schema.get_all_operations() if not result.ok().path.startswith(EXCLUDED)
    ]
    assert len(operations) >= 30, [op.label for op in operations]
    failures: list[str] = []
    calls = 0
    for role, key in keys.items():
        headers = {"Authorization": f"Bearer {key}"}
        for operation in operations:
            try:
                # One request first; the role gets the full budget only where it gets past
                # authorisation (401/403 everywhere else is what the route x role matrix tests).
                probe = fuzz(operation, GenerationMode.POSITIVE, fuzz_api.url, headers, 1)
                calls += len(probe)
                if set(probe) - {401, 403}:
                    for mode, n in BUDGET.items():
                        if mode is GenerationMode.NEGATIVE and not has_inputs(operation):
                            continue  # nothing to make invalid
                        calls += len(fuzz(operation, mode, fuzz_api.url, headers, n))
            except (Exception, BaseExceptionGroup) as exc:  # every operation's first failure
                failures.append(f"[{role}] {operation.label}: {str(exc)[:800]}")
    assert calls >= 300, (calls, failures[:2])
    assert not failures, "\n\n".join(failures)
    print(f"{calls} requests")


def has_inputs(operation: Any) -> bool:
    return bool(list(operation.iter_parameters())) or bool(operation.body)


def fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], n: int) -> list[int]:
    """Up to ``n`` generated requests to one operation; returns the statuses it got."""
    statuses: list[int] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    run()
    return statuses
