"""The accountable human of a PR: `PullRequest + ParsedDiff + CODEOWNERS -> Owner | None`.

DESIGN.md §4: every queue item carries one human's name, never a bot's. The order is

1. the author, when the author is a human (`source="author"`);
2. for a bot or agent author (or a PR whose source carries no author, like a bare patch): the
   first human named by `Co-authored-by:`, then `Signed-off-by:`, then a requester trailer
   (`[owners] requester_trailers`, default `Requested-by:`). Bot and agent identities in those
   trailers are skipped. Names become logins through `[owners] aliases` (`email=login` or
   `name=login`) or GitHub's noreply address (`123+login@users.noreply.github.com`); otherwise
   the trailer's name stands as given;
3. the CODEOWNERS owner of the largest changed area: changed files are grouped by the rule that
   owns them in the *base* branch's CODEOWNERS, weighed by changed lines (generated, vendored and
   lockfile lines excluded; every file weighs at least 1), and the first human or team owner of
   the heaviest group is taken (`@org/team` stays a team: a team is accountable as a group);
4. nobody: `Owner` is None and the explanation says what was tried, for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.config import OwnersConfig
from triage.errors import ConfigError
from triage.models import Owner, ParsedDiff, PullRequest
from triage.policy.bots import is_bot_author, is_bot_login, trailer_is_bot
from triage.policy.codeowners import CodeOwners, Rule

__all__ = ["OwnerLookup", "aliases", "find_owner", "login_for"]

_NOREPLY = re.compile(r"(?:\d+\+)?(?P<login>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)@users\.noreply\.github\.com")


@dataclass(frozen=True, slots=True)
class OwnerLookup:
    """The owner found, or None with `explanation` saying why nobody could be named."""

    owner: Owner | None
    explanation: str = ""


def aliases(cfg: OwnersConfig) -> dict[str, str]:
    """`[owners] aliases` as {lower-case email or name: login}."""
    table: dict[str, str] = {}
    for entry in cfg.aliases:
        key, sep, login = entry.rpartition("=")
        if not sep or not key.strip() or not login.strip():
            raise ConfigError(f"owners.aliases: expected 'email=login' or 'name=login', got {entry!r}")
        table[key.strip().lower()] = login.strip().lstrip("@")
    return table


def login_for(name: str, email: str | None, alias_table: dict[str, str]) -> tuple[str, str]:
    """(login, how it was found) for a person named in a trailer or a CODEOWNERS email."""
    if email and email.lower() in alias_table:
        return alias_table[email.lower()], f"alias for {email}"
    if name and name.lower() in alias_table:
        return alias_table[name.lower()], f"alias for {name}"
    if email:
        m = _NOREPLY.fullmatch(email.strip())
        if m:
            return m.group("login"), f"GitHub noreply address {email}"
    if name:
        return name, "name as written (no alias configured)"
    return email or "", "email as written (no alias configured)"


def _from_trailers(pr: PullRequest, cfg: OwnersConfig, table: dict[str, str]) -> Owner | None:
    requester = {k.strip().lower() for k in cfg.requester_trailers}
    order: tuple[tuple[str, frozenset[str]], ...] = (
        ("co-authored-by", frozenset({"co-authored-by"})),
        ("signed-off-by", frozenset({"signed-off-by"})),
        ("requester", frozenset(requester)),
    )
    for source, keys in order:
        for trailer in pr.trailers:
            if trailer.key.strip().lower() not in keys or trailer_is_bot(trailer, cfg):
                continue
            login, how = login_for(trailer.name, trailer.email, table)
            if login and not is_bot_login(login, cfg):
                return Owner(login, source, f"{trailer.key}: {trailer.value} ({how})")
    return None


def _owner_login(owner: str, table: dict[str, str]) -> str:
    if owner.startswith("@"):
        return owner if "/" in owner else owner[1:]
    return login_for("", owner, table)[0]


def _from_codeowners(
    diff: ParsedDiff, cfg: OwnersConfig, codeowners: CodeOwners, path: str, table: dict[str, str]
) -> Owner | None:
    weights: dict[int, tuple[int, int, Rule]] = {}  # rule line -> (weight, first file index, rule)
    total = 0
    for index, f in enumerate(diff.files):
        weight = max(1, f.changed if f.kind.counts else 0)
        total += weight
        rule = codeowners.rule_for(f.path)
        if rule is None or not rule.owners:
            continue
        w, first, _ = weights.get(rule.line, (0, index, rule))
        weights[rule.line] = (w + weight, first, rule)
    for weight, _, rule in sorted(weights.values(), key=lambda t: (-t[0], t[1])):
        for owner in rule.owners:
            login = _owner_login(owner, table)
            if login and not is_bot_login(login, cfg):
                detail = f"{path}:{rule.line} '{rule.pattern}' owns {weight} of {total} changed lines"
                return Owner(login, "codeowners", detail)
    return None


def find_owner(
    pr: PullRequest,
    diff: ParsedDiff,
    cfg: OwnersConfig,
    codeowners: CodeOwners | None,
    codeowners_path: str | None = None,
) -> OwnerLookup:
    """The accountable human for one PR (module docstring for the order)."""
    author_is_bot = is_bot_author(pr, cfg)
    if pr.author.strip() and not author_is_bot:
        return OwnerLookup(Owner(pr.author.strip(), "author", "the PR author"))
    table = aliases(cfg)
    owner = _from_trailers(pr, cfg, table)
    if owner is not None:
        return OwnerLookup(owner)
    if codeowners is not None:
        owner = _from_codeowners(diff, cfg, codeowners, codeowners_path or "CODEOWNERS", table)
        if owner is not None:
            return OwnerLookup(owner)
    who = f"author {pr.author} is a bot or agent" if author_is_bot else "no author is known"
    keys = ", ".join(("Co-authored-by", "Signed-off-by", *cfg.requester_trailers))
    if codeowners is None:
        where = "the base branch has no CODEOWNERS file"
    else:
        where = f"{codeowners_path or 'CODEOWNERS'} names no human owner for the changed files"
    return OwnerLookup(None, f"{who}, no human is named in {keys} trailers, and {where}")
