"""Progress bars for the command line: the one place that builds them.

Stages take a progress callback and never draw anything themselves (STYLE: progress at the
edge); the subcommands wrap a rich bar around the callback when stderr is a terminal. The bars
are transient, on stderr, so reports on stdout and CI logs stay clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeElapsedColumn

from triage.models import PullRequest
from triage.report.text import clean

__all__ = ["describe", "pr_bar", "step_bar"]


def _bar(*leading: ProgressColumn) -> Progress:
    return Progress(
        *leading,
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def describe(label: str, pr: PullRequest) -> str:
    """The bar's description for `pr`. It is rich markup: a PR id is untrusted text (`[/x]`
    would raise, `[link=...]` would make a hyperlink), so it is escaped and its controls made
    visible."""
    return f"{label} {escape(clean(pr.id))}"


@contextmanager
def pr_bar(label: str) -> Iterator[Callable[[PullRequest], None]]:
    """A spinner and count of the PRs done so far (the total is not known in advance: inputs
    are streamed), naming the PR being triaged."""
    from rich.progress import SpinnerColumn

    with _bar(SpinnerColumn()) as bar:
        task = bar.add_task(label, total=None)

        def advance(pr: PullRequest) -> None:
            bar.update(task, advance=1, description=describe(label, pr))

        yield advance


@contextmanager
def step_bar() -> Iterator[Callable[[str, int, int], None]]:
    """One bar per named step, for (step, done, total) callbacks: a long command with several
    stages of known size (eval, calibrate) shows each as it goes."""
    with _bar() as bar:
        tasks: dict[str, TaskID] = {}

        def step(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        yield step
