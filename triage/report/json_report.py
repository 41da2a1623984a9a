"""queue.json: the versioned, machine-readable report (DESIGN.md §3).

Input: `Queue`. Output: a plain dict whose key order is fixed by construction (never by the
order records happen to be built in), so two runs over the same input produce byte-identical
files and diffs between runs show only what changed. `triage/schema/queue.schema.json`
describes the document; any field added here must be added there, and the tests validate every
sample queue against it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from typing import Any

from triage.models import (
    ClusterInfo,
    FileDiff,
    Flag,
    FunctionChange,
    History,
    Metrics,
    Queue,
    QueueItem,
    Reason,
    Review,
    Risk,
)
from triage.report.summary import LLMUsage, QueueView, ordered_items, queue_view
from triage.report.text import clean_tree
from triage.timeutil import iso_z

SCHEMA_VERSION = 2  # 2: `duplicate` decision, `cluster` per item, `summary.clusters`


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a `Z`, second precision: what GitHub and most tools print."""
    if value is None:
        return None
    return iso_z(value)


def num(value: float, places: int = 4) -> float | None:
    """A float rounded for reading; NaN and infinities (not valid JSON) become null."""
    if not math.isfinite(value):
        return None
    return round(float(value), places)


def _reason(reason: Reason) -> dict[str, Any]:
    return {"rule": reason.rule, "message": reason.message, "override_label": reason.override_label}


def _term(name: str, value: float, contribution: float, detail: str) -> dict[str, Any]:
    """A named contribution to a score (risk factor or priority term): same shape for both."""
    return {"name": name, "value": num(value), "contribution": num(contribution), "detail": detail}


def _risk(risk: Risk) -> dict[str, Any]:
    return {
        "score": num(risk.score),
        "level": risk.level.value,
        "factors": [_term(f.name, f.value, f.contribution, f.detail) for f in risk.factors],
    }


def _function(fn: FunctionChange) -> dict[str, Any]:
    return {
        "path": fn.path,
        "name": fn.name,
        "language": fn.language,
        "line": fn.line,
        "cyclomatic_before": fn.cyclomatic_before,
        "cyclomatic_after": fn.cyclomatic_after,
        "cognitive_before": fn.cognitive_before,
        "cognitive_after": fn.cognitive_after,
        "estimated": fn.estimated,
    }


def _history(history: History | None) -> dict[str, Any] | None:
    if history is None:
        return None
    return {
        "author_changes": history.author_changes,
        "author_subsystem_changes": history.author_subsystem_changes,
        "files": [
            {
                "path": h.path,
                "age_days": None if h.age_days is None else num(h.age_days, 2),
                "prior_changes": h.prior_changes,
                "authors": h.authors,
            }
            for h in history.files
        ],
    }


def _metrics(m: Metrics) -> dict[str, Any]:
    return {
        "lines_added": m.lines_added,
        "lines_deleted": m.lines_deleted,
        "changed_lines": m.changed_lines,
        "files": m.files,
        "directories": m.directories,
        "subsystems": list(m.subsystems),
        "entropy": num(m.entropy),
        "size_bucket": m.size_bucket.value,
        "excluded_lines": m.excluded_lines,
        "source_lines": m.source_lines,
        "test_lines": m.test_lines,
        "docs_lines": m.docs_lines,
        "languages": list(m.languages),
        "kinds": {kind: count for kind, count in m.kinds},
        "functions": [_function(fn) for fn in m.functions],
        "complexity_delta": m.complexity_delta,
        "max_cognitive": m.max_cognitive,
        "history": _history(m.history),
    }


def _flag(flag: Flag) -> dict[str, Any]:
    return {
        "kind": flag.kind.value,
        "severity": flag.severity.value,
        "file": flag.file,
        "line": flag.line,
        "evidence": flag.evidence,
        "source": flag.source,
    }


def _review(r: Review) -> dict[str, Any]:
    return {
        "source": r.source.value,
        "summary": r.summary,
        "change_type": r.change_type.value if r.change_type is not None else None,
        "description_matches": r.description_matches,
        "flags": [_flag(f) for f in r.flags],
        "confidence": None if r.confidence is None else num(r.confidence),
        "model": r.model,
        "prompt_version": r.prompt_version,
        "tokens_in": r.tokens_in,
        "tokens_out": r.tokens_out,
        "cached": r.cached,
        "omitted": list(r.omitted),
        "error": r.error,
        "mode": r.mode,
        "requests": r.requests,
        "fault": r.fault,
    }


def _file(f: FileDiff) -> dict[str, Any]:
    return {
        "path": f.path,
        "old_path": f.old_path,
        "change": f.change.value,
        "kind": f.kind.value,
        "language": f.language,
        "added": f.added,
        "deleted": f.deleted,
        "binary": f.binary,
    }


def item_to_json(item: QueueItem) -> dict[str, Any]:
    """One PR of the queue as a plain dict, in the schema's key order, every string cleaned
    (controls shown, credentials masked: see `report.text.clean`)."""
    data: dict[str, Any] = clean_tree(_item_fields(item))
    return data


def _item_fields(item: QueueItem) -> dict[str, Any]:
    pr = item.pr
    a = item.assessment
    owner = item.decision.owner
    return {
        "id": pr.id,
        "number": pr.number,
        "title": pr.title,
        "author": pr.author,
        "url": pr.url,
        "source": pr.source,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "draft": pr.draft,
        "decision": item.decision.kind.value,
        "reasons": [_reason(r) for r in item.decision.reasons],
        "notes": [_reason(r) for r in item.decision.notes],
        "rank": item.rank,
        "position": item.position,
        "priority": {
            "score": num(item.priority.score),
            "terms": [_term(t.name, t.value, t.contribution, t.detail) for t in item.priority.terms],
        },
        "owner": None
        if owner is None
        else {
            "login": owner.login,
            "source": owner.source,
            "detail": owner.detail,
        },
        "estimated_review_minutes": item.estimated_review_minutes,
        "risk": _risk(a.risk),
        "metrics": _metrics(a.metrics),
        "review": _review(a.review),
        "labels": list(pr.labels),
        "set_labels": list(item.decision.labels),
        "linked_issues": list(pr.linked_issues),
        "errors": list(item.errors),
        "warnings": list(a.diff.warnings),
        "files": [_file(f) for f in a.diff.files],
        "cluster": _cluster(item.decision.cluster),
    }


def _cluster(info: ClusterInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "id": info.id,
        "canonical": info.canonical,
        "role": info.role.value,
        "members": list(info.members),
        "evidence": list(info.evidence),
        "rule": info.rule,
    }


def summary_to_json(view: QueueView) -> dict[str, Any]:
    oldest = view.oldest_waiting
    return {
        "received": view.received,
        "queued": view.queued,
        "shed": view.shed,
        "errors": view.errors,
        "degraded": {"total": view.degraded.total, **dict(view.degraded.causes())},
        "by_decision": dict(view.by_decision),
        "shed_by_rule": dict(view.shed_by_rule),
        "reviewer_hours_needed": num(view.hours_needed, 2),
        "reviewer_hours_queued": num(view.hours_queued, 2),
        "reviewer_hours_available": num(view.hours_available, 2),
        "oldest_waiting": None
        if oldest is None
        else {
            "id": oldest.id,
            "title": oldest.title,
            "created_at": iso(oldest.created_at),
            "age_days": num(oldest.age_days, 1),
        },
        "owner_load": [
            {"login": o.login, "queued": o.queued, "waiting": o.waiting, "minutes_queued": o.minutes_queued}
            for o in view.owner_load
        ],
        "clusters": {
            "count": len(view.clusters),
            "duplicates_shed": view.duplicates_shed,
            "review_hours_saved": num(view.minutes_saved / 60, 2),
            "clusters": [
                {
                    "id": c.id,
                    "canonical": c.canonical,
                    "canonical_title": c.canonical_title,
                    "kind": c.kind,
                    "members": [{"id": m, "role": role, "decision": decision} for m, role, decision in c.members],
                    "minutes_saved": c.minutes_saved,
                }
                for c in view.clusters
            ],
        },
    }


def llm_to_json(usage: LLMUsage) -> dict[str, Any]:
    """The queue's LLM line as data (`triage.report.summary.LLMUsage`)."""
    return {
        "used": usage.used,
        "models": list(usage.models),
        "modes": dict(usage.modes),
        "prs_asked": usage.asked,
        "reviews_valid": usage.valid,
        "cached": usage.cached,
        "fallbacks": usage.fallbacks,
        "failures": dict(usage.failures),
        "requests": usage.requests,
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
    }


def to_json(queue: Queue) -> dict[str, Any]:
    """The whole queue.json document as a dict (items in report order)."""
    return {**_head(queue), "items": [item_to_json(item) for item in ordered_items(queue)]}


def _head(queue: Queue) -> dict[str, Any]:
    """Everything of queue.json but the items (which come last), every string cleaned."""
    data: dict[str, Any] = clean_tree(_head_fields(queue))
    return data


def _head_fields(queue: Queue) -> dict[str, Any]:
    cap = queue.capacity
    view = queue_view(queue)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": iso(queue.generated_at),
        "review_source": queue.review_source,
        "capacity": {
            "reviewers": cap.reviewers,
            "period_days": cap.period_days,
            "minutes_available": cap.minutes_available,
            "minutes_needed": cap.minutes_needed,
            "minutes_queued": cap.minutes_queued,
        },
        "config": _plain(queue.config),
        "summary": summary_to_json(view),
        "risk_model": {"description": queue.risk_model, "sha256": queue.risk_model_sha256},
        "llm": llm_to_json(view.llm),
    }


def _plain(value: Any) -> Any:
    """The effective config as JSON data: tuples become lists, keys stay in the config's order."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return num(value, 6)
    return value


def _encode(value: Any) -> str:
    # `allow_nan=False`: a NaN that slipped through is a bug, not output.
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


def iter_json(queue: Queue) -> Iterator[str]:
    """queue.json's text in pieces, one item at a time, byte for byte what `json.dumps` of
    `to_json` gives with indent 2: a batch of thousands of items is written without its whole
    document (or its whole text) ever being in memory."""
    head = _encode(_head(queue))
    yield head.removesuffix("\n}") + ',\n  "items": ['
    first = True
    for item in ordered_items(queue):
        text = _encode(item_to_json(item)).replace("\n", "\n    ")
        yield ("\n    " if first else ",\n    ") + text
        first = False
    yield "]\n}\n" if first else "\n  ]\n}\n"


def dumps(queue: Queue) -> str:
    """queue.json's text."""
    return "".join(iter_json(queue))


def load_schema() -> dict[str, Any]:
    """The published JSON Schema for queue.json (shipped as package data)."""
    text = resources.files("triage").joinpath("schema/queue.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
