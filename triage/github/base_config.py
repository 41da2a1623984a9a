"""The base branch's config files, for `triage ci` and `triage github` (issue 12 item 4).

Input: the command's environment (the event payload, `GITHUB_REPOSITORY`, the API URL and
token) and the working directory. Output: a `BaseFiles` reader for `triage.config.load`, which
then takes the policy from the base branch instead of from a `.triage.toml` that the PR under
review may have edited (a `pull_request` workflow checks out the PR's merge commit).

Where the base revision is: the event's `pull_request.base.sha` for `triage ci`; the
repository's default branch for `triage github`. Where the files are read from: the local git
checkout when it has that commit (`git cat-file blob <sha>:.triage.toml`, no request spent),
else the contents API at that sha. A failure to read them is an error, never a fallback to
the working-directory file: failing open here would let a PR choose its own gates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from triage.errors import InputError, UsageError
from triage.github.client import DEFAULT_API_URL, GitHubClient
from triage.gitrepo import GitRepo

__all__ = ["BaseConfigFiles", "for_ci", "for_repository"]


class BaseConfigFiles:
    """Reads files at the repository root of one base revision; a `triage.config.BaseFiles`.

    `ref` may be None (the default branch, resolved on first use). The git checkout is used
    when it holds the revision; otherwise one contents request per file name.
    """

    def __init__(
        self,
        repo: str,
        ref: str | None,
        *,
        api_url: str,
        token: str | None,
        workdir: str | Path = ".",
        http_client: httpx.Client | None = None,
    ) -> None:
        self.repo = repo
        self.ref = ref
        self._api_url = api_url
        self._token = token
        self._workdir = Path(workdir)
        self._http_client = http_client
        self._git: GitRepo | bool | None = False  # False: not looked for yet

    @property
    def label(self) -> str:
        """How messages name the base revision."""
        return f"base {self.ref[:12]}" if self.ref else "base branch"

    def _client(self) -> GitHubClient:
        return GitHubClient(self._api_url, self._token, http_client=self._http_client)

    def _checkout(self, ref: str) -> GitRepo | None:
        if self._git is False:
            try:
                repo = GitRepo(self._workdir)
            except InputError:
                repo = None
            self._git = repo if repo is not None and repo.has_revision(ref) else None
        return self._git if isinstance(self._git, GitRepo) else None

    def resolve(self) -> str:
        """The base revision as a sha (the default branch's head for `triage github`)."""
        if self.ref is None:
            with self._client() as client:
                branch = str(client.repository(self.repo).get("default_branch") or "main")
                self.ref = client.resolve_sha(self.repo, branch)
        return self.ref

    def __call__(self, name: str) -> bytes | None:
        ref = self.resolve()
        git = self._checkout(ref)
        if git is not None:
            return git.show(ref, name)
        with self._client() as client:
            return client.file_contents(self.repo, name, ref)


def _api_url(environ: Mapping[str, str], api_url: str | None) -> str:
    return api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL


def for_ci(
    environ: Mapping[str, str], *, api_url: str | None = None, http_client: httpx.Client | None = None
) -> BaseConfigFiles:
    """The base of the event's PR (`pull_request.base.sha`)."""
    from triage.github.ci import load_event

    event = load_event(environ)
    pr: dict[str, Any] = event["pull_request"]
    base = pr.get("base")
    ref = (base.get("sha") or base.get("ref")) if isinstance(base, dict) else None
    repo = environ.get("GITHUB_REPOSITORY") or (event.get("repository") or {}).get("full_name")
    if not repo or not isinstance(ref, str) or not ref:
        raise UsageError(f"{environ.get('GITHUB_EVENT_PATH')}: the event names no repository or base revision")
    workdir = environ.get("GITHUB_WORKSPACE") or "."
    return BaseConfigFiles(
        str(repo),
        ref,
        api_url=_api_url(environ, api_url),
        token=environ.get("GITHUB_TOKEN"),
        workdir=workdir,
        http_client=http_client,
    )


def for_repository(
    environ: Mapping[str, str], repo: str, *, api_url: str | None = None, http_client: httpx.Client | None = None
) -> BaseConfigFiles:
    """The default branch of `repo` (`triage github`)."""
    return BaseConfigFiles(
        repo,
        None,
        api_url=_api_url(environ, api_url),
        token=environ.get("GITHUB_TOKEN"),
        workdir=environ.get("GITHUB_WORKSPACE") or ".",
        http_client=http_client,
    )
