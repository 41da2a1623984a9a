"""More secret formats (issue 12, item 1): vendor prefixes from gitleaks' rule set, the
detect-secrets plugins run as a second rule set, credentials in query strings, XML and
`mysql -p`, key names such as `SECRET_KEY`, and tokens glued to a name. Each case is a value
the scanner used to miss; each negative is code a reviewer would not want flagged (the
`secret` gate rejects a PR).

Values are assembled from pieces so that this file itself does not trip a scanner.
"""

from __future__ import annotations

import random

import pytest

from triage.review.secrets import find_secrets, redact

HEX32 = "9f8e7d6c5b4a3928" + "1706f5e4d3c2b1a0"


@pytest.mark.parametrize(
    ("text", "path", "secret"),
    [
        # gitleaks-documented prefixes
        ('SHOPIFY = "shpat_' + HEX32 + '"', "src/a.py", HEX32),
        ('HF_TOKEN = "hf_' + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567" + '"', "src/a.py", "AbCdEfGhIjKlMnOp"),
        ('host = "x"; tok = "dapi' + HEX32 + '"', "src/a.py", HEX32),
        ('client("dop_v1_' + HEX32 * 2 + '")', "src/a.py", HEX32),
        ('pm = "PMAK-' + HEX32[:24] + "-" + HEX32 + "ab" + '"', "src/a.py", HEX32),
        ("AGE-SECRET-KEY-1" + "QQPQZWZ8GJ6DQ2T5UF3Q7R8RQ5XP7W3VM4QMR5GD9N4E8KQXZTLSSJS8C7", "keys.txt", "QQPQZWZ8GJ6"),
        ('DOPPLER = "dp.pt.' + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v" + '"', "src/a.py", "A1b2C3d4E5f6"),
        ('sq = "sq0atp-' + "A1b2C3d4E5f6G7h8I9j0Kl" + '"', "src/a.py", "A1b2C3d4E5f6"),
        (
            "https://discord.com/api/webhooks/123456789012345678/" + "A1b2C3d4E5f6G7h8I9j0" * 4,
            "notify.sh",
            "A1b2C3d4E5f6G7h8I9j0A1b2",
        ),
        # detect-secrets plugins
        ('TWILIO = "SK' + HEX32 + '"', "src/a.py", HEX32),
        ('sid = "AC' + HEX32 + '"', "src/a.py", HEX32),
        ('MAILCHIMP = "' + HEX32 + '-us12"', "src/a.py", HEX32),
        ('bot = "123456789:AA' + "HdqTcvCH1vGWJxfSeofSAs0K5PALDsaw8" + '"', "src/a.py", "HdqTcvCH1vGWJxfSeofSAs0"),
        (
            'DISCORD = "MTA1ODk3NTE4NjE0NjA2ODUw.' + "GhJkLm." + "abcdefghijklmnopqrstuvwxy12" + '"',
            "src/a.py",
            "abcdefghijklmnopqrstuvwxy12",
        ),
        # key names, query strings, XML, mysql
        ("SECRET_KEY = 'q8zr2lmx9vnw4tk7pb1hs6dy3jc5fg0a@#x'", "settings.py", "q8zr2lmx9vnw4tk7pb1hs6dy3"),
        ("config.secret_key_base = 'a9f8e7d6c5b4a39281706f5e4d3c2b1a0'", "config/app.rb", "a9f8e7d6c5b4a392817"),
        ('url = "jdbc:mysql://db:3306/app?user=app&password=' + 'Hunter2Pass9"', "src/Db.java", "Hunter2Pass9"),
        ("<password>" + "Hunter2Pass9</password>", "settings.xml", "Hunter2Pass9"),
        ("<server><apiKey>" + "q8Zr2LmX9vNw4Tk7</apiKey></server>", "pom.xml", "q8Zr2LmX9vNw4Tk7"),
        ("mysql -u root -p" + "Hunter2Pass9 app < dump.sql", "restore.sh", "Hunter2Pass9"),
        # glued to a name: `_` before a prefix, a scheme after `_`
        ("key_ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8.py", None, "A1b2C3d4E5f6G7h8"),
        ("MIRROR=git_https://bob:" + "Sup3rS3cretPw@example.com/x", None, "Sup3rS3cretPw"),
        ("key_AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", None, "SyA1b2C3d4E5f6G7h8"),
    ],
)
def test_format_is_found_and_masked(text: str, path: str | None, secret: str) -> None:
    assert find_secrets(text, path), "not found"
    assert secret not in redact(text, path)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("sha = 'a31adec53a77ddaa27f1e1dd93f75a2d034845d5'", "src/a.py"),
        ("const ACCOUNT_TYPES = ['ACCOUNT', 'SKU']", "src/a.js"),
        ("integrity sha512-" + HEX32 * 2 + "-us1", "src/a.js"),  # a mailchimp-shaped run inside a longer one
        ("prefix_AC" + HEX32 + "suffix", "src/a.py"),  # a twilio-shaped run glued to more letters
        ("if (url.includes('?password=')) return", "src/a.ts"),
        ("<password>${env.DB_PASSWORD}</password>", "settings.xml"),
        ("mysql -u root -p app", "restore.sh"),  # prompts for the password
        ("secret_key = os.environ['SECRET_KEY']", "settings.py"),
        ("time: 12345678:" + "abcdefghijklmnopqrstuvwxyzabcdefghi", "log.txt"),  # not a bot token (no AA)
    ],
)
def test_code_ids_and_placeholders_are_not_secrets(text: str, path: str) -> None:
    assert find_secrets(text, path) == ()


def test_a_random_aws_secret_next_to_its_key_id_is_masked() -> None:
    rng = random.Random(12)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    missed = []
    for _ in range(500):
        secret = "".join(rng.choice(alphabet) for _ in range(40))
        text = f'creds = ("AKIA{"ZXCVBNMASDFGHJKL"}", "{secret}")'
        if secret in redact(text):
            missed.append(secret)
    # Only values that are not mixed-case-and-digit base64 may slip (a 1-in-1,000 chance each).
    assert len(missed) <= 1, missed


def test_a_class_name_or_path_next_to_a_key_id_is_not_a_secret() -> None:
    for value in ("src/main/java/com/example/service/Handler", "ThisIsMyVeryLongClassNameForTesting1234"):
        text = f'KEY_ID = "AKIA{"ZXCVBNMASDFGHJKL"}"  # {value}'
        assert value in redact(text)
