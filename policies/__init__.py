"""The policy engine and versioned policy files. Imports nothing of the service."""

from policies.engine import KNOWN_FACTS, Facts, PolicyEngine, check_facts, referenced_signals
from policies.loader import LoadedPolicy, PolicyError, load_policy, parse_policy
from policies.model import Audience, Decision, Outcome, Priority, RuleHit

__all__ = [
    "KNOWN_FACTS",
    "Audience",
    "Decision",
    "Facts",
    "LoadedPolicy",
    "Outcome",
    "PolicyEngine",
    "PolicyError",
    "Priority",
    "RuleHit",
    "check_facts",
    "load_policy",
    "parse_policy",
    "referenced_signals",
]
