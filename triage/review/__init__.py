"""The review stage: (PullRequest, ParsedDiff, Metrics, Risk) -> Review, and the final Risk.

`heuristic` is the offline reviewer that always runs; `secrets` and `injection` are its rule
sets (also used to redact and screen what an LLM reviewer is sent); `merge.raise_risk` folds a
review's flags into the static risk and can only raise it. The LLM reviewer, its budget and its
cache live in sibling modules.
"""

from triage.review.merge import level_for, raise_risk
from triage.review.secrets import find_secrets, redact, scan_diff

__all__ = ["find_secrets", "level_for", "raise_risk", "redact", "scan_diff"]
