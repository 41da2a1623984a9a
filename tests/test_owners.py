"""Bot/agent detection, AI-assistance detection and the accountable-owner order (DESIGN.md §4)."""

from __future__ import annotations

import pytest
from factories import file, make

from triage.config import OwnersConfig
from triage.errors import ConfigError
from triage.models import FileKind, PullRequest, Trailer
from triage.policy.bots import ai_assistance, is_bot_author, is_bot_identity, is_bot_login
from triage.policy.codeowners import CodeOwners
from triage.policy.owners import find_owner, login_for

CFG = OwnersConfig()
CO = Trailer("Co-authored-by", "Alice Doe <alice@example.com>")


def pr(author: str = "alice", **kw: object) -> PullRequest:
    return PullRequest(id="1", title="t", author=author, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- bots


@pytest.mark.parametrize(
    ("login", "bot"),
    [
        ("dependabot[bot]", True),
        ("some-app[bot]", True),
        ("copilot-swe-agent", True),
        ("Copilot", True),
        ("devin-ai-integration[bot]", True),
        ("openhands-agent", True),
        ("claude", True),
        ("codex", True),
        ("alice", False),
        ("claudette", False),
        ("", False),
    ],
)
def test_bot_logins(login: str, bot: bool) -> None:
    assert is_bot_login(login, CFG) is bot


def test_configured_bots_and_github_user_type() -> None:
    cfg = OwnersConfig(bots=("release-robot",))
    assert is_bot_author(pr("Release-Robot"), cfg)
    assert not is_bot_author(pr("release-robot"), CFG)
    assert is_bot_author(pr("ci-user", author_is_bot=True), CFG)


@pytest.mark.parametrize(
    ("name", "email", "bot"),
    [
        ("Claude", "noreply@anthropic.com", True),
        ("Someone", "noreply@anthropic.com", True),
        ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com", True),
        ("Copilot", "198982749+Copilot@users.noreply.github.com", True),
        ("Alice Doe", "alice@example.com", False),
        ("Alice", "123+alice@users.noreply.github.com", False),
    ],
)
def test_bot_identities_in_trailers(name: str, email: str, bot: bool) -> None:
    assert is_bot_identity(name, email, CFG) is bot


# ----------------------------------------------------------------------------- AI assistance


def test_human_pr_without_markers_is_not_ai_assisted() -> None:
    assert ai_assistance(pr(body="Fixes #1", trailers=(CO,)), CFG) is None


def test_bot_author_is_ai_assisted() -> None:
    assert ai_assistance(pr("copilot-swe-agent"), CFG) == "authored by bot/agent account copilot-swe-agent"


@pytest.mark.parametrize("key", ["Assisted-by", "generated-by", "AI-assisted"])
def test_assisted_trailers(key: str) -> None:
    why = ai_assistance(pr(trailers=(Trailer(key, "Claude:claude-opus-4"),)), CFG)
    assert why == f"declares AI help: {key}: Claude:claude-opus-4"


def test_configured_assisted_trailer() -> None:
    cfg = OwnersConfig(assisted_trailers=("Made-with",))
    assert ai_assistance(pr(trailers=(Trailer("Made-with", "Cursor"),)), cfg) is not None
    assert ai_assistance(pr(trailers=(Trailer("Assisted-by", "x"),)), cfg) is None


def test_agent_co_author_makes_it_ai_assisted() -> None:
    claude = Trailer("Co-authored-by", "Claude <noreply@anthropic.com>")
    assert ai_assistance(pr(trailers=(CO, claude)), CFG) == ("co-authored by an agent: Claude <noreply@anthropic.com>")


def test_body_marker_makes_it_ai_assisted() -> None:
    body = "Adds X.\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)\n"
    assert "🤖 generated with" in (ai_assistance(pr(body=body), CFG) or "").lower()


def test_commit_message_marker_makes_it_ai_assisted() -> None:
    why = ai_assistance(pr(commit_messages=("fix x\n\nGenerated with Claude Code",)), CFG)
    assert why is not None and why.startswith("commit message carries the agent marker")


# ----------------------------------------------------------------------------- owners


def test_human_author_is_the_owner() -> None:
    found = find_owner(pr("bob", trailers=(CO,)), make().diff, CFG, None)
    assert (found.owner.login, found.owner.source) == ("bob", "author")  # type: ignore[union-attr]


def test_bot_author_with_co_author_name() -> None:
    found = find_owner(pr("coding-agent[bot]", trailers=(CO,)), make().diff, CFG, None)
    assert found.owner is not None
    assert (found.owner.login, found.owner.source) == ("Alice Doe", "co-authored-by")


def test_co_author_alias_by_email() -> None:
    cfg = OwnersConfig(aliases=("alice@example.com=alice-gh",))
    found = find_owner(pr("copilot-swe-agent", trailers=(CO,)), make().diff, cfg, None)
    assert found.owner is not None and found.owner.login == "alice-gh"
    assert "alias for alice@example.com" in found.owner.detail


def test_co_author_github_noreply_address() -> None:
    t = Trailer("Co-authored-by", "Bob <4242+bobby@users.noreply.github.com>")
    found = find_owner(pr("copilot-swe-agent", trailers=(t,)), make().diff, CFG, None)
    assert found.owner is not None and found.owner.login == "bobby"


def test_bot_co_authors_are_skipped_then_signed_off_by() -> None:
    trailers = (
        Trailer("Co-authored-by", "Claude <noreply@anthropic.com>"),
        Trailer("Signed-off-by", "dependabot[bot] <support@github.com>"),
        Trailer("Signed-off-by", "Carol <carol@example.com>"),
    )
    found = find_owner(pr("devin-ai-integration[bot]", trailers=trailers), make().diff, CFG, None)
    assert found.owner is not None
    assert (found.owner.login, found.owner.source) == ("Carol", "signed-off-by")


def test_co_author_beats_signed_off_by_whatever_the_order() -> None:
    trailers = (Trailer("Signed-off-by", "Carol <carol@example.com>"), CO)
    found = find_owner(pr("codex", trailers=trailers), make().diff, CFG, None)
    assert found.owner is not None and found.owner.source == "co-authored-by"


def test_requester_trailer() -> None:
    cfg = OwnersConfig(requester_trailers=("Requested-by", "On-behalf-of"))
    t = Trailer("On-behalf-of", "Dave <dave@example.com>")
    found = find_owner(pr("openhands-agent", trailers=(t,)), make().diff, cfg, None)
    assert found.owner is not None and (found.owner.login, found.owner.source) == ("Dave", "requester")


def test_pr_without_author_uses_trailers() -> None:
    found = find_owner(pr("", trailers=(CO,)), make().diff, CFG, None)
    assert found.owner is not None and found.owner.source == "co-authored-by"


def test_codeowners_owner_of_the_largest_area() -> None:
    co = CodeOwners.parse("/api/ @api-lead\n/web/ @my-org/web-team\n")
    a = make(files=(file("api/a.py", 30), file("web/a.ts", 100), file("web/b.ts", 5)))
    found = find_owner(pr("renovate[bot]"), a.diff, CFG, co, ".github/CODEOWNERS")
    assert found.owner is not None
    assert (found.owner.login, found.owner.source) == ("@my-org/web-team", "codeowners")
    assert found.owner.detail == ".github/CODEOWNERS:2 '/web/' owns 105 of 135 changed lines"


def test_codeowners_generated_lines_do_not_weigh() -> None:
    co = CodeOwners.parse("/api/ @api-lead\n/gen/ @gen-owner\n")
    a = make(files=(file("api/a.py", 10), file("gen/big.py", 5000, kind=FileKind.GENERATED)))
    found = find_owner(pr("renovate[bot]"), a.diff, CFG, co)
    assert found.owner is not None and found.owner.login == "api-lead"


def test_codeowners_bot_owners_are_skipped() -> None:
    co = CodeOwners.parse("* @release-robot @human\n")
    cfg = OwnersConfig(bots=("release-robot",))
    found = find_owner(pr("renovate[bot]"), make().diff, cfg, co)
    assert found.owner is not None and found.owner.login == "human"


def test_codeowners_email_owner_maps_through_aliases() -> None:
    co = CodeOwners.parse("* lead@example.com\n")
    cfg = OwnersConfig(aliases=("lead@example.com=the-lead",))
    found = find_owner(pr("renovate[bot]"), make().diff, cfg, co)
    assert found.owner is not None and found.owner.login == "the-lead"


def test_unowned_files_give_no_owner() -> None:
    co = CodeOwners.parse("/docs/ @writer\n")
    found = find_owner(pr("renovate[bot]"), make().diff, CFG, co, "CODEOWNERS")
    assert found.owner is None
    assert found.explanation == (
        "author renovate[bot] is a bot or agent, no human is named in Co-authored-by, "
        "Signed-off-by, Requested-by trailers, and CODEOWNERS names no human owner for the changed files"
    )


def test_no_codeowners_file_explained() -> None:
    found = find_owner(pr("coding-agent[bot]"), make().diff, CFG, None)
    assert found.owner is None and found.explanation.endswith("the base branch has no CODEOWNERS file")


def test_bad_alias_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"owners\.aliases: expected 'email=login'"):
        find_owner(pr("codex", trailers=(CO,)), make().diff, OwnersConfig(aliases=("nonsense",)), None)


def test_login_for_falls_back_to_the_name() -> None:
    assert login_for("Eve", "eve@corp.example", {}) == ("Eve", "name as written (no alias configured)")
