"""The decide stage: `Assessment`s in, one `Decision` each out (gates, owners, CODEOWNERS).

`decide` is pure: the clock and the base branch's CODEOWNERS come in through `PolicyContext`,
so every rule is tested with tables of hand-made assessments (tests/test_gates.py).
"""

from triage.policy.codeowners import CodeOwners, find_codeowners
from triage.policy.gates import PolicyContext, decide, fail_on_matches
from triage.policy.owners import OwnerLookup, find_owner

__all__ = [
    "CodeOwners",
    "OwnerLookup",
    "PolicyContext",
    "decide",
    "fail_on_matches",
    "find_codeowners",
    "find_owner",
]
