"""Secret detection and redaction (triage.review.secrets).

Fake credentials are assembled from pieces at run time so this file itself never contains a
string that a secret scanner (or GitHub push protection) would take for a real key.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.models import (
    ChangeType,
    FileDiff,
    FileKind,
    FlagKind,
    Hunk,
    ParsedDiff,
    PullRequest,
    Severity,
    Trailer,
)
from triage.review.secrets import (
    find_secrets,
    is_placeholder,
    redact,
    redact_pull_request,
    scan_diff,
    shannon_entropy,
)

AWS_ID = "AKIA" + "Q3EGUKHBT4NX7WZP"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYz2Q8kEkFp9"
GH_TOKEN = "ghp" + "_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
GH_PAT = "github" + "_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGH"
SLACK = "xox" + "b-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE = "sk" + "_live_4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AI" + "zaSyD4kR2x9Q7mN3pL8vB6cX1zW5yT0uI2oPq"
OPENAI = "sk" + "-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0"
    + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
PEM_BODY = [
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi3Nd5Tk5XO1qWw8kqT0hFjP1xY",
    "q9Lm2Zr4Vb8Nc6Xd0Fe3Gh5Jk7Mn9Pq1Rs3Tu5Vw7Xy9Za1Bc3De5Fg7Hi9Jk1Lm3",
    "Ab12Cd==",
]
PEM = "\n".join(["-----BEGIN RSA " + "PRIVATE KEY-----", *PEM_BODY, "-----END RSA " + "PRIVATE KEY-----"])
ENTROPY_VALUE = "Zx8kQ2mN7pR4tV9wY3bC6fH1jL5nS0uA"


@pytest.mark.parametrize(
    ("text", "kind", "secret", "hint"),
    [
        (f'aws_key = "{AWS_ID}"', "aws-access-key", AWS_ID, "AKIA****"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws-secret-key", AWS_SECRET, "[REDACTED:aws-secret-key]"),
        (f'token = "{GH_TOKEN}"', "github-token", GH_TOKEN, "ghp_****"),
        (f"use {GH_PAT} here", "github-token", GH_PAT, "github_pat_****"),
        (f"SLACK={SLACK}", "slack-token", SLACK, "xoxb-****"),
        (f"stripe.api_key = '{STRIPE}'", "stripe-key", STRIPE, "sk_live_****"),
        (f"const key = `{GOOGLE}`;", "google-api-key", GOOGLE, "AIza****"),
        (f"OPENAI_API_KEY={OPENAI}", "openai-key", OPENAI, "sk-****"),
        (f"Authorization: Bearer {JWT}", "jwt", JWT, "eyJ****"),
        (
            'DATABASE_URL = "postgres://app:S3cr3tPa55@db.internal:5432/app"',
            "url-password",
            "S3cr3tPa55",
            "app:[",
        ),
        ('password = "hunter2!"', "assignment", "hunter2!", "[REDACTED:secret]"),
        ("api_key: str = 'zq8Rt5Lp2Wn'", "assignment", "zq8Rt5Lp2Wn", "[REDACTED:secret]"),
        ('clientSecret: "a9Fj3kLm0pQr",', "assignment", "a9Fj3kLm0pQr", "[REDACTED:secret]"),
        ('{"db_password": "Tr0ub4dor&3"}', "assignment", "Tr0ub4dor&3", "[REDACTED:secret]"),
        (f"key:\n{PEM}\nafter", "private-key", PEM_BODY[0], "[REDACTED:private-key]"),
    ],
)
def test_known_formats_are_found_and_masked(text: str, kind: str, secret: str, hint: str) -> None:
    findings = find_secrets(text)
    assert [f.kind for f in findings] == [kind]
    masked = redact(text)
    assert secret not in masked
    assert hint in masked
    # The finding's span is exactly what redact replaced: the two cannot disagree.
    f = findings[0]
    assert masked == text[: f.start] + f.masked + text[f.end :]


@pytest.mark.parametrize(
    "text",
    [
        'password = "changeme"',
        'password = "<your-password>"',
        'token = "${GITHUB_TOKEN}"',
        'token = "xxxxxxxxxxxx"',
        'api_key = "your_api_key_here"',
        'password = os.environ["DB_PASSWORD"]',
        'token = os.getenv("TOKEN", "")',
        "token = get_token()",
        'if password == "letmein99":',
        'max_tokens = "4096"',
        "The password: required for login",
        "password: str",
        'db = "postgres://app:${DB_PASSWORD}@db:5432/app"',
        'db = "postgres://app:<password>@db:5432/app"',
        'key = "AKIAIOSFODNN7EXAMPLE"',  # AWS's documented example key
        "pip install sk-learn-style-package-names-here",
        'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    return parse(line)',
        "-----BEGIN PRIVATE KEY-----\n<paste your key here>\n-----END PRIVATE KEY-----",
        "token: ${{ secrets.GITHUB_TOKEN }}",
        'password = "***********"',
        "secret: my-app-secret",  # a Kubernetes secret's name
        'token: "refresh"',
        'auth_header_token = "Bearer"',
        "# settings about a secret, not the secret: `password_min_length`",
        'PASSWORD_FIELD = "passwordField"',
        'Token: "#cccccc",',  # a syntax-highlighting theme
        "e.g. `pass` in `https://user:pass@host:port/path`",
    ],
)
def test_placeholders_and_code_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == ()
    assert redact(text) == text


@pytest.mark.parametrize("value", ["changeme", "<your-token>", "${VAR}", "$TOKEN", "xxxx-xxxx", "{{ token }}", "%s"])
def test_is_placeholder_true(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["hunter2!", "Tr0ub4dor&3", ENTROPY_VALUE])
def test_is_placeholder_false(value: str) -> None:
    assert not is_placeholder(value)


def test_high_entropy_values_only_in_config_files() -> None:
    text = f"SESSION_KEY={ENTROPY_VALUE}\n"
    assert [f.kind for f in find_secrets(text, ".env")] == ["high-entropy"]
    assert [f.kind for f in find_secrets(text, "deploy/prod.env")] == ["high-entropy"]
    assert [f.kind for f in find_secrets(f"session:\n  key: {ENTROPY_VALUE}\n", "config/app.yml")] == ["high-entropy"]
    assert find_secrets(text, "src/app.py") == ()
    assert ENTROPY_VALUE not in redact(text, ".env")


@pytest.mark.parametrize(
    "line",
    [
        "COMMIT=3f2a9c1d4e5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f",  # hex digest
        "NAME=thisIsAVeryLongCamelCaseIdentifier2",  # identifier
        "IMAGE=registry.example.com/team/service-api:2.14.1",  # reference with a path
        "RUN_ID=550e8400-e29b-41d4-a716-446655440000",  # uuid
        f"integrity: {ENTROPY_VALUE}",  # digest key
        "HOST=service-a.eu-west-1.internal.example.com",
    ],
)
def test_high_entropy_rule_ignores_ids_and_names(line: str) -> None:
    assert find_secrets(line, "settings.ini") == ()


def test_lockfiles_are_not_config_for_entropy() -> None:
    text = f'"resolved": "{ENTROPY_VALUE}"\n'
    assert find_secrets(text, "package.json")
    assert find_secrets(text, "package-lock.json") == ()


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)


def test_line_offsets_and_order() -> None:
    text = f"a = 1\nkey = '{AWS_ID}'\n\ntoken = '{GH_TOKEN}'"
    findings = find_secrets(text)
    assert [(f.kind, f.line) for f in findings] == [("aws-access-key", 1), ("github-token", 3)]
    assert [f.severity for f in findings] == [Severity.CRITICAL, Severity.HIGH]


def test_specific_format_wins_over_generic_assignment() -> None:
    (finding,) = find_secrets(f'token = "{GH_TOKEN}"')
    assert finding.kind == "github-token"


def test_truncated_private_key_without_footer_is_masked() -> None:
    text = "\n".join(["-----BEGIN OPENSSH " + "PRIVATE KEY-----", *PEM_BODY[:2], "def f():"])
    (finding,) = find_secrets(text)
    assert finding.kind == "private-key"
    masked = redact(text)
    assert PEM_BODY[1] not in masked
    assert masked.endswith("def f():")


def test_escaped_private_key_in_json_is_masked() -> None:
    text = (
        '{"private_key": "-----BEGIN '
        + "PRIVATE KEY-----\\n"
        + "\\n".join(PEM_BODY)
        + "\\n-----END PRIVATE KEY-----\\n"
        '"}'
    )
    assert [f.kind for f in find_secrets(text, "sa.json")] == ["private-key"]
    assert PEM_BODY[0] not in redact(text, "sa.json")


def test_redact_title_and_body_text() -> None:
    body = f"Deploy with `export GITHUB_TOKEN={GH_TOKEN}` and url https://bot:S3cr3tPa55@ci.example.com/x"
    masked = redact(body)
    assert GH_TOKEN not in masked
    assert "S3cr3tPa55" not in masked
    assert "https://bot:[REDACTED:password]@ci.example.com/x" in masked


def test_redact_pull_request_masks_all_free_text() -> None:
    pr = PullRequest(
        id="9",
        title=f"rotate {AWS_ID}",
        body=f"old token {GH_TOKEN}",
        commit_messages=(f"chore: drop {SLACK}",),
        trailers=(Trailer("Co-authored-by", "A <a@example.com>"),),
        diff=f"+{AWS_ID}".encode(),
    )
    clean = redact_pull_request(pr)
    text = " ".join([clean.title, clean.body, *clean.commit_messages])
    assert all(s not in text for s in (AWS_ID, GH_TOKEN, SLACK))
    assert clean.diff == pr.diff and clean.trailers == pr.trailers and clean.id == "9"


@settings(max_examples=60, deadline=None)
@given(
    before=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    after=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
    secret=st.sampled_from([AWS_ID, GH_TOKEN, SLACK, STRIPE, GOOGLE, JWT]),
)
def test_redact_never_leaks_a_known_token(before: str, after: str, secret: str) -> None:
    text = f"{before} {secret} {after}"
    assert secret not in redact(text)


# --------------------------------------------------------------------------------------------
# scan_diff


def _file(path: str, body: str, *, new_start: int = 1, kind: FileKind = FileKind.SOURCE) -> FileDiff:
    lines = body.splitlines()
    added = sum(1 for ln in lines if ln.startswith("+"))
    deleted = sum(1 for ln in lines if ln.startswith("-"))
    hunk = Hunk(new_start, len(lines) - added, new_start, len(lines) - deleted, "", added, deleted, body)
    return FileDiff(path, path, ChangeType.MODIFIED, kind, None, added, deleted, (hunk,))


def test_scan_diff_flags_added_lines_with_file_and_new_line_number() -> None:
    body = "\n".join(
        [
            " import os",
            f"-OLD_KEY = '{GH_TOKEN}'",  # removed: a fix, not a leak
            " ",
            f"+AWS_KEY = '{AWS_ID}'",
            "+password = 'changeme'",
            "+DB = 'mysql://root:S3cr3tPa55@db/app'",
        ]
    )
    diff = ParsedDiff(files=(_file("app/settings.py", body, new_start=10),))
    flags = scan_diff(diff)
    assert [(f.kind, f.severity, f.file, f.line) for f in flags] == [
        (FlagKind.SECURITY, Severity.CRITICAL, "app/settings.py", 12),
        (FlagKind.SECURITY, Severity.HIGH, "app/settings.py", 14),
    ]
    assert "AKIA****" in flags[0].evidence and "AWS access key" in flags[0].evidence
    for flag in flags:
        for secret in (AWS_ID, GH_TOKEN, "S3cr3tPa55"):
            assert secret not in flag.evidence


def test_scan_diff_reports_a_private_key_block_once_at_its_first_line() -> None:
    body = "\n".join(["+# deploy key", *("+" + ln for ln in PEM.splitlines()), " tail"])
    diff = ParsedDiff(files=(_file("deploy/id_rsa", body, new_start=1),))
    (flag,) = scan_diff(diff)
    assert (flag.severity, flag.line) == (Severity.CRITICAL, 2)
    assert all(part not in flag.evidence for part in PEM_BODY)


def test_scan_diff_uses_the_path_for_config_rules() -> None:
    body = f"+SESSION_KEY={ENTROPY_VALUE}"
    assert scan_diff(ParsedDiff(files=(_file(".env.production", body),)))
    assert scan_diff(ParsedDiff(files=(_file("src/main.py", body),))) == ()


def test_scan_diff_ignores_binary_and_placeholder_only_changes() -> None:
    binary = FileDiff("logo.png", "logo.png", ChangeType.MODIFIED, FileKind.SOURCE, None, 0, 0, binary=True)
    text = _file("README.md", '+Set `token = "<your-token>"` and `password = "changeme"`', kind=FileKind.DOCS)
    assert scan_diff(ParsedDiff(files=(binary, text))) == ()


def test_scan_diff_on_a_real_git_diff(tmp_path: Path) -> None:
    """End to end with git's own diff output and the real parser: line numbers must match."""
    parse_diff = pytest.importorskip("triage.diff").parse_diff
    if shutil.which("git") is None:
        pytest.skip("git is not installed")

    def git(*args: str) -> bytes:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "T")
    target = tmp_path / "config" / "prod.yml"
    target.parent.mkdir()
    target.write_text("".join(f"key{i}: value{i}\n" for i in range(30)))
    git("add", ".")
    git("commit", "-q", "-m", "base")
    lines = target.read_text().splitlines()
    lines[19:19] = [f"aws_access_key_id: {AWS_ID}", *PEM.splitlines()]
    target.write_text("\n".join(lines) + "\n")
    diff = parse_diff(git("diff"))
    flags = scan_diff(diff)
    assert [(f.file, f.line, f.severity) for f in flags] == [
        ("config/prod.yml", 20, Severity.CRITICAL),
        ("config/prod.yml", 21, Severity.CRITICAL),
    ]
    assert target.read_text().splitlines()[19].endswith(AWS_ID)
    assert all(AWS_ID not in f.evidence and PEM_BODY[0] not in f.evidence for f in flags)
