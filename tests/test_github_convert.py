"""GitHub JSON -> PullRequest, and the diff rebuilt from the files endpoint."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import unidiff
from github_stub import make_pr

from triage.github.convert import (
    diff_from_files,
    file_diff,
    is_bot,
    last_human_activity,
    linked_issues,
    pull_request_from_json,
    trailers_from_text,
)
from triage.models import Trailer
from triage.timeutil import parse_iso8601_or_none

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVENTS = SHARED / "data" / "github" / "events"
needs_shared = pytest.mark.skipif(
    not EVENTS.is_dir(),
    reason=f"real webhook payloads not found at {EVENTS} (../shared is absent in a plain clone)",
)

HUMAN = {"login": "bob", "type": "User"}
BOT = {"login": "renovate[bot]", "type": "Bot"}


def test_pr_object_maps_every_field():
    body = "Adds a thing.\n\nFixes #3 and octo/other#4.\n\nCo-authored-by: Jane <jane@x.org>"
    data = make_pr(
        12, body=body, labels=("bug", "triage/override-size"), draft=True, association="FIRST_TIME_CONTRIBUTOR"
    )
    pr = pull_request_from_json(data, diff=b"diff --git a/x b/x\n")
    assert pr.id == "12" and pr.number == 12
    assert pr.title == "Change number 12"
    assert pr.author == "alice" and not pr.author_is_bot
    assert pr.url == "https://github.com/octo/widgets/pull/12"
    assert pr.labels == ("bug", "triage/override-size")
    assert pr.draft is True
    assert pr.author_association == "FIRST_TIME_CONTRIBUTOR"
    assert pr.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert pr.base_ref == "main" and pr.base_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert pr.head_ref == "topic-12" and pr.head_sha == f"{12:040x}"
    assert pr.linked_issues == ("#3", "octo/other#4")
    assert pr.trailers == (Trailer("Co-authored-by", "Jane <jane@x.org>"),)
    assert pr.source == "github:octo/widgets#12"
    assert pr.diff == b"diff --git a/x b/x\n"


def test_null_body_and_bot_author():
    data = make_pr(3, body=None, login="dependabot[bot]", user_type="Bot")
    pr = pull_request_from_json(data)
    assert pr.body == "" and pr.linked_issues == ()
    assert pr.author == "dependabot[bot]" and pr.author_is_bot


def test_commit_trailers_join_body_trailers_once():
    data = make_pr(3, body="Bump.\n\nSigned-off-by: A <a@x>")
    message = "bump\n\nSigned-off-by: A <a@x>\nRequested-by: Carol"
    pr = pull_request_from_json(data, commit_messages=(message,))
    assert pr.trailers == (Trailer("Signed-off-by", "A <a@x>"), Trailer("Requested-by", "Carol"))
    assert pr.commit_messages == (message,)


@needs_shared
@pytest.mark.parametrize("name", ["pull_request.opened.payload.json", "pull_request.opened.with-null-body.json"])
def test_real_webhook_payloads_convert(name):
    event = json.loads((EVENTS / name).read_text())
    pr = pull_request_from_json(event["pull_request"])
    assert pr.id == "2" and pr.author == "Codertocat"
    assert pr.labels == ("bug",)
    assert pr.created_at is not None and pr.created_at.tzinfo is not None
    assert pr.source == "github:Codertocat/Hello-World#2"
    assert isinstance(pr.body, str)


@needs_shared
def test_stub_pr_shape_matches_the_real_payload():
    real = json.loads((EVENTS / "pull_request.opened.payload.json").read_text())["pull_request"]
    ours = make_pr(1)
    assert set(ours) <= set(real)
    for key in ("head", "base"):
        assert set(ours[key]) <= set(real[key])
    assert set(ours["user"]) <= set(real["user"])


def test_parse_time_and_is_bot():
    assert parse_iso8601_or_none("2019-05-15T15:20:33Z") == datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)
    assert parse_iso8601_or_none(None) is None and parse_iso8601_or_none("yesterday") is None
    assert is_bot(BOT) and is_bot({"login": "my-ci[bot]"}) and not is_bot(HUMAN)
    assert is_bot({"login": "Release-Robot", "type": "User"}, bots=("release-robot",))
    assert not is_bot(None)


def test_linked_issues_forms():
    body = (
        "Closes #10, fixes https://github.com/octo/widgets/issues/11\n"
        "Resolves https://github.com/acme/lib/issues/7\nRelated: acme/lib#8\n"
        "See #99 for context. Not issues: a&#39;b, color #fff, https://x.org/page#12"
    )
    # closing keywords and issue lines count, own-repository references read `#N`; a passing
    # mention does not (the same rule as GitHub's "closes on merge" and every other source)
    assert linked_issues(body, "octo/widgets") == ("#10", "#11", "acme/lib#7", "acme/lib#8")


def test_trailers_only_from_a_pure_trailer_block():
    assert trailers_from_text("Hello\n\nAssisted-by: Claude\nSigned-off-by: Bo <b@x>") == (
        Trailer("Assisted-by", "Claude"),
        Trailer("Signed-off-by", "Bo <b@x>"),
    )
    assert trailers_from_text("Hello\n\nNote: this is prose\nand more prose") == ()
    assert trailers_from_text("") == ()


# --------------------------------------------------------------------------- rebuilt diffs


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _files_like_github(repo: Path, base: str) -> list[dict]:
    """What GitHub's files endpoint returns for base..HEAD: per-file patches without headers."""
    entries = []
    for line in _git(repo, "diff", "--name-status", "-M", base, "HEAD").splitlines():
        parts = line.split("\t")
        status, path = parts[0], parts[-1]
        kind = {"A": "added", "D": "removed", "M": "modified"}.get(status[0], "renamed")
        old = parts[1] if kind == "renamed" else path
        raw = _git(repo, "diff", "-M", base, "HEAD", "--", *{old, path})
        patch = raw[raw.index("@@") :] if "@@" in raw else None
        entry = {"filename": path, "status": kind, "patch": patch}
        if kind == "renamed":
            entry["previous_filename"] = old
            entry["changes"] = 0 if patch is None else 1
        entries.append(entry)
    return entries


def test_rebuilt_diff_applies_with_git_and_counts_like_numstat(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@x")
    _git(repo, "config", "user.name", "t")
    (repo / "keep.py").write_text("a = 1\nb = 2\nc = 3\n")
    (repo / "gone.txt").write_text("bye\nbye\n")
    (repo / "old_name.md").write_text("# Title\n\n" + "".join(f"line {i}\n" for i in range(20)))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "keep.py").write_text("a = 1\nb = 20\nc = 3\nd = 4\n")
    (repo / "gone.txt").unlink()
    (repo / "new.py").write_text("print('hi')\n")
    _git(repo, "mv", "old_name.md", "new_name.md")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change")

    head = _git(repo, "rev-parse", "HEAD").strip()
    diff = diff_from_files(_files_like_github(repo, base))
    _git(repo, "checkout", "-q", base)
    patch_file = tmp_path / "rebuilt.diff"
    patch_file.write_bytes(diff)
    subprocess.run(["git", "apply", "--check", str(patch_file)], cwd=repo, check=True)

    numstat = {}
    for line in _git(repo, "diff", "--numstat", "-M", base, head).splitlines():
        added, deleted, path = line.split("\t")
        numstat[path.split(" => ")[-1].strip("{}")] = (int(added), int(deleted))
    parsed = {f.path: (f.added, f.removed) for f in unidiff.PatchSet(diff.decode())}
    assert parsed["keep.py"] == (2, 1)
    assert parsed["new.py"] == (1, 0)
    assert parsed["gone.txt"] == (0, 2)
    assert sum(a for a, _ in parsed.values()) == sum(a for a, _ in numstat.values())
    assert sum(d for _, d in parsed.values()) == sum(d for _, d in numstat.values())


def test_binary_and_missing_patch_still_count_as_changed_files():
    files = [
        {"filename": "logo.png", "status": "added"},
        {"filename": "big.sql", "status": "modified", "additions": 90000, "deletions": 3},
        {"filename": "data.bin", "status": "removed"},
        {"filename": "b.txt", "previous_filename": "a.txt", "status": "renamed", "changes": 0},
        {"filename": "same.txt", "status": "unchanged"},
    ]
    diff = diff_from_files(files).decode()
    assert diff.count("diff --git ") == 4
    assert "new file mode 100644\nBinary files /dev/null and b/logo.png differ\n" in diff
    assert "Binary files a/big.sql and b/big.sql differ\n" in diff
    assert "deleted file mode 100644\nBinary files a/data.bin and /dev/null differ\n" in diff
    assert "diff --git a/a.txt b/b.txt\nrename from a.txt\nrename to b.txt\n" in diff
    patch = unidiff.PatchSet(diff)
    assert [f.path for f in patch] == ["logo.png", "big.sql", "data.bin", "b.txt"]
    assert [f.is_binary_file for f in patch][:3] == [True, True, True]


def test_paths_with_special_characters_are_quoted_like_git():
    stanza = file_diff({"filename": 'we"ird\tname.txt', "status": "modified", "patch": "@@ -1 +1 @@\n-a\n+b"})
    assert stanza.startswith('diff --git "a/we\\"ird\\tname.txt" "b/we\\"ird\\tname.txt"\n')
    assert stanza.endswith("+b\n")


# --------------------------------------------------------------------------- human activity


def test_last_human_activity_ignores_bots_our_comment_and_our_labels():
    pr = make_pr(1, created_at="2024-01-01T00:00:00Z")
    comments = [
        {"user": HUMAN, "created_at": "2024-01-05T00:00:00Z", "body": "question"},
        {"user": BOT, "created_at": "2024-03-01T00:00:00Z", "body": "rebased"},
        {
            "user": {"login": "maintainer", "type": "User"},
            "created_at": "2024-03-02T00:00:00Z",
            "body": "<!-- pr-triage:sticky -->\nreport posted with a personal token",
        },
    ]
    timeline = [
        {
            "event": "labeled",
            "actor": {"login": "maintainer"},
            "created_at": "2024-03-03T00:00:00Z",
            "label": {"name": "triage/review"},
        },
        {"event": "cross-referenced", "actor": HUMAN, "created_at": "2024-03-04T00:00:00Z"},
        {"event": "reviewed", "user": BOT, "submitted_at": "2024-03-05T00:00:00Z"},
        {"event": "committed", "committer": {"date": "2024-01-20T00:00:00Z"}},
    ]
    reviews = [{"user": HUMAN, "submitted_at": "2024-01-10T00:00:00Z"}]
    when = last_human_activity(pr, comments=comments, reviews=reviews, timeline=timeline)
    assert when == datetime(2024, 1, 20, tzinfo=UTC)  # the human push; nothing later is human


def test_last_human_activity_counts_reviews_labels_and_configured_bots():
    pr = make_pr(1, created_at="2024-01-01T00:00:00Z")
    timeline = [
        {"event": "reviewed", "user": HUMAN, "submitted_at": "2024-02-01T00:00:00Z"},
        {"event": "labeled", "actor": HUMAN, "created_at": "2024-02-02T00:00:00Z", "label": {"name": "bug"}},
        {"event": "commented", "actor": {"login": "ci-robot"}, "created_at": "2024-02-09T00:00:00Z"},
    ]
    assert last_human_activity(pr, timeline=timeline, bots=("ci-robot",)) == datetime(2024, 2, 2, tzinfo=UTC)


def test_bot_authored_pr_commits_do_not_count_the_clock_starts_at_opening():
    pr = make_pr(1, login="renovate[bot]", user_type="Bot", created_at="2024-03-01T00:00:00Z")
    timeline = [
        {"event": "committed", "committer": {"date": "2024-04-01T00:00:00Z"}},
        {"event": "head_ref_force_pushed", "actor": BOT, "created_at": "2024-04-02T00:00:00Z"},
    ]
    assert last_human_activity(pr, timeline=timeline) == datetime(2024, 3, 1, tzinfo=UTC)


def test_merge_state_is_read_and_garbage_is_unknown() -> None:
    dirty = pull_request_from_json(make_pr(3, mergeable=False, mergeable_state="dirty"))
    assert (dirty.mergeable, dirty.mergeable_state) == (False, "dirty")
    listed = {k: v for k, v in make_pr(4).items() if k not in ("mergeable", "mergeable_state")}
    assert (pull_request_from_json(listed).mergeable, pull_request_from_json(listed).mergeable_state) == (None, None)
    odd = pull_request_from_json({**make_pr(5), "mergeable": "yes", "mergeable_state": 7})
    assert (odd.mergeable, odd.mergeable_state) == (None, None)
