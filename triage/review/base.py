"""What every reviewer is: one protocol, so the pipeline composes a chain of them.

A reviewer maps (PullRequest, ParsedDiff, Metrics, Risk, prior Review) to a Review. The
chain starts with the heuristic reviewer (no prior; always runs, offline); each later
reviewer (the LLM's, or any other) gets the review before it as `prior`, which it must keep
standing when it cannot do better (its flags are a floor: a later reviewer only ever adds).
`review_many` is how the pipeline drives a reviewer over a stream, so one that talks to a
network can keep several requests in flight; it yields reviews in input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

from triage.models import Metrics, ParsedDiff, PullRequest, Review, Risk

__all__ = ["ReviewItem", "Reviewer"]

# One PR as a reviewer sees it; the last element is the prior review (None for the first).
ReviewItem = tuple[PullRequest, ParsedDiff, Metrics, Risk, Review | None]


@runtime_checkable
class Reviewer(Protocol):
    def review(
        self, pr: PullRequest, diff: ParsedDiff, metrics: Metrics, risk: Risk, prior: Review | None = None
    ) -> Review:
        """One PR's review; never raises for a PR or an endpoint problem (`prior` stands)."""
        ...

    def review_many(self, items: Iterable[ReviewItem]) -> Iterator[Review]:
        """One review per item, in input order."""
        ...
