"""`ContentsTree`: the base branch as a `Tree`, read through GitHub's contents API.

The pipeline reads CODEOWNERS, `.gitattributes` and the "before" side of changed files from the
base snapshot, never from the PR, so a PR cannot re-route its own review. In CI there is no
checkout of the base (and the tool never checks out PR code), so the snapshot is the contents
API at one fixed base sha: `GET /repos/{o}/{r}/contents/{path}?ref=<sha>`.

Every read costs a request. Routing files are always served; other files (only wanted for
full-file complexity, which falls back to hunk-local figures without them) are served up to a
budget, so a batch over thousands of PRs does not spend the rate limit on "before" contents.
"""

from __future__ import annotations

from triage.github.client import GitHubClient

# Read however small the budget: they decide routing and file classification.
ROUTING_FILES = frozenset(
    {
        ".github/CODEOWNERS",
        "CODEOWNERS",
        "docs/CODEOWNERS",
        ".gitattributes",
    }
)


class ContentsTree:
    """One revision of a GitHub repository. Reads are memoised for the life of the tree."""

    def __init__(self, client: GitHubClient, repo: str, ref: str, *, file_budget: int | None = 200) -> None:
        self.client = client
        self.repo = repo
        self.ref = ref
        self.file_budget = file_budget  # None: unlimited; reads of non-routing files allowed
        self._memo: dict[str, bytes | None] = {}
        self._spent = 0

    def __repr__(self) -> str:
        return f"ContentsTree({self.repo!r}, ref={self.ref!r})"

    def read(self, path: str) -> bytes | None:
        """The file's bytes at `ref`; None when absent, not a regular file, a path that could
        escape the repository, or beyond the read budget (callers then estimate from hunks)."""
        path = path.lstrip("/")
        if not path or any(part in ("", ".", "..") for part in path.split("/")):
            return None
        if path in self._memo:
            return self._memo[path]
        if path not in ROUTING_FILES:
            if self.file_budget is not None and self._spent >= self.file_budget:
                return None
            self._spent += 1
        data = self.client.file_contents(self.repo, path, self.ref)
        self._memo[path] = data
        return data
