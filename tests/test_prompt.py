"""The prompt tells the model exactly which redaction markers it will see.

`triage.review.secrets` owns the masks; the system prompt describes them. A mask the prompt
does not describe (or a description no rule produces) is a model guessing at what it sees, so
every rule's mask is produced here and looked up in the prompt, and the other way round.
"""

from __future__ import annotations

import re

import pytest

from triage.review.prompt import PROMPT_VERSION, load_prompt
from triage.review.secrets import find_secrets

# One planted secret per rule of the scanner (with the file path that enables config rules).
SAMPLES: list[tuple[str, str | None]] = [
    ("key = 'AKIAQ7XK2M4N6P8R0T1V'", None),
    ("key = 'ASIAQ7XK2M4N6P8R0T1V'", None),
    ("t = 'ghp_Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4a'", None),
    ("t = 'github_pat_11ABCDEFG0123456789abc_Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4aQ'", None),
    ("s = 'xoxb-2231180914-6627018833-Kd8sPq2Lm9Wx4Rt7Vb1Nz3Hc'", None),
    ("u = 'https://hooks.slack.com/services/T01ABCDEF/B02GHIJKL/Kd8sPq2Lm9Wx4Rt7Vb1Nz3Hc'", None),
    ("k = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc9Xk2'", None),
    ("g = 'AIzaSyD4kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4'", None),
    ("o = 'sk-proj-Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39'", None),
    ("j = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.Kd8sPq2Lm9Wx4Rt7Vb1Nz3Hc'", None),
    (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        "MIIEowIBAAKCAQEAx1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0f1e2d3c4\n"
        "-----END RSA PRIVATE KEY-----",
        None,
    ),
    ("url = 'postgres://admin:Tr0ub4dor9xyzzy@db.internal:5432/app'", None),
    ("aws_secret_access_key = 'Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4aQ7XK'", None),
    ('password = "Tr0ub4dor&3xyzzy"', None),
    ("session_signing: q8Zr2Lx0Vb7Nm4Kc9Wd1Te6Yh3Uj5IpQ", "config/app.yml"),
]
_PREFIXED = re.compile(r"^(?P<prefix>.*?)\*{4,}$")


def _system() -> str:
    return str(load_prompt(PROMPT_VERSION).messages[0].prompt.template)  # type: ignore[attr-defined]


def _masks() -> list[str]:
    masks: list[str] = []
    for text, path in SAMPLES:
        found = find_secrets(text, path)
        assert found, f"sample not detected: {text[:40]!r}"
        masks.extend(f.masked for f in found)
    return masks


@pytest.mark.parametrize("mask", _masks())
def test_every_mask_the_scanner_makes_is_described_in_the_prompt(mask: str) -> None:
    system = _system()
    if mask.startswith("[REDACTED"):
        assert mask in system
    else:
        m = _PREFIXED.match(mask)
        assert m is not None, f"a mask of an unknown shape: {mask!r}"
        assert f"{m.group('prefix')}****" in system


def test_the_prompt_describes_no_marker_the_scanner_does_not_make() -> None:
    system = _system()
    made = set(_masks())
    described = set(re.findall(r"\[REDACTED:[a-z-]+\]", system))
    assert described == {m for m in made if m.startswith("[REDACTED")}
    prefixes = {m.group("prefix") for m in map(_PREFIXED.match, made) if m is not None}
    for shown in re.findall(r"(\S+?)\*{4}", system):
        assert shown in prefixes, shown
