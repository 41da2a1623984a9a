"""The records that flow through the pipeline, one kind per stage.

    PullRequest -> ParsedDiff -> Metrics (+ Risk) -> Review -> Assessment
                -> Decision -> QueueItem -> Queue

Every record is a frozen, slotted dataclass with tuple fields: a stage maps the records it is
given to new ones and never mutates them, so any stage can be tested on hand-made inputs and a
record seen in a report is exactly what the stage produced. Raw diff bytes live only on
`PullRequest`; once a PR has been measured and reviewed the pipeline keeps an `Assessment`
without them, which is what bounds memory on batches of thousands of PRs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

# --------------------------------------------------------------------------------------------
# sources -> PullRequest


@dataclass(frozen=True, slots=True)
class Trailer:
    """A `Key: value` line from the end of a commit message or PR body (git-interpret-trailers).

    Kept verbatim because the owner resolution and the AI-assistance rules read them
    (`Co-authored-by`, `Signed-off-by`, `Assisted-by`, `Generated-by`, ...).
    """

    key: str
    value: str

    @property
    def name(self) -> str:
        """The person part of `Name <email>` (the whole value when there is no email)."""
        head, _, _ = self.value.partition("<")
        return head.strip() or self.value.strip()

    @property
    def email(self) -> str | None:
        if "<" in self.value and ">" in self.value:
            return self.value.split("<", 1)[1].split(">", 1)[0].strip() or None
        return None


@dataclass(frozen=True, slots=True)
class PullRequest:
    """One unit of review, whatever it came from (patch file, mbox, sidecar, git range, GitHub).

    Field names follow GitHub's PR object where one exists. `diff` is the raw unified diff; it
    is bytes because diffs may carry any encoding and the parser must see them unchanged.
    `load_errors` records what went wrong while reading the PR (a sidecar with a bad field, a
    diff file that could not be read) so that a broken PR still becomes a queue item.
    """

    id: str
    title: str
    diff: bytes = b""
    body: str = ""
    author: str = ""
    author_email: str | None = None
    url: str | None = None
    number: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Latest activity by a human other than bots (comments, reviews, pushes). None = unknown,
    # and the stale rule then falls back to `updated_at`, then `created_at`.
    last_human_activity_at: datetime | None = None
    draft: bool = False
    labels: tuple[str, ...] = ()
    base_ref: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    base_sha: str | None = None
    # GitHub's author_association: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR,
    # FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, NONE. None when the source cannot tell.
    author_association: str | None = None
    trailers: tuple[Trailer, ...] = ()
    # Issue references found in the body or given by the source ("#12", "owner/repo#12", URLs).
    linked_issues: tuple[str, ...] = ()
    # Subject + body of each commit, oldest first (git sources and mbox; GitHub when fetched).
    commit_messages: tuple[str, ...] = ()
    # Where the PR came from, for error messages: a path, "git:abc123", "github:o/r#12".
    source: str = ""
    load_errors: tuple[str, ...] = ()
    # GitHub says the author is an App/bot account (user.type == "Bot"); sources that cannot
    # tell leave it False and the owner rules fall back to the login (`[bot]`, `[owners] bots`).
    author_is_bot: bool = False
    # GitHub's merge check against the current base (single-PR endpoint and webhooks; the list
    # endpoint leaves it out): `mergeable` False or `mergeable_state` "dirty" means the PR
    # conflicts with its base. None = unknown (GitHub computes it lazily, or the source cannot tell).
    mergeable: bool | None = None
    mergeable_state: str | None = None

    def without_diff(self) -> PullRequest:
        """The same PR without its diff bytes: what later stages keep once it has been measured."""
        return replace(self, diff=b"")


# --------------------------------------------------------------------------------------------
# parse -> ParsedDiff


class FileKind(StrEnum):
    """What a changed file is, which decides whether its lines count toward size and risk."""

    SOURCE = "source"
    TEST = "test"
    DOCS = "docs"
    GENERATED = "generated"
    VENDORED = "vendored"
    LOCKFILE = "lockfile"

    @property
    def counts(self) -> bool:
        """Generated, vendored and lockfile churn is machine-made: it is excluded from size/risk."""
        return self not in (FileKind.GENERATED, FileKind.VENDORED, FileKind.LOCKFILE)


class ChangeType(StrEnum):
    ADDED = "added"
    DELETED = "deleted"
    MODIFIED = "modified"
    RENAMED = "renamed"
    COPIED = "copied"
    MODE_CHANGED = "mode-changed"  # only the file mode changed
    TYPE_CHANGED = "type-changed"  # file <-> symlink <-> submodule


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a hunk. `kind` is '+', '-' or ' '; numbers are 1-based, None where absent."""

    kind: str
    old_no: int | None
    new_no: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Hunk:
    """One `@@ -a,b +c,d @@ section` block.

    The body is kept as decoded text and split into `Line`s on demand: most hunks are only
    counted, and materialising every line of an 8 MB diff as objects would dominate run time.
    """

    old_start: int
    old_length: int
    new_start: int
    new_length: int
    section: str  # the text after the second @@ (often the enclosing function)
    added: int
    deleted: int
    body: str  # the hunk's lines without the @@ header, each starting with '+', '-', ' ' or '\\'

    def rows(self) -> Iterator[tuple[str, str]]:
        """(kind, text) for each line of the body, kind '+', '-' or ' ': the one place that
        reads the body's line prefixes, so every view of a hunk counts lines as the parser does.

        A line with no prefix, or one starting with "\r", is an empty context line whose
        leading space a tool stripped (in a CRLF file the "\r" is its content); a '\' line
        ("No newline at end of file") carries no line.
        """
        # split("\n"), not splitlines(): a lone \r, form feed or U+2028 is content, not a line end.
        raws = self.body.split("\n")
        if raws and raws[-1] == "":
            raws.pop()  # a body that ends with a newline has no extra empty line after it
        for raw in raws:
            if not raw or raw[0] == "\r":
                yield " ", raw
            elif raw[0] in "+- ":
                yield raw[0], raw[1:]

    def lines(self) -> Iterator[Line]:
        old_no, new_no = self.old_start, self.new_start
        for kind, text in self.rows():
            if kind == "+":
                yield Line("+", None, new_no, text)
                new_no += 1
            elif kind == "-":
                yield Line("-", old_no, None, text)
                old_no += 1
            else:
                yield Line(" ", old_no, new_no, text)
                old_no += 1
                new_no += 1

    def added_runs(self) -> list[tuple[list[str], list[int]]]:
        """Runs of consecutive added lines: (texts, new-side line numbers) per run.

        The scanners read added text run by run (a PEM block added over 27 lines is one
        finding); built from `rows` without a `Line` object per line, because every added
        line of every PR passes through here.
        """
        if not self.added:
            return []
        runs: list[tuple[list[str], list[int]]] = []
        texts: list[str] = []
        numbers: list[int] = []
        new_no = self.new_start
        for kind, text in self.rows():
            if kind == "+":
                texts.append(text)
                numbers.append(new_no)
                new_no += 1
                continue
            if texts:
                runs.append((texts, numbers))
                texts, numbers = [], []
            if kind == " ":
                new_no += 1
        if texts:
            runs.append((texts, numbers))
        return runs


@dataclass(frozen=True, slots=True)
class FileDiff:
    """One file of a diff, with everything the later stages need to know about it."""

    path: str  # the path after the change (the old path for a deletion)
    old_path: str | None  # the path before, None for an added file
    change: ChangeType
    kind: FileKind
    language: str | None  # tree-sitter language name ("python", "tsx", ...) or None
    added: int
    deleted: int
    hunks: tuple[Hunk, ...] = ()
    binary: bool = False
    old_mode: str | None = None
    new_mode: str | None = None
    symlink: bool = False  # either side is a symlink (mode 120000)
    submodule: bool = False  # either side is a gitlink (mode 160000)
    similarity: int | None = None  # rename/copy similarity index, percent
    # Why the file is of its kind ("path matches vendor/", ".gitattributes linguist-generated").
    kind_reason: str = ""

    @property
    def changed(self) -> int:
        return self.added + self.deleted


@dataclass(frozen=True, slots=True)
class ParsedDiff:
    """All files of one PR's diff. `errors` are problems that make the counts untrustworthy
    (not a diff, truncated hunk, combined merge diff); `warnings` are things a reader should
    know that do not (CRLF line endings, undecodable bytes replaced)."""

    files: tuple[FileDiff, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f.deleted for f in self.files)


# --------------------------------------------------------------------------------------------
# measure -> Metrics, Risk


class SizeBucket(StrEnum):
    XS = "XS"
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"
    XXL = "XXL"


@dataclass(frozen=True, slots=True)
class FunctionChange:
    """A function or method touched by the diff, with its complexity before and after.

    `before`/`after` are None when that side does not exist (added/deleted function) or could
    not be read. `estimated` is True when only hunk text was available (no full file), so the
    figures describe the changed fragment, not the whole function.
    """

    path: str
    name: str
    language: str
    line: int  # first line of the function on the new side (old side if deleted)
    cyclomatic_before: int | None
    cyclomatic_after: int | None
    cognitive_before: int | None
    cognitive_after: int | None
    estimated: bool

    @property
    def cognitive_delta(self) -> int:
        return (self.cognitive_after or 0) - (self.cognitive_before or 0)


@dataclass(frozen=True, slots=True)
class FileHistory:
    """What git history says about one changed file (Kamei et al. 2013: AGE, NUC, NDEV)."""

    path: str
    age_days: float | None  # since the last change before this PR
    prior_changes: int  # commits that touched it before
    authors: int  # distinct authors of those commits


@dataclass(frozen=True, slots=True)
class History:
    files: tuple[FileHistory, ...]
    author_changes: int  # EXP: the author's earlier commits in the repository
    author_subsystem_changes: int  # SEXP: the author's earlier commits in the touched subsystems


@dataclass(frozen=True, slots=True)
class Metrics:
    """Static measurements of one PR. Counted lines exclude generated/vendored/lockfiles."""

    lines_added: int
    lines_deleted: int
    files: int
    directories: int
    subsystems: tuple[str, ...]  # top-level areas touched (first path component, "." for root)
    entropy: float  # Kamei et al. 2013, normalised to [0,1] by log2(files)
    size_bucket: SizeBucket
    excluded_lines: int  # generated + vendored + lockfile lines, not counted above
    source_lines: int
    test_lines: int
    docs_lines: int
    languages: tuple[str, ...] = ()
    kinds: tuple[tuple[str, int], ...] = ()  # (FileKind value, number of files)
    functions: tuple[FunctionChange, ...] = ()
    complexity_delta: int = 0  # sum of cognitive deltas over changed functions
    max_cognitive: int = 0  # highest cognitive complexity among touched functions (after)
    history: History | None = None
    # LT (Kamei et al. 2013): lines of the changed counted files before the change, when their
    # contents could be read (None otherwise); the denominator of relative churn.
    lines_before: int | None = None
    # What was skipped or estimated while measuring ("complexity skipped: 240 source files").
    notes: tuple[str, ...] = ()

    @property
    def changed_lines(self) -> int:
        return self.lines_added + self.lines_deleted

    @property
    def has_tests(self) -> bool:
        return self.test_lines > 0


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One named input to the risk score and how much it contributed (score units)."""

    name: str
    value: float  # the raw input (lines, entropy, ...)
    contribution: float
    detail: str = ""


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Risk:
    score: float  # [0,1], higher = riskier
    level: RiskLevel
    factors: tuple[RiskFactor, ...] = ()


# --------------------------------------------------------------------------------------------
# review -> Review


class FlagKind(StrEnum):
    BUG = "bug"
    SECURITY = "security"
    MISSING_TESTS = "missing-tests"
    SCOPE_CREEP = "scope-creep"
    BREAKING_CHANGE = "breaking-change"
    PERFORMANCE = "performance"
    INJECTION_ATTEMPT = "injection-attempt"
    OTHER = "other"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def weight(self) -> int:
        return _SEVERITY_ORDER[self]


_SEVERITY_ORDER = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


@dataclass(frozen=True, slots=True)
class Flag:
    kind: FlagKind
    severity: Severity
    evidence: str  # never contains a secret value: those are masked before a Flag is built
    file: str | None = None
    line: int | None = None
    source: str = "heuristic"  # "llm" | "heuristic"
    # Set by the secrets scanner only: the PR adds a credential (the `secret` gate reads this,
    # never the evidence wording, and no LLM output can set it).
    secret: bool = False
    # False for a model's flag whose evidence quotes nothing of the PR (triage.review.evidence):
    # shown as unverified, and it counts zero toward risk.
    verified: bool = True


class ReviewSource(StrEnum):
    LLM = "llm"
    HEURISTIC = "heuristic"
    UNAVAILABLE = "unavailable"  # the LLM was asked but failed; static triage stands


class ChangeKind(StrEnum):
    FEATURE = "feature"
    FIX = "fix"
    REFACTOR = "refactor"
    DOCS = "docs"
    TEST = "test"
    CHORE = "chore"
    DEPS = "deps"


@dataclass(frozen=True, slots=True)
class Review:
    source: ReviewSource
    summary: str
    change_type: ChangeKind | None = None
    description_matches: bool | None = None
    flags: tuple[Flag, ...] = ()
    confidence: float | None = None
    model: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    omitted: tuple[str, ...] = ()  # what did not fit the budget, by name ("src/a.py @@ -10,7")
    error: str | None = None  # why the LLM review is unavailable
    # The LLM's structured-output mode that produced this review ("json_schema", "tools",
    # "plain"); None when no model answered. `requests` counts HTTP attempts for this PR.
    mode: str | None = None
    requests: int = 0
    # Why the LLM review is unavailable, as the reviewer's fault kind ("timeout", "connection",
    # "skipped", ...): the reports count fallbacks by it. None unless source is UNAVAILABLE.
    fault: str | None = None

    def has_flag(self, kind: FlagKind) -> bool:
        return any(f.kind is kind for f in self.flags)


# --------------------------------------------------------------------------------------------
# base check -> BaseCheck (only with a local clone: `triage.basecheck`)


@dataclass(frozen=True, slots=True)
class BaseCheck:
    """What the base branch of a local clone says about one PR: is its change already there,
    and does it still merge. Facts only; the `already-landed` and `needs-rebase` rules decide.

    `patch_id`, `commit_patch_ids` and `merge_base` are the PR's side of the already-landed
    check, kept until the batch's base patch-ids are known (computed once per batch, from the
    oldest merge-base). Both stay empty for a PR that already contains the base (its merge-base
    is the base): no base commit can then carry its change, so none is computed. They are not
    the PR's identity; duplicate detection uses the cluster stage's own fingerprint.
    `conflicts` None means no conflict was found (or none could be checked: see `notes`).
    """

    base: str  # the base revision checked against (full sha)
    patch_id: str | None = None  # `git patch-id --stable` of the whole diff
    commit_patch_ids: tuple[str, ...] = ()  # one per non-merge commit of the PR, when its head is known
    merge_base: str | None = None
    landed_in: str | None = None  # "abc1234 subject" of the base commit carrying the change
    landed_how: str = ""  # "patch-id" | "commits" | "applied"
    conflicts: tuple[str, ...] | None = None  # paths that conflict with the base
    checked_with: str = ""  # how the conflict check ran ("git merge-tree", "git apply")
    notes: tuple[str, ...] = ()  # what could not be checked, and why


# --------------------------------------------------------------------------------------------
# The per-PR result of the stateless stages. Policy and rank work on these, across the batch.


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything known about one PR before batch-level policy: parse, measure and review.

    `pr` no longer carries its diff bytes. `errors` collects load and parse errors; a PR with
    errors still flows to the report as an item, it simply never enters the review queue.
    `risk` is the final risk: static risk, possibly raised (never lowered) by review flags.
    """

    pr: PullRequest
    diff: ParsedDiff
    metrics: Metrics
    risk: Risk
    review: Review
    errors: tuple[str, ...] = ()
    # Why the PR's content could not be scanned for secrets at all (None = it was scanned, in
    # whole or in the part that could be read); the `unscanned` gate holds such a PR.
    unscanned: str | None = None
    # Already landed / conflicts, from a local clone's base branch (None: no clone, not checked).
    base_check: BaseCheck | None = None
    # What the batch-level cluster stage compares (triage.policy.cluster); None when the diff
    # could not be parsed.
    fingerprint: Fingerprint | None = None


@dataclass(frozen=True, slots=True)
class HunkRange:
    """The base-side lines one hunk replaces: what two PRs overlap on when they edit the same code."""

    path: str
    start: int
    end: int  # inclusive; equal to start for a pure insertion


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The cheap, small signals of one diff that the cluster stage indexes across the batch.

    Computed while the hunks are still in memory (the static stage), because the batch-level
    stages only see diffs stripped of their text. `patch_id` ignores line numbers, context and
    whitespace (like `git patch-id`), so a rebased copy of a change has the same id. `lines` is a
    bottom-k sample of hashes of the changed lines: Jaccard similarity of two samples estimates
    that of the full line sets (Broder 1997) at a fixed cost per PR.
    """

    patch_id: str | None
    hunks: tuple[HunkRange, ...] = ()
    lines: frozenset[int] = frozenset()


# --------------------------------------------------------------------------------------------
# decide -> Decision


class DecisionKind(StrEnum):
    REVIEW = "review"
    NEEDS_SPLIT = "needs-split"
    REJECT = "reject"
    THROTTLED = "throttled"
    CLOSE = "close"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"  # another PR of its cluster gets the one review (triage.policy.cluster)


# Every rule name a `Reason` can carry: what `[ci] fail_on` may name besides a decision kind
# (the config loader rejects anything else, so a typo never silently disables a gate). A test
# checks that every rule the policy and rank stages fire is listed here.
RULE_NAMES: frozenset[str] = frozenset(
    {
        "ai-assisted",
        "ai-cap",
        "already-landed",
        "author-share",
        "base-check",
        "combine-trivial",
        "areas",
        "author-cap",
        "capacity",
        "codeowners-edit",
        "draft",
        "duplicate",
        "internal-error",
        "linked-issue",
        "needs-rebase",
        "no-owner",
        "secret",
        "size",
        "stale",
        "suggest-split",
        "unparseable",
        "unscanned",
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a decision was taken: the rule's name, a sentence for humans, and how to override."""

    rule: str
    message: str
    override_label: str | None = None
    # The decision the rule pushed for (None for notes and for reasons added after policy):
    # `[ci] fail_on` matches it even when a stronger decision won.
    kind: DecisionKind | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """The one accountable human for a PR, and how they were found."""

    login: str
    source: str  # "author" | "co-authored-by" | "signed-off-by" | "requester" | "codeowners"
    detail: str = ""


class ClusterRole(StrEnum):
    """A PR's place in its cluster of PRs that address the same thing."""

    CANONICAL = "canonical"  # the one that gets the review
    COMPETING = "competing"  # another author's PR for the same thing
    RESUBMISSION = "resubmission"  # replaced by a newer PR of the same author
    OVERRIDDEN = "overridden"  # would be a duplicate, but carries the override label


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """Which cluster a PR belongs to, its role there, and the evidence that put it there."""

    id: str
    canonical: str  # the PR id that gets the review
    role: ClusterRole
    members: tuple[str, ...]  # every PR id of the cluster, canonical first
    evidence: tuple[str, ...] = ()  # why this PR is in the cluster ("same issue #12 as b")
    rule: str = ""  # why the canonical PR was chosen


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    reasons: tuple[Reason, ...] = ()
    owner: Owner | None = None
    notes: tuple[Reason, ...] = ()  # advisories that do not change the decision (suggest split, stale warning)
    labels: tuple[str, ...] = ()  # labels the CI adapter should set
    cluster: ClusterInfo | None = None  # set by the cluster stage when the PR has duplicates


# --------------------------------------------------------------------------------------------
# rank -> QueueItem, Queue


@dataclass(frozen=True, slots=True)
class PriorityTerm:
    name: str
    value: float
    contribution: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    terms: tuple[PriorityTerm, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueItem:
    assessment: Assessment
    decision: Decision
    priority: Priority
    estimated_review_minutes: int
    rank: int | None = None  # 1-based position in the review queue; None unless decision is review
    position: int | None = None  # for throttled items: their place behind the cut line

    @property
    def pr(self) -> PullRequest:
        return self.assessment.pr

    @property
    def errors(self) -> tuple[str, ...]:
        return self.assessment.errors


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much review the team can do in one triage period."""

    reviewers: int
    period_days: int
    minutes_available: int
    minutes_needed: int  # estimated minutes of every PR that passed the gates
    minutes_queued: int  # estimated minutes of the PRs above the cut line


@dataclass(frozen=True, slots=True)
class Queue:
    items: tuple[QueueItem, ...]
    capacity: Capacity
    generated_at: datetime
    review_source: str  # which reviewer ran: "llm", "heuristic", or "mixed"
    config: dict[str, object] = field(default_factory=dict)  # the effective config, for the report
    # Which risk model scored the queue: "default weights" or "calibrated on REPO at REV, ..."
    risk_model: str = "default weights"
    risk_model_sha256: str | None = None  # of the model file, when one was used

    def by_decision(self, kind: DecisionKind) -> tuple[QueueItem, ...]:
        return tuple(i for i in self.items if i.decision.kind is kind)
