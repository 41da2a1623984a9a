"""Pins `build_payload`'s output byte for byte on the fixture diffs at several budgets.

The budget's rules are tested one by one in test_budget.py; this test catches what those do not
name: any change at all in what a refactoring sends, in which order, and how `omitted` reads.
Each golden entry records a digest of its input diff too, so a fixture that is regenerated with
different content (other branches add fixtures) skips its own entries instead of failing; the
test still demands that most entries are checked.

Regenerate (only after a change that is *meant* to alter payloads):
    .venv/bin/python tests/test_budget_golden.py --update
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from triage.config import Config
from triage.diff import parse_diff
from triage.gitrepo import DirTree
from triage.metrics import measure
from triage.models import PullRequest, Risk, RiskFactor, RiskLevel
from triage.review.budget import Payload, build_payload

ROOT = Path(__file__).resolve().parent.parent
PRS = ROOT / "fixtures" / "prs"
BASE = ROOT / "fixtures" / "base"
GOLDEN = Path(__file__).resolve().parent / "golden" / "budget_payloads.json"
# From nothing fits, through partial sends and trimmed context, to everything fits.
BUDGETS = (0, 40, 120, 400, 1_500, 6_000, 1_000_000)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload_digest(payload: Payload) -> str:
    fields = [payload.text, *payload.omitted, str(payload.tokens_full), str(payload.tokens_sent)]
    return _digest("\x00".join(fields).encode())


def _risk(index: int) -> Risk:
    """A fixed risk, so that a change to the static risk model does not move this test: every
    other fixture has untested source (the one risk factor the hunk ranking reads)."""
    factors = (RiskFactor("no-tests", 1.0, 0.1),) if index % 2 else ()
    return Risk(score=0.5, level=RiskLevel.MEDIUM, factors=factors)


def _compute() -> dict[str, dict[str, object]]:
    cfg = Config()
    base = DirTree(BASE)
    entries: dict[str, dict[str, object]] = {}
    for index, path in enumerate(sorted(PRS.glob("*.diff"))):
        data = path.read_bytes()
        pr = PullRequest(id=path.stem, title=path.stem, diff=data)
        diff = parse_diff(data)
        metrics = measure(pr, diff, cfg, before=base)
        risk = _risk(index)
        payloads = {str(b): _payload_digest(build_payload(pr, diff, metrics, risk, b)) for b in BUDGETS}
        entries[path.name] = {"input": _digest(data), "payloads": payloads}
    return entries


def test_payloads_are_byte_identical_to_the_golden_ones() -> None:
    golden: dict[str, dict[str, object]] = json.loads(GOLDEN.read_text())
    current = _compute()
    checked = 0
    for name, entry in golden.items():
        now = current.get(name)
        if now is None or now["input"] != entry["input"]:
            continue  # the fixture is gone or was regenerated differently: not this test's business
        assert now["payloads"] == entry["payloads"], name
        checked += 1
    assert checked >= len(golden) * 3 // 4, f"only {checked} of {len(golden)} golden fixtures still match"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_budget_golden.py --update")
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(_compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
