"""The error family. Library code raises these; only `triage.cli` prints them and exits.

Each error knows its exit code and its one-line, user-facing message, which names the input and
what is wrong with it (the habit of click's `ClickException`). Errors from dependencies are
translated at the boundary where they happen, with `raise ... from exc`.
"""

from __future__ import annotations


class TriageError(Exception):
    """Base class: something the user should read, with the exit code the CLI should use."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message.splitlines()[0] if self.message else type(self).__name__


class UsageError(TriageError):
    """Bad command line: wrong flags, missing inputs."""


class ConfigError(TriageError):
    """A config file or environment value is wrong (unknown key, wrong type, bad value)."""


class InputError(TriageError):
    """An input cannot be read at all (missing path, not a git repository, bad range).

    Note the difference with a PR that cannot be parsed: that becomes an item with an error in
    the queue, never an exception that stops the batch.
    """


class LLMError(TriageError):
    """The LLM endpoint failed after retries. Caught per PR by the review stage."""

    exit_code = 1


class GitHubError(TriageError):
    """The GitHub API failed after retries, or refused (bad token, missing permission)."""

    exit_code = 1


class GateFailed(TriageError):
    """A gate that the config marks as failing CI fired (`[ci] fail_on`)."""

    exit_code = 1
