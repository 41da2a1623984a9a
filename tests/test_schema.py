"""queue.schema.json: valid draft 2020-12, shipped with the package, and strict enough that the
common mistakes (missing field, unknown field, wrong enum value, rank on a shed item) fail."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from report_samples import empty_queue, sample_queue

import triage
from triage.report import load_schema, to_json

SCHEMA_FILE = Path(triage.__file__).parent / "schema" / "queue.schema.json"


def validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_schema_is_valid_draft_2020_12_and_shipped_as_package_data() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    pyproject = (Path(triage.__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"schema/*.json"' in pyproject


@pytest.mark.parametrize("source", ["heuristic", "llm", "unavailable", "mixed"])
def test_sample_queues_validate(source: str) -> None:
    validator().validate(to_json(sample_queue(source)))


def test_empty_queue_validates() -> None:
    validator().validate(to_json(empty_queue()))


def _item(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(i for i in doc["items"] if i["id"] == pid)


def _drop_title(doc: dict[str, Any]) -> None:
    del doc["items"][0]["title"]


def _extra_item_field(doc: dict[str, Any]) -> None:
    doc["items"][0]["titel"] = "typo"


def _bad_decision(doc: dict[str, Any]) -> None:
    doc["items"][0]["decision"] = "approve"


def _bad_risk_level(doc: dict[str, Any]) -> None:
    doc["items"][0]["risk"]["level"] = "severe"


def _risk_out_of_range(doc: dict[str, Any]) -> None:
    doc["items"][0]["risk"]["score"] = 1.5


def _bad_flag_kind(doc: dict[str, Any]) -> None:
    _item(doc, "p2")["review"]["flags"][0]["kind"] = "typo"


def _bad_severity(doc: dict[str, Any]) -> None:
    _item(doc, "p2")["review"]["flags"][0]["severity"] = "urgent"


def _bad_review_source(doc: dict[str, Any]) -> None:
    doc["items"][0]["review"]["source"] = "gpt"


def _rank_on_shed_item(doc: dict[str, Any]) -> None:
    _item(doc, "p4")["rank"] = 3


def _no_rank_on_review_item(doc: dict[str, Any]) -> None:
    _item(doc, "p1")["rank"] = None


def _zero_rank(doc: dict[str, Any]) -> None:
    _item(doc, "p1")["rank"] = 0


def _wrong_version(doc: dict[str, Any]) -> None:
    doc["schema_version"] = 1


def _local_time(doc: dict[str, Any]) -> None:
    doc["generated_at"] = "2026-11-29 12:00"


def _missing_capacity_field(doc: dict[str, Any]) -> None:
    del doc["capacity"]["minutes_available"]


def _negative_lines(doc: dict[str, Any]) -> None:
    doc["items"][0]["metrics"]["lines_added"] = -1


def _owner_without_login(doc: dict[str, Any]) -> None:
    doc["items"][0]["owner"] = {"source": "author", "detail": ""}


def _extra_top_level(doc: dict[str, Any]) -> None:
    doc["extra"] = True


def _string_errors(doc: dict[str, Any]) -> None:
    doc["items"][0]["errors"] = "boom"


@pytest.mark.parametrize(
    "breaks",
    [
        _drop_title,
        _extra_item_field,
        _bad_decision,
        _bad_risk_level,
        _risk_out_of_range,
        _bad_flag_kind,
        _bad_severity,
        _bad_review_source,
        _rank_on_shed_item,
        _no_rank_on_review_item,
        _zero_rank,
        _wrong_version,
        _local_time,
        _missing_capacity_field,
        _negative_lines,
        _owner_without_login,
        _extra_top_level,
        _string_errors,
    ],
)
def test_wrong_documents_fail(breaks: Any) -> None:
    doc = copy.deepcopy(to_json(sample_queue()))
    validator().validate(doc)  # the unbroken document passes
    breaks(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator().validate(doc)
