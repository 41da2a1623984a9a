"""The cluster stage on real git diffs: competing PRs for one issue, one author's re-submission,
a backport on another base branch, signals without any issue key, overrides, and the reports."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from tests.gitutil import ScratchRepo
from triage.config import ClusterConfig, Config, from_mapping
from triage.diff import parse_diff
from triage.errors import ConfigError
from triage.models import ClusterRole, DecisionKind, PullRequest, Queue
from triage.pipeline import RunContext, run
from triage.policy.cluster import fingerprint
from triage.report.html import render_html
from triage.report.json_report import load_schema, to_json
from triage.report.markdown import render_markdown
from triage.report.summary import queue_view
from triage.report.terminal import cluster_line

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
CFG = Config(llm_mode="off")

APP = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
DOCS = "".join(f"Line {i} of the guide, with a word or two.\n" for i in range(30))


@pytest.fixture
def repo(tmp_path: Path) -> tuple[ScratchRepo, str]:
    r = ScratchRepo.create(tmp_path)
    r.write("app/core.py", APP)
    r.write("docs/guide.md", DOCS)
    r.write("tests/test_core.py", "def test_f0():\n    assert True\n")
    return r, r.commit("base")


def change(
    repo: tuple[ScratchRepo, str], edits: dict[str, tuple[str, str]], add: dict[str, str] | None = None
) -> bytes:
    """The diff of one branch off the base: each path gets one text replaced, `add` new files."""
    r, base = repo
    r.git("checkout", "-q", "-B", "work", base)
    for path, (old, new) in edits.items():
        text = (r.root / path).read_text()
        assert old in text, (path, old)
        r.write(path, text.replace(old, new, 1))
    for path, text in (add or {}).items():
        r.write(path, text)
    head = r.commit("change")
    return r.diff(base, head)


def pr(pid: str, diff: bytes, *, days: float = 3, **kw: object) -> PullRequest:
    fields: dict[str, object] = {
        "title": f"Change {pid}",
        "author": "alice",
        "author_association": "MEMBER",
        "created_at": NOW - timedelta(days=days),
        "base_ref": "main",
        "source": f"test:{pid}",
    }
    fields.update(kw)
    return PullRequest(id=pid, diff=diff, **fields)  # type: ignore[arg-type]


def items(queue: Queue) -> dict[str, object]:
    return {i.pr.id: i for i in queue.items}


FIX_A = {"app/core.py": ("    return x + 7\n", "    return x + 7 if x is not None else 7\n")}
FIX_B = {"app/core.py": ("    return x + 7\n", "    if x is None:\n        return 7\n    return x + 7\n")}
TEST_B = {"tests/test_none.py": "from app.core import f7\n\n\ndef test_none():\n    assert f7(None) == 7\n"}


def test_competing_prs_for_one_issue_keep_one_review(repo) -> None:
    a = pr("a", change(repo, FIX_A), author="alice", linked_issues=("#7",), days=5)
    b = pr("b", change(repo, FIX_B, TEST_B), author="bob", linked_issues=("#7",), days=2)
    other = pr("c", change(repo, {"app/core.py": ("return x + 30", "return x + 31")}), author="carol")
    queue = run([a, b, other], CFG, RunContext(now=NOW))
    by = items(queue)
    # b includes a test: it is the canonical PR although a is older.
    assert by["b"].decision.kind is DecisionKind.REVIEW and by["b"].rank is not None
    assert by["a"].decision.kind is DecisionKind.DUPLICATE and by["a"].rank is None
    reason = by["a"].decision.reasons[0]
    assert reason.rule == "duplicate" and reason.override_label == "triage/override-duplicate"
    assert reason.message.startswith("duplicate of b (by bob)")
    assert "same issue #7" in reason.message and "overlapping change at app/core.py:" in reason.message
    assert "triage/duplicate" in by["a"].decision.labels and "triage/review" not in by["a"].decision.labels
    info = by["a"].decision.cluster
    assert info is not None and info.canonical == "b" and info.role is ClusterRole.COMPETING
    assert info.members == ("b", "a")
    assert "includes tests" in info.rule
    assert by["b"].decision.cluster.role is ClusterRole.CANONICAL
    assert by["c"].decision.cluster is None and by["c"].decision.kind is DecisionKind.REVIEW
    view = queue_view(queue)
    assert [(c.canonical, c.kind, c.members) for c in view.clusters] == [
        ("b", "competing", (("b", "canonical", "review"), ("a", "competing", "duplicate")))
    ]
    assert view.duplicates_shed == 1 and view.minutes_saved == by["a"].estimated_review_minutes


def test_same_author_resubmission_is_told_apart(repo) -> None:
    diff = change(repo, FIX_A)
    old = pr("old", diff, author="alice", head_ref="fix-none", title="Handle None in f7", days=9)
    new = pr("new", diff, author="alice", head_ref="fix-none", title="Handle None in f7 (again)", days=1)
    queue = run([old, new], CFG, RunContext(now=NOW))
    by = items(queue)
    assert by["new"].decision.kind is DecisionKind.REVIEW
    assert by["old"].decision.kind is DecisionKind.DUPLICATE
    info = by["old"].decision.cluster
    assert info.role is ClusterRole.RESUBMISSION and info.canonical == "new"
    assert by["old"].decision.reasons[0].message.startswith("re-submitted: replaced by new of the same author")
    evidence = " ".join(info.evidence)
    assert "identical change (patch id" in evidence and "branch fix-none pushed again by the same author" in evidence
    assert [c.kind for c in queue_view(queue).clusters] == ["resubmission"]


def test_a_backport_on_another_base_branch_is_not_a_duplicate(repo) -> None:
    diff = change(repo, FIX_A)
    main = pr("main-fix", diff, linked_issues=("#7",), author="alice")
    backport = pr("backport", diff, linked_issues=("#7",), author="alice", base_ref="release-1.x", days=1)
    queue = run([main, backport], CFG, RunContext(now=NOW))
    for item in queue.items:
        assert item.decision.kind is DecisionKind.REVIEW
        assert item.decision.cluster is None
    assert queue_view(queue).clusters == ()


def test_without_issue_keys_the_change_itself_links_prs(repo) -> None:
    same = change(repo, FIX_A)
    rebased = change(repo, {"app/core.py": ("    return x + 7\n", "    return x + 7  if x is not None else 7\n")})
    a = pr("a", same, author="alice", title="Guard f7 against None")
    b = pr("b", rebased, author="bob", title="Make seven robust", days=1)  # whitespace differs only
    c = pr("c", change(repo, FIX_B), author="carol", title="Guard f7 against None values", days=2)
    queue = run([a, b, c], CFG, RunContext(now=NOW))
    by = items(queue)
    assert "identical change" in " ".join(by["b"].decision.cluster.evidence)
    # c: another change at the same spot with a similar title.
    evidence_c = " ".join(by["c"].decision.cluster.evidence)
    assert "overlapping change at app/core.py:" in evidence_c and "similar title" in evidence_c
    assert sum(1 for i in queue.items if i.decision.kind is DecisionKind.DUPLICATE) == 2


def test_same_title_on_different_lines_is_not_a_duplicate(repo) -> None:
    """One author's flood of "fix typo" PRs fixes different typos: each is its own (small) review."""
    one = change(repo, {"docs/guide.md": ("Line 3 of", "Line three of")})
    two = change(repo, {"docs/guide.md": ("Line 4 of", "Line four of")})
    prs = [
        pr("t1", one, title="docs: fix typo in guide.md", author="typo"),
        pr("t2", two, title="docs: fix typo in guide.md", author="typo", days=2),
    ]
    queue = run(prs, CFG, RunContext(now=NOW))
    assert all(i.decision.cluster is None for i in queue.items)


def test_issue_key_pattern_is_configurable(repo) -> None:
    a = pr("a", change(repo, FIX_A), title="PROJ-12: guard f7", author="alice")
    b = pr("b", change(repo, {"app/core.py": ("return x + 20", "return x + 21")}), author="bob", head_ref="proj-12-f20")
    assert all(i.decision.cluster is None for i in run([a, b], CFG, RunContext(now=NOW)).items)
    cfg = replace(CFG, cluster=ClusterConfig(issue_key_pattern=r"PROJ-\d+"))
    by = items(run([a, b], cfg, RunContext(now=NOW)))
    assert "same issue PROJ-12" in " ".join(by["b"].decision.cluster.evidence)


def test_override_label_and_stronger_decisions(repo) -> None:
    diff = change(repo, FIX_A)
    keep = pr("keep", diff, author="bob", linked_issues=("#7",), labels=("triage/override-duplicate",), days=1)
    canonical = pr("canon", diff, author="alice", linked_issues=("#7",), days=4)
    draft = pr("draft", diff, author="dan", linked_issues=("#7",), draft=True)
    stale = pr("stale", diff, author="erin", linked_issues=("#7",), days=90)
    by = items(run([keep, canonical, draft, stale], CFG, RunContext(now=NOW)))
    assert by["canon"].decision.kind is DecisionKind.REVIEW
    assert by["keep"].decision.kind is DecisionKind.REVIEW
    assert by["keep"].decision.cluster.role is ClusterRole.OVERRIDDEN
    assert any(n.message.startswith("override triage/override-duplicate") for n in by["keep"].decision.notes)
    # A skipped draft takes no part; a stale PR keeps its `close`, the cluster is a note.
    assert by["draft"].decision.cluster is None and by["draft"].decision.kind is DecisionKind.SKIPPED
    assert by["stale"].decision.kind is DecisionKind.CLOSE
    assert by["stale"].decision.cluster.role is ClusterRole.COMPETING
    assert any(n.rule == "duplicate" for n in by["stale"].decision.notes)


def test_disabled_clusters_nothing(repo) -> None:
    diff = change(repo, FIX_A)
    cfg = replace(CFG, cluster=ClusterConfig(enabled=False))
    queue = run([pr("a", diff), pr("b", diff, author="bob")], cfg, RunContext(now=NOW))
    assert all(i.decision.kind is DecisionKind.REVIEW and i.decision.cluster is None for i in queue.items)


def test_fingerprint_ignores_line_numbers_and_whitespace_and_locates_the_change(repo) -> None:
    early = parse_diff(change(repo, {"app/core.py": ("    return x + 3\n", "    return  x+3 or 0\n")}))
    r, base = repo
    moved = APP.replace("def f0(x)", "import os\n\n\ndef f0(x)").replace("    return x + 3\n", "    return x+3  or 0\n")
    r.git("checkout", "-q", "-B", "work", base)
    r.write("app/core.py", moved)
    shifted = parse_diff(r.diff(base, r.commit("moved")))
    fp, other = fingerprint(early), fingerprint(shifted)
    assert fp is not None and other is not None
    # Line 14 is `return x + 3` (four lines per function); the hunk's context is not the spot.
    assert [(h.path, h.start, h.end) for h in fp.hunks] == [("app/core.py", 14, 14)]
    assert fp.patch_id != other.patch_id  # the second diff also adds an import
    only_moved = parse_diff(change(repo, {"app/core.py": ("    return x + 3\n", "    return x+3  or 0\n")}))
    assert fingerprint(only_moved).patch_id == fp.patch_id
    assert fingerprint(parse_diff(b"")) is None


def test_bad_issue_key_pattern_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\[cluster\] issue_key_pattern: is not a regular expression"):
        from_mapping({"cluster": {"issue_key_pattern": "PROJ-("}})
    with pytest.raises(ConfigError, match=r"\[cluster\] text_threshold: must be an integer from 0 to 100"):
        from_mapping({"cluster": {"text_threshold": 101}})


def test_reports_show_clusters_and_queue_json_validates(repo) -> None:
    a = pr("a", change(repo, FIX_A), author="alice", linked_issues=("#7",), days=5)
    b = pr("b", change(repo, FIX_B, TEST_B), author="bob", linked_issues=("#7",), days=2)
    queue = run([a, b], CFG, RunContext(now=NOW))
    doc = to_json(queue)
    jsonschema.validate(doc, load_schema())
    assert doc["schema_version"] == 2
    clusters = doc["summary"]["clusters"]
    assert (clusters["count"], clusters["duplicates_shed"]) == (1, 1)
    assert clusters["clusters"][0]["canonical"] == "b"
    by = {i["id"]: i for i in doc["items"]}
    assert by["a"]["decision"] == "duplicate" and by["a"]["cluster"]["role"] == "competing"
    assert by["b"]["cluster"]["role"] == "canonical" and by["b"]["cluster"]["members"] == ["b", "a"]
    assert json.loads(json.dumps(doc)) == doc
    md = render_markdown(queue)
    assert "**Clusters:** 1 cluster of PRs that address the same thing" in md
    assert "### Clusters (1)" in md and "canonical b" in md
    html = render_html(queue)
    assert '<h2 id="clusters">' in html and '<a href="#pr-b">b</a>' in html
    assert cluster_line(queue).startswith("clusters: 1 · duplicates shed 1 · ")


# ---------------------------------------------------------------- flood (issue #11, branch flood2)


def test_an_author_flooding_trivial_prs_gets_a_fair_share_and_one_note_per_pr(repo) -> None:
    """Eight "fix typo" PRs of one contributor, each a different word of the guide: none is a
    duplicate of another (different changes), three of the twelve review slots go to them (a
    quarter), the rest wait with `author-share`, and each names the others in a combine note."""
    typos = [
        pr(
            f"typo-{n}",
            change(repo, {"docs/guide.md": (f"Line {n} of the guide", f"Line {n} of teh guide")}),
            title="docs: fix typo in guide.md",
            author="typo-hunter",
            author_association="CONTRIBUTOR",
            linked_issues=(f"#{100 + n}",),
            days=1 + n / 10,
        )
        for n in range(1, 24, 3)
    ]
    others = [
        pr(
            f"work-{k}",
            change(repo, {"app/core.py": (f"    return x + {k}\n", f"    return x + {k} * 2\n")}),
            title=f"core: double the offset of f{k}",
            author=f"dev-{k}",
            days=2,
        )
        for k in range(10, 37, 3)
    ]
    queue = run([*typos, *others], CFG, RunContext(now=NOW))
    by = items(queue)
    assert all(i.decision.cluster is None and i.decision.kind is not DecisionKind.DUPLICATE for i in queue.items)
    queued = [i.pr.id for i in queue.items if i.rank is not None]
    assert len(queued) == 12 and sum(q.startswith("typo-") for q in queued) == 3
    held = [by[t.id] for t in typos if by[t.id].rank is None]
    assert len(held) == 5
    for item in held:
        assert item.decision.kind is DecisionKind.THROTTLED
        assert item.decision.reasons[-1].rule == "author-share"
        assert "typo-hunter already has 3 PRs" in item.decision.reasons[-1].message
    for t in typos:
        notes = [n.message for n in by[t.id].decision.notes if n.rule == "combine-trivial"]
        assert len(notes) == 1 and notes[0].startswith("one of 8 trivial docs PRs by typo-hunter (also ")
        assert notes[0].endswith("consider combining them into one PR, one review instead of 8")
        named = notes[0].split("(also ", 1)[1].split(")", 1)[0].split(", ")
        assert sorted(named) == sorted(u.id for u in typos if u.id != t.id)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.skipif(not (FIXTURES / "prs").is_dir(), reason="fixtures/prs not present")
def test_the_fixtures_show_each_flood_case() -> None:
    """What `make triage` shows (fixtures/README.md, 204-212 and 240-245)."""
    from triage.gitrepo import DirTree
    from triage.sources import load_inputs

    ctx = RunContext(now=NOW, base=DirTree(FIXTURES / "base"))
    queue = run(load_inputs([str(FIXTURES / "prs")]), CFG, ctx)
    by = items(queue)
    # Competing PRs of two authors for issue #610: the one with a test is canonical.
    assert by["240"].decision.kind is DecisionKind.DUPLICATE
    assert by["240"].decision.cluster.role is ClusterRole.COMPETING and by["240"].decision.cluster.canonical == "241"
    assert "same issue #610" in by["240"].decision.reasons[0].message
    assert by["241"].decision.cluster.role is ClusterRole.CANONICAL
    # One author's re-submission from the same branch: the newer PR replaces the older one.
    assert by["242"].decision.kind is DecisionKind.DUPLICATE
    assert by["242"].decision.cluster.role is ClusterRole.RESUBMISSION and by["242"].decision.cluster.canonical == "243"
    # The backport to release-0.9 links the same issue but is its own review.
    assert by["244"].decision.cluster is None and by["244"].decision.kind is not DecisionKind.DUPLICATE
    # GitHub says 245 conflicts with its base: held with needs-rebase and its label.
    assert [r.rule for r in by["245"].decision.reasons] == ["needs-rebase"]
    assert "GitHub mergeable_state: dirty" in by["245"].decision.reasons[0].message
    assert "needs-rebase" in by["245"].decision.labels and by["245"].position is None
    # One author's nine typo PRs: three slots, the rest wait (author-share, then author-cap).
    typo = [by[str(n)] for n in range(204, 213)]
    assert sum(i.rank is not None for i in typo) == 3
    assert {i.decision.reasons[-1].rule for i in typo if i.rank is None} == {"author-share", "author-cap"}
    assert all(any(n.rule == "combine-trivial" for n in i.decision.notes) for i in typo)
    view = queue_view(queue)
    assert [(c.canonical, c.kind) for c in view.clusters] == [("241", "competing"), ("243", "resubmission")]
    assert view.duplicates_shed == 2 and view.minutes_saved == 10


def test_a_key_named_in_passing_is_a_reference_not_the_issue(repo) -> None:
    """The issue a PR addresses is the first key of its title (else branch, else body); "docs
    for PROJ-12" or a body that mentions PROJ-12 refers to it and must not make a duplicate."""
    cfg = replace(CFG, cluster=ClusterConfig(issue_key_pattern=r"PROJ-\d+"))
    fix = pr("fix", change(repo, FIX_A), title="PROJ-12: guard f7", author="alice")
    docs = pr(
        "docs",
        change(repo, {"docs/guide.md": ("Line 3 of", "Line 3 (f7 takes None) of")}),
        title="PROJ-20: document PROJ-12",
        body="Follow-up of PROJ-12.",
        author="bob",
    )
    keyless_title = pr(
        "again",
        change(repo, {"app/core.py": ("return x + 20", "return x + 21")}),
        title="guard f20",
        body="Part of PROJ-12.",
        author="carol",
    )
    by = items(run([fix, docs, keyless_title], cfg, RunContext(now=NOW)))
    assert by["docs"].decision.cluster is None  # PROJ-20 is its issue; PROJ-12 a reference
    # Without a key in the title or branch, the body's first key is the PR's issue.
    assert "same issue PROJ-12" in " ".join(by["again"].decision.cluster.evidence)
    assert by["fix"].decision.cluster is not None
