"""Secret formats beyond the vendor prefixes, and key blocks split over hunks (issue #12).

Values are assembled from pieces so that this file itself does not trip a scanner.
"""

from __future__ import annotations

import pytest

from triage.config import Config
from triage.diff import parse_diff
from triage.metrics import measure
from triage.metrics.risk import assess_risk
from triage.models import PullRequest
from triage.review.budget import build_payload
from triage.review.secrets import ends_inside_private_key, find_secrets, redact, scan_diff

AWS_ID = "AKIA" + "Q3EGUKHBT4NX7WZP"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYz2Q8kEkFp9"
PEM_LINES = [
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi3Nd5Tk5XO1qWw8kqT0hFjP1xY",
    "q9Lm2Zr4Vb8Nc6Xd0Fe3Gh5Jk7Mn9Pq1Rs3Tu5Vw7Xy9Za1Bc3De5Fg7Hi9Jk1Lm3",
    "Zr4Vb8Nc6Xd0Fe3Gh5Jk7Mn9Pq1Rs3Tu5Vw7Xy9Za1Bc3De5Fg7Hi9Jk1Lm3q9Lm2",
]
BEGIN, END = "-----BEGIN RSA " + "PRIVATE KEY-----", "-----END RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "path", "secret", "kind"),
    [
        ("SLACK_APP=xapp-1-A04BCDEFG-5123456789012-" + "a1b2c3d4e5f6a7b8c9d0e1f2", None, "a1b2c3d4e5f6", "slack-token"),
        ("legacy: xoxe-1-" + "My0xLTEyMzQ1Njc4OTAtMTIzNDU2", None, "My0xLTEy", "slack-token"),
        ("token = glpat-" + "aB3dE5fG7hJ9kL1mN3pQ", None, "aB3dE5fG7hJ9kL1mN3pQ", "gitlab-token"),
        ("RUNNER=GR1348941" + "xY7zW5vU3tS1rQ9pO7nM", None, "xY7zW5vU3tS1rQ9pO7nM", "gitlab-token"),
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey="
            + "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGR0g=;",
            None,
            "Zm9vYmFyYmF6cXV4MTIz",
            "azure-key",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=" + "q8Rt5Lp2Wn7Xk3Vb9Zc1Df4Gh6Jm0",
            None,
            "q8Rt5Lp2",
            "azure-key",
        ),
        (
            'curl -H "Authorization: Bearer ' + 'abcdefgh12345678ijklmnop" https://api',
            None,
            "abcdefgh12345678",
            "auth-header",
        ),
        ("Authorization: Basic " + "dXNlcjpwYXNzd29yZA==", None, "dXNlcjpwYXNzd29yZA", "auth-header"),
        ('headers = {"authorization": "token ' + 'f00dcafe1234beef5678"}', None, "f00dcafe1234beef5678", "auth-header"),
        ("PRIVATE-TOKEN: " + "Zq8Rt5Lp2Wn7Xk3Vb9", None, "Zq8Rt5Lp2Wn7Xk3Vb9", "auth-header"),
        ("machine github.com login octo password " + "hunter2pass", None, "hunter2pass", "netrc-password"),
        ("machine example.com\n  login bob\n  password " + "opensesame", ".netrc", "opensesame", "netrc-password"),
        ("curl -u admin:" + "SuperSecretPw https://x", None, "SuperSecretPw", "cli-password"),
        ("curl -sS --user deploy:" + "Pa55word -X POST https://x", None, "Pa55word", "cli-password"),
        ("wget --http-password=" + "w9etPass https://x", None, "w9etPass", "cli-password"),
        (
            "//registry.npmjs.org/:_authToken=" + "abcd1234-ef56-7890-abcd-ef1234567890",
            ".npmrc",
            "abcd1234-ef56",
            "npm-token",
        ),
        ("//npm.pkg.github.com/:_authToken=" + "r4nd0mT0k3nValue", None, "r4nd0mT0k3nValue", "npm-token"),
        ("_auth = " + "dXNlcjpzZWNyZXRwYXNz", ".npmrc", "dXNlcjpzZWNyZXRwYXNz", "npm-token"),
        (f"aws configure set {AWS_ID} {AWS_SECRET}", None, AWS_SECRET, "aws-secret-key"),
        (f"id,{AWS_ID}\nkey,{AWS_SECRET}", None, AWS_SECRET, "aws-secret-key"),
        ("redis://:" + "p4ssw0rd@cache:6379", None, "p4ssw0rd", "url-password"),
        ("git clone https://oauth2:" + "abcdefgh12345@gitlab.com/x.git", None, "abcdefgh12345", "url-password"),
        ("DB_PASSWORD=" + "supersecret", None, "supersecret", "assignment"),
        ("export DB_PASSWORD=" + "supersecret", "deploy.sh", "supersecret", "assignment"),
        ('password = "' + 'opensesame"', "app.py", "opensesame", "assignment"),
    ],
)
def test_format_is_found_and_masked(text: str, path: str | None, secret: str, kind: str) -> None:
    assert kind in [f.kind for f in find_secrets(text, path)]
    assert secret not in redact(text, path)


@pytest.mark.parametrize(
    "text",
    [
        "authorization = request.headers.get('Authorization')",
        "headers['Authorization'] = f'Bearer {token}'",
        "Bearer authentication is used here",
        "def authorize(token: str) -> bool:",
        "password = getpass()",
        "curl -u $USER:$PASS https://x",
        "curl -u user:${TOKEN} https://x",
        "machine learning model password reset flow",
        "AKIAIOSFODNN7EXAMPLE",
        "token: refresh",
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
        "password_field = passwordInput",
    ],
)
def test_code_and_placeholders_are_not_secrets(text: str) -> None:
    assert find_secrets(text) == ()


def _two_hunk_key_diff(path: str = "deploy/key.txt") -> bytes:
    """A key whose BEGIN line is in the first hunk and whose body is in the second."""
    first = "\n".join(["+notes", "+" + BEGIN, " a", " b", " c"])
    second = "\n".join([" x", " y", " z", *("+" + ln for ln in PEM_LINES), "+" + END])
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1,3 +1,5 @@\n{first}\n@@ -40,3 +42,7 @@\n{second}\n"
    ).encode()


def test_key_block_state_carries_over_text() -> None:
    assert ends_inside_private_key(f"x\n{BEGIN}\n{PEM_LINES[0]}")
    assert not ends_inside_private_key(f"{BEGIN}\n{PEM_LINES[0]}\n{END}")
    assert ends_inside_private_key(PEM_LINES[1], inside=True)
    assert not ends_inside_private_key("print('done')", inside=True)
    assert not ends_inside_private_key(PEM_LINES[1])


def test_key_body_in_a_later_hunk_is_flagged_and_never_sent() -> None:
    data = _two_hunk_key_diff()
    diff = parse_diff(data)
    assert len(diff.files[0].hunks) == 2
    flags = scan_diff(diff)
    assert any(f.secret and f.line == 45 for f in flags)  # the body's first line, in hunk 2
    for flag in flags:
        assert all(line[:20] not in flag.evidence for line in PEM_LINES)
    pr = PullRequest(id="k", title="t", diff=data)
    metrics = measure(pr, diff, Config())
    payload = build_payload(pr, diff, metrics, assess_risk(pr, diff, metrics), 5000)
    assert "[REDACTED:private-key]" in payload.text
    assert all(line[:20] not in payload.text for line in PEM_LINES)


def test_key_file_body_without_its_header_in_the_diff_is_masked() -> None:
    path = "certs/server.key"
    body = "\n".join([" " + PEM_LINES[0], "-" + PEM_LINES[1], "+" + PEM_LINES[2], " " + END])
    data = f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -5,3 +5,3 @@\n{body}\n".encode()
    diff = parse_diff(data)
    assert any(f.secret for f in scan_diff(diff))
    pr = PullRequest(id="k", title="t", diff=data)
    metrics = measure(pr, diff, Config())
    payload = build_payload(pr, diff, metrics, assess_risk(pr, diff, metrics), 5000)
    assert all(line[:20] not in payload.text for line in PEM_LINES)


def test_hunk_header_text_is_redacted_in_the_payload() -> None:
    path = "config/.env"
    data = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        "@@ -9,3 +9,3 @@ DB_PASSWORD=supersecret\n a\n-b\n+c\n d\n"
    ).encode()
    diff = parse_diff(data)
    pr = PullRequest(id="h", title="t", diff=data)
    metrics = measure(pr, diff, Config())
    payload = build_payload(pr, diff, metrics, assess_risk(pr, diff, metrics), 5000)
    assert "DB_PASSWORD=[REDACTED:secret]" in payload.text
    assert "supersecret" not in payload.text


def test_a_certificate_body_is_not_a_key() -> None:
    path = "certs/server.pem"
    body = "\n".join(["+" + ln for ln in PEM_LINES])
    data = f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -5,0 +5,3 @@\n{body}\n".encode()
    assert scan_diff(parse_diff(data)) == ()
