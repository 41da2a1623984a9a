"""The base check: `PullRequest` + a local clone -> `BaseCheck` (already landed? still merges?).

Only with `--repo` and a base revision of it (`--base REV`, default HEAD). Two questions a queue
must answer before spending a review on a PR, each with git plumbing and never by executing
anything from the PR:

* **Already landed** (rule `already-landed`). (a) The PR's `git patch-id --stable` (of the
  whole diff), or the patch-ids of every one of its commits, equal those of commits on the base
  since the merge-base: the change was cherry-picked or squashed in. (b) The whole diff applies
  *in reverse* to the base tree (`git apply --check --reverse --cached`): every hunk is already
  there, however it got there. (c) The PR's head is an ancestor of the base: it was merged.
  The base's patch-ids are computed once per batch (`finish`): one `git log -p | git
  patch-id` over the commits since the batch's oldest merge-base (`git merge-base --octopus`),
  at most `MAX_BASE_COMMITS`; without any merge-base, the last `MAX_BASE_COMMITS` of the base.
* **Conflicts** (rule `needs-rebase`). With the PR's head commit in the clone, a real three-way
  merge: `git merge-tree --write-tree` (git >= 2.38) of the base and the head, which lists the
  conflicting paths. With only a diff and the commit it was made on (a sidecar's `base.sha`),
  the diff is applied to that commit in a scratch index, committed in a scratch object
  directory and merged the same way. With neither (a patch of unknown origin), `git apply
  --check` on the base tree: a two-way check, so a patch whose context lines changed counts as
  not applying, as `git am` would say. On git older than 2.38 the two-way check stands in for
  merge-tree and the check's notes say so.

Nothing here changes the clone: the scratch index and the objects that merge-tree and
commit-tree write live in a temporary directory (`GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY` with
the clone's objects as an alternate), removed when the batch is done. Text conversion and
external diff drivers are off, so no configured program runs either.

Cost: per PR 2 to 5 short git processes (patch-id, reverse apply, merge-base, merge-tree or
apply, and for multi-commit PRs one log); per batch one read-tree and one log-to-patch-id pipe.
A PR that already contains the base (every commit of a `--git` range against the range base)
needs only the reverse apply: there is nothing on the base its patch-ids could match.
"""

from __future__ import annotations

import multiprocessing.util
import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from triage.errors import InputError
from triage.gitrepo import GitRepo
from triage.metrics.history import HistoryCache, Lru, SharedLog
from triage.models import Assessment, BaseCheck, ChangeType, FileDiff, ParsedDiff, PullRequest

__all__ = ["MAX_BASE_COMMITS", "MAX_PR_COMMITS", "MERGE_TREE_VERSION", "BaseChecker"]

MERGE_TREE_VERSION = (2, 38)  # `git merge-tree --write-tree` appeared in git 2.38
MAX_BASE_COMMITS = 5000  # base commits whose patch-ids a batch compares against
MAX_PR_COMMITS = 250  # GitHub lists at most 250 commits per PR; beyond, only the whole diff counts
_COMMIT_IDS_CACHED = 4 * MAX_PR_COMMITS  # per-commit patch-ids kept per checker (bounded)
_LOG_ARGS = ("--no-merges", "-p", "--no-color", "--no-ext-diff", "--no-textconv", "--format=commit %H")
_IDENTITY = {
    "GIT_AUTHOR_NAME": "pr-triage",
    "GIT_AUTHOR_EMAIL": "pr-triage@localhost",
    "GIT_COMMITTER_NAME": "pr-triage",
    "GIT_COMMITTER_EMAIL": "pr-triage@localhost",
    "GIT_AUTHOR_DATE": "1970-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "1970-01-01T00:00:00Z",
}
# `git apply` errors that mean "this hunk or file does not fit the tree", with the path.
_APPLY_FAILED = re.compile(
    r"^error: (?:patch failed: (?P<a>.+):\d+|(?P<b>.+): (?:patch does not apply|does not exist in index"
    r"|already exists in index|does not match index))$",
    re.MULTILINE,
)


_PRECHECK_FILES = 64  # beyond this many files the reverse apply is left to git alone
_SPACES = b" \t\r\x0b\x0c"  # what C's isspace() calls whitespace, the newline aside


def _hunk_missing(f: FileDiff, there: bytes) -> bool:
    """Whether some hunk of `f` has after-side lines that do not appear together in `there`
    (a file's bytes without whitespace, between newlines), whitespace ignored."""
    for hunk in f.hunks:
        if "\ufffd" in hunk.body:
            return False  # bytes that did not decode: the text is not the file's
        after = [text for kind, text in hunk.rows() if kind != "-"]
        if not after:
            continue
        block = b"\n".join(text.encode("utf-8", "surrogateescape").translate(None, _SPACES) for text in after)
        if b"\n" + block + b"\n" not in there:
            return True
    return False


class BaseChecker:
    """The base check of one batch against one base revision (module docstring). Use it as a
    context manager: it owns a temporary directory for the scratch index and objects."""

    def __init__(self, repo: GitRepo, base_rev: str) -> None:
        self.repo = repo
        self.base = repo.rev_parse(base_rev)
        self.version = repo.version()
        self._commit_ids: Lru[str, str] = Lru(_COMMIT_IDS_CACHED)  # commit -> patch-id ("" = no diff)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._open_scratch()  # here, so that a base git cannot read fails before the batch starts

    def _open_scratch(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="triage-basecheck-")
        root = Path(self._tmp.name)
        objects = root / "objects"
        objects.mkdir()
        own = Path(self.repo.git("rev-parse", "--git-path", "objects").decode().strip())
        own = own if own.is_absolute() else (self.repo.path / own)
        self._objects = {"GIT_OBJECT_DIRECTORY": str(objects), "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(own.resolve())}
        self._base_index = str(root / "base.index")
        self._pr_index = str(root / "pr.index")
        self._git_ok("read-tree", self.base, index=self._base_index)

    def __getstate__(self) -> dict[str, object]:
        """A checker travels to the static stage's worker processes as its repository and base:
        each worker makes its own scratch directory (two processes must not share an index)."""
        return {"repo": self.repo, "base": self.base}

    def __setstate__(self, state: dict[str, object]) -> None:
        repo, base = state["repo"], state["base"]
        assert isinstance(repo, GitRepo) and isinstance(base, str)
        self.repo, self.base, self.version = repo, base, repo.version()
        self._commit_ids = Lru(_COMMIT_IDS_CACHED)
        # The scratch directory is made on first use, not here: a pool worker unpickles its
        # initializer's arguments before multiprocessing clears the finalizers it inherited,
        # so a cleanup registered now was dropped and every worker left its directory behind.
        self._tmp = None

    def _scratch(self) -> None:
        if self._tmp is None:
            self._open_scratch()
            # Pool workers leave through os._exit, which skips weakref finalizers: clean up on
            # the multiprocessing exit hook instead.
            multiprocessing.util.Finalize(self, self.close, exitpriority=10)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> BaseChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------- plumbing

    def _env(self, index: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        self._scratch()
        env = dict(self._objects)
        if index is not None:
            env["GIT_INDEX_FILE"] = index
        env.update(extra or {})
        return env

    def _git(
        self, *args: str, input: bytes | None = None, index: str | None = None, extra: dict[str, str] | None = None
    ) -> tuple[int, bytes, bytes]:
        return self.repo.plumb(*args, input=input, env=self._env(index, extra))

    def _git_ok(self, *args: str, input: bytes | None = None, index: str | None = None) -> str:
        rc, out, err = self._git(*args, input=input, index=index)
        if rc != 0:
            first = err.decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"{self.repo.path}: git {args[0]} failed: {first[0] if first else rc}")
        return out.decode("utf-8", "replace").strip()

    def _sha_or_none(self, *args: str) -> str | None:
        rc, out, _ = self._git(*args)
        text = out.decode("ascii", "replace").strip()
        return text if rc == 0 and text else None

    def _patch_ids(self, patches: bytes) -> list[tuple[str, str]]:
        """(patch-id, commit) pairs `git patch-id --stable` finds in `patches`."""
        rc, out, _ = self._git("patch-id", "--stable", input=patches)
        pairs = []
        for line in out.decode("ascii", "replace").splitlines():
            parts = line.split()
            if rc == 0 and len(parts) == 2:
                pairs.append((parts[0], parts[1]))
        return pairs

    def _commit_patch_ids(self, commits: Sequence[str]) -> tuple[str, ...]:
        """The patch-ids of `commits` (newest first, as `rev-list` lists them), those of a
        commit without a diff left out. Each commit's patch-id is computed once per checker: the
        PRs of a `--git` range share most of their commits (commit k of the range is a PR of k
        commits since the range base), and one `log -p` per PR made the batch quadratic."""
        missing = [c for c in commits if c not in self._commit_ids]
        if missing:
            log = self._git("log", "--no-walk=unsorted", *_LOG_ARGS, *missing)[1]
            found = dict((commit, pid) for pid, commit in self._patch_ids(log))
            for c in missing:
                self._commit_ids.put(c, found.get(c, ""))
        ids = (self._commit_ids.get(c) for c in commits)
        return tuple(pid for pid in ids if pid)

    def _applies(self, diff: bytes, *, reverse: bool = False, index: str | None = None) -> tuple[bool, str]:
        args = ["apply", "--check", "--cached", *(["--reverse"] if reverse else []), "-"]
        rc, _, err = self._git(*args, input=diff, index=index or self._base_index)
        return rc == 0, err.decode("utf-8", "replace")

    def _cannot_be_in_base(self, pr: PullRequest, diff: ParsedDiff) -> bool:
        """Whether the diff certainly does NOT apply in reverse to the base, seen from the
        base's files without starting `git apply`: a deleted file the base has, a changed
        file it lacks, or a hunk whose after-side lines appear nowhere in the base's file, even
        with all whitespace ignored (looser than any whitespace mode of `git apply`, which
        must find each hunk's lines together in the file). False means "ask git": binary,
        symlink, submodule and copied files, text that did not decode, a diff with files the
        parser did not list. Most PRs whose changes are not on the base are told here, and
        the reverse apply was a git process per PR."""
        files = diff.files
        sections = pr.diff.count(b"\ndiff --git ") + pr.diff.startswith(b"diff --git ")
        if not files or len(files) > _PRECHECK_FILES or sections != len(files):
            return False
        if len({f.path for f in files}) != len(files):
            return False
        for f in files:
            if f.binary or f.symlink or f.submodule or f.change is ChangeType.COPIED:
                continue
            if f.change is ChangeType.DELETED:
                if self.repo.show(self.base, f.path) is not None:
                    return True
                continue
            if not f.hunks:
                continue
            there = self.repo.show(self.base, f.path)
            if there is None:
                return True
            if _hunk_missing(f, b"\n" + there.translate(None, _SPACES) + b"\n"):
                return True
        return False

    def _subject(self, commit: str) -> str:
        return self._git_ok("log", "-1", "--no-show-signature", "--format=%h %s", commit)

    # ---------------------------------------------------------------------------- per PR

    def check(self, pr: PullRequest, diff: ParsedDiff, history: HistoryCache | None = None) -> BaseCheck:
        """The PR's side of the check; `finish` adds what needs the whole batch. Never raises
        for a PR: a git failure becomes a note and the rules then do not fire. `history` (the
        batch's, with the logs the history metrics read) answers ancestry without a git
        process when it holds both commits: with `--git`, most PRs then need two."""
        try:
            return self._check(pr, diff, history)
        except InputError as exc:
            return BaseCheck(self.base, notes=(f"base check failed: {exc.format_message()}",))

    def _merge_base(self, head: str, log: SharedLog | None) -> str | None:
        """`git merge-base base head`, answered from the log when one is an ancestor of the
        other (the only answer there is then); git otherwise."""
        if log is not None:
            if log.is_ancestor(self.base, head):
                return self.base
            if log.is_ancestor(head, self.base):
                return head
        return self._sha_or_none("merge-base", self.base, head)

    def _check(self, pr: PullRequest, diff: ParsedDiff, history: HistoryCache | None) -> BaseCheck:
        if not pr.diff.strip():
            return BaseCheck(self.base)
        head = pr.head_sha if pr.head_sha and self.repo.has_revision(pr.head_sha) else None
        own_base = pr.base_sha if pr.base_sha and self.repo.has_revision(pr.base_sha) else None
        log = history.loaded(self.repo, self.base, head) if history is not None and head else None
        merge_base = self._merge_base(head, log) if head else own_base
        # When the PR already contains the base (its merge-base is the base itself), the base
        # has no commits since the merge-base, so no patch-id of the PR can match one of them
        # (`finish`): none is computed. Every commit of a `--git` range checked against the
        # range base is such a PR, and these were 1 to 3 of its git processes.
        contains_base = merge_base == self.base
        ids = [] if contains_base else self._patch_ids(pr.diff)
        check = BaseCheck(self.base, patch_id=ids[0][0] if ids else None, merge_base=merge_base)
        if head is not None and merge_base == head:
            return replace(check, landed_in=self._subject(head), landed_how="merged")
        if head is not None and merge_base is not None and not contains_base:
            known = log.count_between(merge_base, head) if log is not None and merge_base in log else None
            if known is None or 1 < known <= MAX_PR_COMMITS:
                cap = f"--max-count={MAX_PR_COMMITS + 1}"
                rc, out, _ = self._git("rev-list", "--no-merges", cap, f"{merge_base}..{head}")
                commits = out.decode("ascii", "replace").split() if rc == 0 else []
                if 1 < len(commits) <= MAX_PR_COMMITS:
                    check = replace(check, commit_patch_ids=self._commit_patch_ids(commits))
        applied = not self._cannot_be_in_base(pr, diff) and self._applies(pr.diff, reverse=True)[0]
        if applied:
            paths = [f.path for f in diff.files][:50]
            last = self._git_ok("log", "-1", "--no-show-signature", "--format=%h %s", self.base, "--", *paths)
            return replace(check, landed_in=last or self.base[:12], landed_how="applied")
        return self._conflicts(check, pr, head, own_base)

    def _conflicts(self, check: BaseCheck, pr: PullRequest, head: str | None, own_base: str | None) -> BaseCheck:
        if self.version < MERGE_TREE_VERSION:
            found, how = self._two_way(pr.diff)
            note = (
                f"git {self.version[0]}.{self.version[1]} is older than 2.38: no three-way merge check "
                "(git merge-tree --write-tree); checked with git apply against the base instead"
            )
            return replace(check, conflicts=found, checked_with=how, notes=(*check.notes, note))
        if head is None and own_base is not None:
            head = self._synthesize(pr.diff, own_base)
            if head is None:
                note = f"the diff does not apply to its own base {own_base[:12]}; checked with git apply instead"
                found, how = self._two_way(pr.diff)
                return replace(check, conflicts=found, checked_with=how, notes=(*check.notes, note))
        if head is None:
            found, how = self._two_way(pr.diff)
            return replace(check, conflicts=found, checked_with=how)
        if head == pr.head_sha and check.merge_base == self.base:
            # The head contains the base: the merge is a fast-forward, which never conflicts
            # (what merge-tree would answer, at a cost that grows with the distance; every
            # commit of a `--git` range is such a PR).
            return replace(check, checked_with="git merge-tree")
        rc, out, err = self._git("merge-tree", "--write-tree", "--name-only", "--no-messages", self.base, head)
        if rc == 0:
            return replace(check, checked_with="git merge-tree")
        if rc == 1:
            lines = out.decode("utf-8", "replace").split("\n")[1:]
            paths = []
            for line in lines:
                if not line:
                    break
                paths.append(line)
            return replace(check, conflicts=tuple(sorted(set(paths))), checked_with="git merge-tree")
        first = err.decode("utf-8", "replace").strip().splitlines()
        note = f"git merge-tree failed: {first[0] if first else rc}"
        return replace(check, notes=(*check.notes, note))

    def _synthesize(self, diff: bytes, base: str) -> str | None:
        """A commit of `diff` applied to `base`, in the scratch object directory (None when the
        diff does not apply there)."""
        rc, _, _ = self._git("read-tree", base, index=self._pr_index)
        if rc != 0:
            return None
        rc, _, _ = self._git("apply", "--cached", "-", input=diff, index=self._pr_index)
        if rc != 0:
            return None
        tree = self._git_ok("write-tree", index=self._pr_index)
        rc, out, _ = self._git("commit-tree", tree, "-p", base, "-m", "pr-triage base check", extra=_IDENTITY)
        return out.decode("ascii").strip() if rc == 0 else None

    def _two_way(self, diff: bytes) -> tuple[tuple[str, ...] | None, str]:
        ok, err = self._applies(diff)
        how = "git apply (two-way)"
        if ok:
            return None, how
        paths = sorted({m.group("a") or m.group("b") for m in _APPLY_FAILED.finditer(err)})
        return (tuple(paths), how) if paths else (None, f"{how}: {err.strip().splitlines()[0] if err.strip() else ''}")

    # --------------------------------------------------------------------------- per batch

    def finish(self, assessments: Sequence[Assessment]) -> tuple[Assessment, ...]:
        """The already-landed-by-patch-id answer for every PR, from the base commits since the
        batch's oldest merge-base (one log, one patch-id run)."""
        waiting = [
            a.base_check
            for a in assessments
            if a.base_check is not None
            and a.base_check.landed_in is None
            and (a.base_check.patch_id or a.base_check.commit_patch_ids)
        ]
        if not waiting:
            return tuple(assessments)
        bases = sorted({c.merge_base for c in waiting if c.merge_base})
        oldest = (
            bases[0] if len(bases) == 1 else (self._sha_or_none("merge-base", "--octopus", *bases) if bases else None)
        )
        span = f"{oldest}..{self.base}" if oldest else self.base
        log = self._git("log", *_LOG_ARGS, f"--max-count={MAX_BASE_COMMITS}", span)[1]
        on_base: dict[str, str] = {}
        for pid, commit in self._patch_ids(log):
            on_base.setdefault(pid, commit)  # newest first: the latest landing is named
        if not on_base:
            return tuple(assessments)
        out = []
        for a in assessments:
            c = a.base_check
            if c is None or c.landed_in is not None:
                out.append(a)
                continue
            found, how = self._landed(c, on_base)
            out.append(replace(a, base_check=replace(c, landed_in=found, landed_how=how)) if found else a)
        return tuple(out)

    def _landed(self, c: BaseCheck, on_base: dict[str, str]) -> tuple[str | None, str]:
        def since_merge_base(commit: str) -> bool:
            if c.merge_base is None:
                return True
            rc, _, _ = self._git("merge-base", "--is-ancestor", commit, c.merge_base)
            return rc != 0  # an ancestor of the merge-base was there before the PR began

        if c.patch_id and c.patch_id in on_base and since_merge_base(on_base[c.patch_id]):
            return self._subject(on_base[c.patch_id]), "patch-id"
        if c.commit_patch_ids and all(p in on_base and since_merge_base(on_base[p]) for p in c.commit_patch_ids):
            named = [self._subject(on_base[p]) for p in c.commit_patch_ids]
            more = f" (and {len(named) - 1} more)" if len(named) > 1 else ""
            return named[0] + more, "commits"
        return None, ""
