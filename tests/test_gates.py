"""The decide stage as tables: each row is one PR, the decision it must get and the rules that
must be listed (reasons) or noted. Batch rules (per-author and AI caps) have their own tables."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from factories import NOW, file, make

from triage.config import Config, GatesConfig, StaleConfig
from triage.models import (
    Assessment,
    ChangeType,
    DecisionKind,
    FileDiff,
    FileKind,
    Flag,
    FlagKind,
    Hunk,
    ParsedDiff,
    Severity,
    Trailer,
)
from triage.policy import PolicyContext, decide
from triage.policy.codeowners import CodeOwners
from triage.policy.gates import is_secret_flag
from triage.review.secrets import scan_diff

CFG = Config()
CTX = PolicyContext(now=NOW)
K = DecisionKind
SECRET = Flag(FlagKind.SECURITY, Severity.HIGH, 'GitHub token added: token = "ghp_****"', "app/c.py", 3, secret=True)
# The same words from another reviewer: only the scanner's marker makes a flag a secret.
SECRET_WORDING = Flag(FlagKind.SECURITY, Severity.HIGH, 'GitHub token added: token = "ghp_****"', "c.py", 3, "llm")
LLM_CRITICAL = Flag(FlagKind.SECURITY, Severity.CRITICAL, "hard-coded signing key", "k.py", 9, "llm")
NOT_SECRET = Flag(FlagKind.SECURITY, Severity.HIGH, "SQL built from user input", "db.py", 4, "llm")
AGENT = {"author": "coding-agent[bot]", "author_association": "NONE"}
CO = Trailer("Co-authored-by", "Alice Doe <alice@example.com>")


def one(a: Assessment, cfg: Config = CFG, ctx: PolicyContext = CTX):  # type: ignore[no-untyped-def]
    (decision,) = decide([a], cfg, ctx)
    return decision


def days_ago(n: float) -> Any:
    return NOW - timedelta(days=n)


# (id, assessment kwargs, config, expected kind, expected reason rules in order, expected note rules)
TABLE: list[tuple[str, dict[str, Any], Config, DecisionKind, list[str], list[str]]] = [
    ("clean", {}, CFG, K.REVIEW, [], []),
    ("unparseable", {"errors": ("a.diff: not a diff", "x")}, CFG, K.SKIPPED, ["unparseable"], []),
    ("draft", {"draft": True}, CFG, K.SKIPPED, ["draft"], []),
    ("no-owner", AGENT, CFG, K.REJECT, ["no-owner"], ["ai-assisted"]),
    (
        "no-owner-throttles-when-reject-off",
        AGENT,
        Config(gates=GatesConfig(reject_without_owner=False)),
        K.THROTTLED,
        ["no-owner"],
        ["ai-assisted"],
    ),
    ("agent-with-co-author", {**AGENT, "trailers": (CO,)}, CFG, K.REVIEW, [], ["ai-assisted"]),
    ("secret-from-scanner", {"flags": (SECRET,)}, CFG, K.REJECT, ["secret"], []),
    ("critical-security-is-secret", {"flags": (LLM_CRITICAL,)}, CFG, K.REJECT, ["secret"], []),
    ("other-security-flag", {"flags": (NOT_SECRET,)}, CFG, K.REVIEW, [], []),
    ("secret-wording-without-the-marker", {"flags": (SECRET_WORDING,)}, CFG, K.REVIEW, [], []),
    ("secret-rule-off", {"flags": (SECRET,)}, Config(gates=GatesConfig(reject_secrets=False)), K.REVIEW, [], []),
    ("stale-close", {"last_human_activity_at": days_ago(45)}, CFG, K.CLOSE, ["stale"], []),
    ("stale-warn", {"last_human_activity_at": days_ago(30)}, CFG, K.REVIEW, [], ["stale"]),
    ("fresh", {"last_human_activity_at": days_ago(29.9)}, CFG, K.REVIEW, [], []),
    (
        "bot-activity-does-not-reset",
        {"last_human_activity_at": days_ago(50), "updated_at": days_ago(0)},
        CFG,
        K.CLOSE,
        ["stale"],
        [],
    ),
    ("stale-falls-back-to-updated", {"updated_at": days_ago(46), "age_days": 60}, CFG, K.CLOSE, ["stale"], []),
    ("stale-falls-back-to-created", {"age_days": 46}, CFG, K.CLOSE, ["stale"], []),
    ("stale-off", {"age_days": 100}, Config(stale=StaleConfig(enabled=False)), K.REVIEW, [], []),
    ("size-split", {"lines": 1001}, CFG, K.NEEDS_SPLIT, ["size"], []),
    ("size-at-limit", {"lines": 1000}, CFG, K.REVIEW, [], ["suggest-split"]),
    ("suggest-split", {"lines": 401}, CFG, K.REVIEW, [], ["suggest-split"]),
    ("no-suggestion", {"lines": 400}, CFG, K.REVIEW, [], []),
    ("areas-split", {"areas": ("a", "b", "c", "d")}, CFG, K.NEEDS_SPLIT, ["areas"], []),
    ("three-areas", {"areas": ("a", "b", "c")}, CFG, K.REVIEW, [], []),
    (
        "external-no-issue",
        {"author_association": "CONTRIBUTOR", "linked_issues": ()},
        CFG,
        K.REJECT,
        ["linked-issue"],
        [],
    ),
    ("external-with-issue", {"author_association": "FIRST_TIME_CONTRIBUTOR"}, CFG, K.REVIEW, [], []),
    ("member-no-issue", {"linked_issues": ()}, CFG, K.REVIEW, [], []),
    ("unknown-association-no-maintainers", {"author_association": None, "linked_issues": ()}, CFG, K.REVIEW, [], []),
    (
        "unknown-association-not-maintainer",
        {"author_association": None, "linked_issues": ()},
        Config(gates=GatesConfig(maintainers=("bob",))),
        K.REJECT,
        ["linked-issue"],
        [],
    ),
    (
        "unknown-association-maintainer",
        {"author_association": None, "linked_issues": ()},
        Config(gates=GatesConfig(maintainers=("Alice",))),
        K.REVIEW,
        [],
        [],
    ),
    (
        "maintainer-beats-association",
        {"author_association": "NONE", "linked_issues": ()},
        Config(gates=GatesConfig(maintainers=("alice",))),
        K.REVIEW,
        [],
        [],
    ),
    (
        "issue-rule-off",
        {"author_association": "NONE", "linked_issues": ()},
        Config(gates=GatesConfig(require_linked_issue=False)),
        K.REVIEW,
        [],
        [],
    ),
    ("codeowners-edit", {"files": (file(".github/CODEOWNERS", 1),)}, CFG, K.REVIEW, [], ["codeowners-edit"]),
    (
        "codeowners-moved",
        {"files": (file("docs/OWNERS", 0, old_path="CODEOWNERS", change=ChangeType.RENAMED),)},
        CFG,
        K.REVIEW,
        [],
        ["codeowners-edit"],
    ),
    ("ai-trailer", {"trailers": (Trailer("Assisted-by", "Claude"),)}, CFG, K.REVIEW, [], ["ai-assisted"]),
    # precedence: secret > skipped > close > reject > needs-split > throttled > review; all
    # reasons listed, the security rule first
    (
        "secret-beats-all",
        {"draft": True, "flags": (SECRET,), "lines": 2000, "age_days": 90},
        CFG,
        K.REJECT,
        ["secret", "draft", "stale", "size"],
        [],
    ),
    (
        "skipped-beats-all",
        {"draft": True, "lines": 2000, "age_days": 90},
        CFG,
        K.SKIPPED,
        ["draft", "stale", "size"],
        [],
    ),
    (
        "close-beats-reject",
        {"age_days": 90, "author_association": "NONE", "linked_issues": ()},
        CFG,
        K.CLOSE,
        ["stale", "linked-issue"],
        [],
    ),
    (
        "reject-beats-split",
        {"flags": (SECRET,), "areas": ("a", "b", "c", "d"), "lines": 1500},
        CFG,
        K.REJECT,
        ["secret", "size", "areas"],
        [],
    ),
]


@pytest.mark.parametrize(("case", "kw", "cfg", "kind", "rules", "notes"), TABLE, ids=[t[0] for t in TABLE])
def test_rule_table(
    case: str, kw: dict[str, Any], cfg: Config, kind: DecisionKind, rules: list[str], notes: list[str]
) -> None:
    d = one(make(case, **kw), cfg)
    assert d.kind is kind
    assert [r.rule for r in d.reasons] == rules
    assert [n.rule for n in d.notes] == notes


def test_unparseable_message_quotes_first_error() -> None:
    d = one(make(errors=("a.diff: not a diff", "b")))
    assert d.reasons[0].message == "cannot be triaged: a.diff: not a diff (and 1 more)"
    assert d.reasons[0].override_label is None
    assert d.labels == ("triage/skipped",)


def test_no_owner_message_says_why() -> None:
    d = one(make(**AGENT))
    assert d.owner is None
    assert "author coding-agent[bot] is a bot or agent" in d.reasons[0].message
    assert "the base branch has no CODEOWNERS file" in d.reasons[0].message
    assert d.reasons[0].override_label is None


def test_owner_from_base_codeowners_for_agent_pr() -> None:
    ctx = PolicyContext(NOW, CodeOwners.parse("/src/ @src-lead\n"), ".github/CODEOWNERS")
    d = one(make(**AGENT), ctx=ctx)
    assert d.kind is K.REVIEW and d.owner is not None and d.owner.login == "src-lead"


def test_pr_editing_codeowners_is_routed_by_base() -> None:
    ctx = PolicyContext(NOW, CodeOwners.parse("* @base-owner\n"), ".github/CODEOWNERS")
    files = (file(".github/CODEOWNERS", 1), file("src/x.py", 3))
    d = one(make(files=files, **AGENT), ctx=ctx)
    assert d.owner is not None and d.owner.login == "base-owner"
    note = next(n for n in d.notes if n.rule == "codeowners-edit")
    assert "routed by the base branch's file (.github/CODEOWNERS)" in note.message


def test_secret_message_names_place_and_remedy() -> None:
    msg = one(make(flags=(SECRET,))).reasons[0].message
    assert msg.startswith("adds a secret in app/c.py:3: GitHub token added")
    assert "rotate the credential" in msg


def test_real_scanner_flags_count_as_secrets() -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    hunk = Hunk(1, 0, 1, 1, "", 1, 0, f'+token = "{token}"\n')
    fd = FileDiff("app/config.py", "app/config.py", ChangeType.MODIFIED, FileKind.SOURCE, "python", 1, 0, (hunk,))
    flags = scan_diff(ParsedDiff((fd,)))
    assert flags and all(is_secret_flag(f) for f in flags)
    assert one(make(flags=flags)).kind is K.REJECT


def test_stale_messages() -> None:
    warn = one(make(last_human_activity_at=days_ago(33))).notes[0]
    assert warn.message.startswith("no human activity for 33 days")
    assert "closing will be proposed in 12 days" in warn.message
    close = one(make(age_days=50)).reasons[0]
    assert "closing proposed" in close.message


def test_naive_datetimes_are_utc() -> None:
    naive = (NOW - timedelta(days=50)).replace(tzinfo=None)
    assert one(make(created_at=naive)).kind is K.CLOSE


def test_labels() -> None:
    d = one(make(lines=1500, risk=0.7))
    assert d.labels == ("size/XXL", "risk/high", "triage/needs-split")
    assert one(make(lines=3)).labels == ("size/XS", "risk/low", "triage/review")


# ----------------------------------------------------------------------------- overrides

OVERRIDES: list[tuple[str, dict[str, Any]]] = [
    ("draft", {"draft": True}),
    ("secret", {"flags": (SECRET,)}),
    ("stale", {"age_days": 90}),
    ("size", {"lines": 5000}),
    ("areas", {"areas": ("a", "b", "c", "d", "e")}),
    ("linked-issue", {"author_association": "NONE", "linked_issues": ()}),
]


@pytest.mark.parametrize(("rule", "kw"), OVERRIDES, ids=[o[0] for o in OVERRIDES])
def test_override_label_disables_the_rule(rule: str, kw: dict[str, Any]) -> None:
    fired = one(make(**kw))
    assert [r.rule for r in fired.reasons] == [rule]
    assert fired.reasons[0].override_label == f"triage/override-{rule}"
    overridden = one(make(labels=(f"triage/override-{rule}",), **kw))
    assert overridden.kind is K.REVIEW and overridden.reasons == ()
    note = next(n for n in overridden.notes if n.rule == rule)
    assert note.message.startswith(f"overridden by label triage/override-{rule}: ")


def test_override_prefix_is_configurable() -> None:
    cfg = Config(gates=GatesConfig(override_prefix="allow:"))
    assert one(make(lines=5000, labels=("allow:size",)), cfg).kind is K.REVIEW
    assert one(make(lines=5000, labels=("triage/override-size",)), cfg).kind is K.NEEDS_SPLIT


def test_override_removes_one_rule_only() -> None:
    d = one(make(lines=5000, flags=(SECRET,), labels=("triage/override-size",)))
    assert d.kind is K.REJECT and [r.rule for r in d.reasons] == ["secret"]


@pytest.mark.parametrize(("rule", "kw"), [("unparseable", {"errors": ("bad",)}), ("no-owner", AGENT)])
def test_rules_that_cannot_be_overridden(rule: str, kw: dict[str, Any]) -> None:
    d = one(make(labels=(f"triage/override-{rule}",), **kw))
    assert rule in [r.rule for r in d.reasons]


# ----------------------------------------------------------------------------- batch rules


def external(pid: str, age: float, **kw: Any) -> Assessment:
    return make(pid, author="eve", author_association="CONTRIBUTOR", age_days=age, **kw)


def test_author_cap_throttles_ninth_and_later_by_age() -> None:
    batch = [external(f"e{i}", age=20 - i) for i in range(10)]  # e0 oldest
    random.Random(7).shuffle(batch)
    decisions = decide(batch, CFG, CTX)
    by_id = {a.pr.id: d for a, d in zip(batch, decisions, strict=True)}
    assert [pid for pid in sorted(by_id) if by_id[pid].kind is K.THROTTLED] == ["e8", "e9"]
    reason = by_id["e8"].reasons[0]
    assert (reason.rule, reason.override_label) == ("author-cap", "triage/override-author-cap")
    assert "eve has 10 open PRs" in reason.message and "this is #9 by age" in reason.message


def test_author_cap_ties_broken_by_id() -> None:
    batch = [external(f"e{i:02d}", age=5) for i in range(9)]
    decisions = decide(list(reversed(batch)), CFG, CTX)
    throttled = [a.pr.id for a, d in zip(reversed(batch), decisions, strict=True) if d.kind is K.THROTTLED]
    assert throttled == ["e08"]


@pytest.mark.parametrize(
    ("case", "kw", "cfg", "throttled"),
    [
        ("member-exempt", {"author_association": "MEMBER"}, CFG, 0),
        ("maintainer-exempt", {}, Config(gates=GatesConfig(maintainers=("eve",))), 0),
        ("cap-0-disables", {}, Config(gates=GatesConfig(author_open_pr_cap=0)), 0),
        ("cap-3", {}, Config(gates=GatesConfig(author_open_pr_cap=3)), 7),
        ("drafts-do-not-count", {"draft": True}, CFG, 0),
    ],
)
def test_author_cap_table(case: str, kw: dict[str, Any], cfg: Config, throttled: int) -> None:
    batch = [external(f"e{i}", age=20 - i) for i in range(10)]
    batch = [replace(a, pr=replace(a.pr, **kw)) for a in batch]
    kinds = [d.kind for d in decide(batch, cfg, CTX)]
    assert kinds.count(K.THROTTLED) == throttled


def test_author_cap_override() -> None:
    batch = [external(f"e{i}", age=20 - i) for i in range(9)]
    last = batch[-1]
    batch[-1] = replace(last, pr=replace(last.pr, labels=("triage/override-author-cap",)))
    assert decide(batch, CFG, CTX)[-1].kind is K.REVIEW


def ai_pr(pid: str, age: float, owner_name: str = "Alice Doe") -> Assessment:
    co = Trailer("Co-authored-by", f"{owner_name} <x@example.com>")
    return make(pid, age_days=age, **AGENT, trailers=(co,))


def test_ai_cap_one_per_accountable_human() -> None:
    batch = [
        ai_pr("a-new", 1),
        ai_pr("a-old", 9),
        ai_pr("b", 1, "Bob"),
        make("human-assisted", age_days=3, author="Alice Doe", trailers=(Trailer("Assisted-by", "x"),)),
    ]
    decisions = decide(batch, CFG, CTX)
    kinds = {a.pr.id: d.kind for a, d in zip(batch, decisions, strict=True)}
    assert kinds == {"a-new": K.THROTTLED, "a-old": K.REVIEW, "b": K.REVIEW, "human-assisted": K.THROTTLED}
    reason = decisions[0].reasons[0]
    assert reason.rule == "ai-cap" and "Alice Doe is accountable for 3 AI-assisted PRs" in reason.message


def test_ai_cap_ignores_non_ai_prs_and_can_be_raised_or_overridden() -> None:
    batch = [ai_pr("a1", 3), ai_pr("a2", 2), make("plain", author="Alice Doe")]
    assert [d.kind for d in decide(batch, CFG, CTX)] == [K.REVIEW, K.THROTTLED, K.REVIEW]
    cfg = Config(gates=GatesConfig(ai_pr_cap_per_human=2))
    assert [d.kind for d in decide(batch, cfg, CTX)] == [K.REVIEW, K.REVIEW, K.REVIEW]
    batch[1] = replace(batch[1], pr=replace(batch[1].pr, labels=("triage/override-ai-cap",)))
    assert [d.kind for d in decide(batch, CFG, CTX)] == [K.REVIEW, K.REVIEW, K.REVIEW]


def test_decide_keeps_order_and_is_pure() -> None:
    batch = [make("x", lines=5000), make("y"), make("z", draft=True)]
    first = decide(batch, CFG, CTX)
    assert [d.kind for d in first] == [K.NEEDS_SPLIT, K.REVIEW, K.SKIPPED]
    assert decide(batch, CFG, CTX) == first
    assert decide([], CFG, CTX) == ()


# --------------------------------------------------------- combine trivial PRs (issue #11, flood)


def _combine_notes(batch: list[Any], cfg: Config | None = None) -> dict[str, str]:
    cfg = cfg or Config()
    decisions = decide(batch, cfg, PolicyContext(NOW))
    return {
        a.pr.id: next(n.message for n in d.notes if n.rule == "combine-trivial")
        for a, d in zip(batch, decisions, strict=True)
        if any(n.rule == "combine-trivial" for n in d.notes)
    }


def _typo(pid: str, author: str = "typo-hunter", **kw: Any) -> Any:
    path = f"docs/{pid}.md"
    return make(
        pid, lines=1, files=(file(path, added=1, kind=FileKind.DOCS),), author=author, title="docs: fix typo", **kw
    )


def test_trivial_prs_of_one_author_get_one_note_each_naming_the_others() -> None:
    batch = [_typo(f"t{i}", age_days=5 - i) for i in range(3)] + [make("real", lines=40, author="typo-hunter")]
    notes = _combine_notes(batch)
    assert sorted(notes) == ["t0", "t1", "t2"]
    assert "one of 3 trivial docs PRs by typo-hunter (also t1, t2)" in notes["t0"]
    assert "one review instead of 3" in notes["t0"]
    decisions = decide(batch, Config(), PolicyContext(NOW))
    assert all(d.kind is DecisionKind.REVIEW for d in decisions)  # a note, never a gate
    assert [sum(n.rule == "combine-trivial" for n in d.notes) for d in decisions[:3]] == [1, 1, 1]


@pytest.mark.parametrize(
    ("case", "batch", "cfg", "noted"),
    [
        ("two-are-not-several", [_typo("a"), _typo("b")], Config(), 0),
        ("configurable-min", [_typo("a"), _typo("b")], Config(gates=GatesConfig(combine_trivial_min=2)), 2),
        ("switched-off", [_typo(f"t{i}") for i in range(4)], Config(gates=GatesConfig(combine_trivial_min=0)), 0),
        ("different-authors", [_typo("a", "ann"), _typo("b", "bob"), _typo("c", "cy")], Config(), 0),
        ("drafts-do-not-count", [_typo("a"), _typo("b"), _typo("c", draft=True)], Config(), 0),
        (
            "formatting-of-source-files",
            [make(f"f{i}", lines=2, author="fmt", title="style: fix formatting") for i in range(3)],
            Config(),
            3,
        ),
        (
            "same-file-kind-only",
            [_typo("a"), _typo("b"), make("c", lines=2, author="typo-hunter", title="fix typo in a comment")],
            Config(),
            0,
        ),
        (
            "small-but-not-cosmetic",
            [make(f"s{i}", lines=2, author="dev", title="Handle the empty list") for i in range(3)],
            Config(),
            0,
        ),
    ],
)
def test_combine_trivial_table(case: str, batch: list[Any], cfg: Config, noted: int) -> None:
    assert len(_combine_notes(batch, cfg)) == noted, case


def test_bots_behind_one_human_are_one_author_for_the_combine_note() -> None:
    carol = (Trailer("Co-authored-by", "Carol <carol@example.com>"),)
    batch = [
        _typo("bot-a", "copilot-swe-agent", trailers=carol, author_association="NONE"),
        _typo("bot-b", "renovate[bot]", trailers=carol, author_association="NONE"),
        _typo("own", "Carol"),
    ]
    notes = _combine_notes(batch)
    assert sorted(notes) == ["bot-a", "bot-b", "own"]
    assert "by carol" in notes["own"]
