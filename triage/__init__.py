"""pr-triage: backpressure with accountability for pull requests.

The public API is the pipeline (`run_pipeline`), its records (`triage.models`) and the config
(`triage.config.load`). Everything else is an implementation detail of a stage.
"""

from triage.config import Config, load
from triage.errors import TriageError
from triage.models import (
    Assessment,
    Decision,
    DecisionKind,
    Metrics,
    ParsedDiff,
    PullRequest,
    Queue,
    QueueItem,
    Review,
    Risk,
)

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "Config",
    "Decision",
    "DecisionKind",
    "Metrics",
    "ParsedDiff",
    "PullRequest",
    "Queue",
    "QueueItem",
    "Review",
    "Risk",
    "TriageError",
    "__version__",
    "load",
]
