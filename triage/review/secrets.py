"""Secret detection and redaction: `str -> SecretFinding`s, `ParsedDiff -> Flag`s.

Two consumers need to agree exactly on what a secret is: `redact`, which masks credentials in
any text before it reaches a report, a log or an LLM prompt (diff lines, PR titles and bodies),
and `scan_diff`, which turns secrets *added* by a PR into security flags. Both are thin layers
over `find_secrets`, so a value that is flagged is always a value that is masked, and the other
way round.

Detection is rules, not guesses: well-known token formats (AWS, GitHub, GitLab, Slack, Stripe,
Google, OpenAI, npm, PyPI, SendGrid, Azure, Shopify, Hugging Face, ... and PEM/PuTTY private
keys, with the prefixes and lengths gitleaks' rule set documents), credentials in URLs, headers,
`.netrc`, command lines, query strings and XML, values assigned to names like `password` or
`api_key`, and, in config-like files only, long high-entropy values. On top of these, every
regex plugin of detect-secrets (a maintained detector, used as a library) runs as a second rule
set, so a format it learns in a later release is masked without a change here. Obvious
placeholders (`changeme`, `xxx`, `<your-token>`, `${VAR}`, environment lookups) are not secrets:
flagging them would teach people to ignore the flag.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import PurePosixPath

from triage.classify import LOCKFILES
from triage.models import FileDiff, Flag, FlagKind, ParsedDiff, PullRequest, Severity
from triage.review.anchors import fold_lower, matches_at, positions, starts_of

__all__ = [
    "CONFIG_SUFFIXES",
    "SecretFinding",
    "ends_inside_private_key",
    "find_secrets",
    "hunk_key_states",
    "is_key_path",
    "is_placeholder",
    "redact",
    "redact_pull_request",
    "scan_diff",
    "shannon_entropy",
]

# Kinds whose leak hands over infrastructure or signing identity: critical. Everything else
# (chat, payment, SaaS tokens, passwords) is high.
_CRITICAL_KINDS = frozenset(
    {"private-key", "aws-access-key", "aws-secret-key", "google-api-key", "azure-key", "age-secret-key"}
)

_DESCRIPTIONS = {
    "private-key": "private key block",
    "aws-access-key": "AWS access key id",
    "aws-secret-key": "AWS secret access key",
    "github-token": "GitHub token",
    "slack-token": "Slack token",
    "sendgrid-key": "SendGrid API key",
    "slack-webhook": "Slack webhook URL",
    "gitlab-token": "GitLab token",
    "npm-token": "npm token",
    "pypi-token": "PyPI token",
    "azure-key": "Azure storage or service key",
    "auth-header": "credential in an Authorization header",
    "netrc-password": ".netrc password",
    "cli-password": "password on a command line",
    "stripe-key": "Stripe live key",
    "google-api-key": "Google API key",
    "openai-key": "OpenAI-style API key",
    "jwt": "JSON Web Token",
    "shopify-token": "Shopify access token",
    "huggingface-token": "Hugging Face token",
    "databricks-token": "Databricks token",
    "digitalocean-token": "DigitalOcean token",
    "postman-key": "Postman API key",
    "square-token": "Square access token",
    "age-secret-key": "age secret key",
    "doppler-token": "Doppler token",
    "discord-webhook": "Discord webhook URL",
    "query-password": "credential in a URL query or connection string",
    "xml-password": "credential in an XML element",
    "detect-secrets": "credential (detect-secrets rule)",
    "url-password": "password in a URL",
    "assignment": "credential assigned to a secret-looking name",
    "high-entropy": "high-entropy value in a config file",
}

CONFIG_SUFFIXES = frozenset({".env", ".yml", ".yaml", ".json", ".toml", ".ini", ".properties", ".cfg", ".conf"})

# Keys whose values are digests or ids rather than credentials (entropy rule only).
_NOT_SECRET_KEYS = re.compile(
    r"(?:hash|sha\d*|md5|digest|checksum|integrity|etag|commit|revision|rev|version|uuid|guid|"
    r"id|nonce|salt|icon|image|url|uri|path|file|public[_-]?key|fingerprint)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """One secret in a text: `text[start:end]` is exactly what must be masked.

    `line` is the 0-based line index of `start` within the text, so a caller that joined diff
    lines can map a finding back to a file line. `masked` is the replacement, which keeps only a
    public hint (a vendor prefix or the kind), never any of the secret's random part.
    """

    kind: str
    start: int
    end: int
    line: int
    masked: str

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if self.kind in _CRITICAL_KINDS else Severity.HIGH

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self.kind, self.kind)


# --------------------------------------------------------------------------------------------
# Placeholders and entropy

_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "change-me",
    "example",
    "placeholder",
    "your_",
    "your-",
    "yourpass",
    "yourtoken",
    "yourkey",
    "yoursecret",
    "dummy",
    "redacted",
    "xxxx",
    "****",
    "•••",
    "...",
    "…",
    "replace_me",
    "replaceme",
    "insert_",
    "fixme",
    "todo",
    "sample",
    "notasecret",
    "not-a-secret",
)
_PLACEHOLDER_EXACT = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "test",
        "testing",
        "undefined",
        "empty",
        "required",
        "optional",
        "string",
        "foobar",
        "foo",
        "bar",
        "admin",
        "default",
        "pass",
        "pwd",
        "pw",
        "user",
        "username",
        "abc",
        "xyz",
    }
)
# `${VAR}`, `$VAR`, `{{ x }}`, `%(x)s`, `%s`, `{}`, `{name}`, `<your-token>`, `process.env.X`.
_TEMPLATE = re.compile(
    r"^\$|\$\{|\$\(|\{\{|%\(|%s\b|\{\}|^\{[\w.]*\}$|^<[^>]*>$|^\[[^\]]*\]$|"
    r"(?:os\.environ|os\.getenv|getenv\(|process\.env|ENV\[|System\.getenv|env\()",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret rather than being one.

    Why a rule and not a list: documentation, templates and tests are full of `changeme`,
    `<your-token>`, `${API_KEY}` and `xxxx`; flagging those trains people to ignore the flag.
    """
    v = value.strip().strip("\"'`")
    if not v:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_EXACT or _TEMPLATE.search(v):
        return True
    if re.fullmatch(r"#[0-9a-fA-F]{3,8}", v):
        return True  # a colour (`Token: "#cccccc"` in a syntax theme)
    if any(word in low for word in _PLACEHOLDER_WORDS):
        return True
    # One repeated character ("aaaaaaaa", "00000000") or a run of x/X/* with separators.
    stripped = re.sub(r"[-_.\s]", "", low)
    return len(set(stripped)) <= 1 or set(stripped) <= {"x", "*", "#", "0"}


def shannon_entropy(value: str) -> float:
    """Bits per character of `value`'s own character distribution (0 for an empty string)."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


# Random base62 tokens of 24+ characters carry ~3.9+ bits/char (lowercase+digits ~3.6+), but so
# do camelCase identifiers, so entropy alone is not enough: a value must also contain a digit
# (generated secrets almost always do, names rarely) and must not be mostly dictionary-like
# runs of letters (`thisIsAVeryLongName2`, `ubuntu-22.04-lts-server`).
_ENTROPY_MIN_LENGTH = 24
_ENTROPY_MIN_BITS = 3.5
_MAX_WORDLIKE_SHARE = 0.4
_WORDLIKE = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{4,}")


def _looks_random(value: str) -> bool:
    if len(value) < _ENTROPY_MIN_LENGTH or not re.fullmatch(r"[A-Za-z0-9+/=_\-.~]+", value):
        return False
    if not (re.search(r"\d", value) and re.search(r"[A-Za-z]", value)):
        return False
    if re.fullmatch(r"[0-9a-fA-F\-]+", value):  # hex digests and UUIDs: ids, not credentials
        return False
    if re.fullmatch(r"[\w\-]+(?:\.[\w\-]+){2,}", value) and not value.startswith("eyJ"):
        return False  # dotted names: hostnames, package.module.paths, version strings
    wordlike = sum(len(m.group(0)) for m in _WORDLIKE.finditer(value))
    if wordlike / len(value) > _MAX_WORDLIKE_SHARE:
        return False
    return shannon_entropy(value) >= _ENTROPY_MIN_BITS


# Credential files without a config suffix: their `key = value` lines are config.
_CREDENTIAL_FILES = frozenset(
    {".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".git-credentials", ".dockercfg", "credentials"}
)
_NETRC_FILES = frozenset({".netrc", "_netrc"})
# Files that hold a private key: a hunk of one is key body even when its BEGIN line is not in
# the diff (`id_rsa`, `server.key`, `cert.pem`).
# A bare `.pem` is as often a public certificate: only names that say "key" count.
_KEY_FILE = re.compile(
    r"(?i)(?:^|/)(?:id_(?:rsa|dsa|ecdsa|ed25519)|[^/]*\.(?:key|p8|ppk)|[^/]*(?:key|private)[^/]*\.pem)$"
)


# Both are asked once per added run of a file, about the same path: remembered per path.
@lru_cache(maxsize=1024)
def is_key_path(path: str | None) -> bool:
    return bool(path) and bool(_KEY_FILE.search(path or ""))


@lru_cache(maxsize=1024)
def _is_config_path(path: str | None) -> bool:
    if not path:
        return False
    p = PurePosixPath(path)
    name = p.name.lower()
    if name in _CREDENTIAL_FILES:
        return True
    # Lockfiles are full of integrity hashes: high entropy by construction, never credentials.
    if name in LOCKFILES or name.endswith(".lock"):
        return False
    if name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        return True
    return p.suffix.lower() in CONFIG_SUFFIXES


# --------------------------------------------------------------------------------------------
# Rules. Each yields (kind, start, end, masked) for a candidate; placeholders are dropped here.

_Candidate = tuple[str, int, int, str]

# Token formats with a fixed public prefix: the prefix is kept as the hint.
_PREFIXED: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("aws-access-key", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"), 4),
    (
        "github-token",
        re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
        -1,
    ),
    (
        "slack-token",
        re.compile(
            r"(?<![A-Za-z0-9])(?:xox[abposre]-[A-Za-z0-9-]{10,250}|xoxe\.xox[bp]-\d-[A-Za-z0-9]{20,200}"
            r"|xapp-\d-[A-Za-z0-9]{6,}-\d+-[A-Za-z0-9]{16,})"
        ),
        5,
    ),
    (
        "gitlab-token",
        re.compile(
            r"(?<![A-Za-z0-9])(?:gl(?:pat|dt|rt|ptt|oas|cbt|ffct|soat|imt|agent|ft|ct)-[A-Za-z0-9_\-]{20,255}"
            r"|GR1348941[A-Za-z0-9_\-]{20,255})"
        ),
        -2,
    ),
    ("npm-token", re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), 4),
    ("pypi-token", re.compile(r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}"), 5),
    ("sendgrid-key", re.compile(r"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"), 3),
    (
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
        len("https://hooks.slack.com/services/"),
    ),
    ("stripe-key", re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_live_[A-Za-z0-9]{16,247}"), 8),
    ("google-api-key", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"), 4),
    (
        "openai-key",
        re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}(?![A-Za-z0-9_\-])"),
        3,
    ),
    # Formats from gitleaks' rule set (config/gitleaks.toml, MIT): fixed vendor prefixes.
    ("shopify-token", re.compile(r"(?<![A-Za-z0-9])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?![A-Za-z0-9])"), 6),
    ("huggingface-token", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{34,40}(?![A-Za-z0-9])"), 3),
    ("databricks-token", re.compile(r"(?<![A-Za-z0-9])dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])"), 4),
    ("digitalocean-token", re.compile(r"(?<![A-Za-z0-9])do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9])"), 7),
    ("square-token", re.compile(r"(?<![A-Za-z0-9])sq0(?:atp|csp)-[0-9A-Za-z_\-]{22,43}(?![A-Za-z0-9_\-])"), 7),
    ("postman-key", re.compile(r"(?<![A-Za-z0-9])PMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![A-Za-z0-9])"), 5),
    ("age-secret-key", re.compile(r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"), 15),
    (
        "doppler-token",
        re.compile(r"(?<![A-Za-z0-9])dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}(?![A-Za-z0-9])"),
        3,
    ),
    (
        "discord-webhook",
        re.compile(r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{60,}"),
        len("https://discord.com/api/webhooks/"),
    ),
    (
        "jwt",
        re.compile(
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}(?![A-Za-z0-9_-])"
        ),
        3,
    ),
)

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
# PEM bodies are wrapped at 64 columns; 40 base64 characters in a row do not occur in code that
# merely mentions the header (`line.startswith("-----BEGIN RSA PRIVATE KEY-----")`).
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{40,}")
# A line of PEM body: base64 only, possibly wrapped in string-literal noise ("...\n" +).
_PEM_BODY_LINE = re.compile(r"[ \t\"'+,]*(?:[A-Za-z0-9+/=]{4,}|[A-Za-z\-]+: [^\n]*)[ \t\"'+,;]*(?:\\n)?[ \t\"'+,;]*")

_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"'<>]{0,256}:([^\s@/\"'<>]{1,256})@[\w.\-\[\]]"
)

_AWS_SECRET = re.compile(
    r"(?i)aws_?secret(?:_?access)?_?key[\"']?\s*(?::=|=>|[:=])\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)

# `name = "value"`, `name: 'value'`, `"name": "value"`, `name := "v"`, `name => "v"`,
# `name: str = "v"`, `--name "v"` is not covered (command lines are rarely committed secrets).
_SECRET_NAME = (
    r"[A-Za-z0-9_.\-]*?(?:password|passwd|passphrase|pwd|secret|token|api[_\-]?key|apikey|"
    r"access[_\-]?key|private[_\-]?key|client[_\-]?secret|credentials?|"
    r"(?:secret|signing|encryption|master|jwt|hmac)[_\-]?key(?:[_\-]?base)?)"
)
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_])[\"']?(?P<name>" + _SECRET_NAME + r")[\"']?"
    r"(?:\s*:\s*[A-Za-z_][\w\[\]., |]*?(?=\s*=))?"  # an optional type annotation
    r"\s*(?P<op>:=|=>|=(?!=)|:)\s*"
    r"(?:(?P<q>[\"'`])(?P<qv>[^\"'`\n]{1,512})(?P=q)|(?P<uv>[^\s\"'`,;#(){}\[\]]{1,512}))",
    re.IGNORECASE,
)

# Words and identifiers made of words (`Bearer`, `passwordField`, `db-credentials`,
# `password_min_length`) name a secret or a setting; a weak all-letters password is missed, a
# rejected PR for `secret: my-app-secret` would be worse (the policy may reject on secrets).
_WORDS_ONLY = re.compile(r"[A-Za-z]+(?:[_\-.][A-Za-z]+)*")

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_PASSWORD_NAME = re.compile(r"(?i)(?:password|passwd|passphrase|pwd)$")

# Names that hold settings about a secret, not the secret: `password_min_length`, `token_field`.
_SETTING_NAME = re.compile(r"(?i)(?:min|max)_?\w*|\w*_(?:len|length|field|type|name)")

# `key: value` / `key = value` / `"key": "value"` lines in config files, for the entropy rule.
_CONFIG_VALUE = re.compile(
    r"(?m)^[ \t\-]*[\"']?(?P<key>[\w.\-]+)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\s\"',#]{24,})[\"']?"
)


# Literals every match of a rule contains. Most text holds none of them, and a substring test
# runs in C at memory speed while a regex is tried at every position: the gates keep the scan
# close to the cost of reading the text. A gate only ever skips a rule that could not match.
_PREFIX_GATES: dict[str, tuple[str, ...]] = {
    "aws-access-key": ("AKIA", "ASIA", "ABIA", "ACCA"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "slack-token": ("xox", "xapp-"),
    "gitlab-token": (
        "glpat-",
        "gldt-",
        "glrt-",
        "glptt-",
        "gloas-",
        "glcbt-",
        "glffct-",
        "glsoat-",
        "glimt-",
        "glagent-",
        "glft-",
        "glct-",
        "GR1348941",
    ),
    "npm-token": ("npm_",),
    "pypi-token": ("pypi-AgEIcHlwaS5vcmc",),
    "sendgrid-key": ("SG.",),
    "slack-webhook": ("hooks.slack.com",),
    "stripe-key": ("_live_",),
    "google-api-key": ("AIza",),
    "openai-key": ("sk-",),
    "jwt": ("eyJ",),
    "shopify-token": ("shpat_", "shpss_", "shpca_", "shppa_"),
    "huggingface-token": ("hf_",),
    "databricks-token": ("dapi",),
    "digitalocean-token": ("_v1_",),
    "postman-key": ("PMAK-",),
    "square-token": ("sq0",),
    "age-secret-key": ("AGE-SECRET-KEY-1",),
    "doppler-token": ("dp.",),
    "discord-webhook": ("/api/webhooks/",),
}
# Case-insensitive rules are gated on the lower-cased text, and only for ASCII text: Unicode
# case folding (the Kelvin sign matches `k`) would otherwise let a match slip past a gate.
_ASSIGNMENT_GATE = ("pass", "pwd", "secret", "token", "api", "key", "credential")


def _gate(text: str, needles: tuple[str, ...]) -> bool:
    # A plain loop: `any()` over a generator costs about twice as much, and this runs for
    # every rule on every added run of every PR.
    for needle in needles:  # noqa: SIM110
        if needle in text:
            return True
    return False


def _prefixed(text: str, rules: _Rules, hay: str) -> Iterator[_Candidate]:
    for kind, pattern, keep in rules.prefixed:
        if not _gate(hay, _PREFIX_GATES[kind]):
            continue
        for m in pattern.finditer(text):
            value = m.group(0)
            if is_placeholder(value):
                continue
            body = value[3:]
            if kind == "openai-key" and not (re.search(r"\d", body) and re.search(r"[A-Za-z]", body)):
                continue  # "sk-" + words ("sk-learn-style-names") is not a key
            if keep == -2:  # up to the vendor prefix's dash ("glpat-"), or the runner prefix
                hint_len = value.index("-") + 1 if "-" in value[:12] else 9
            else:
                hint_len = keep if keep >= 0 else (11 if value.startswith("github_pat_") else 4)
            hint = value[:hint_len]
            stars = "*" * max(4, min(len(value) - hint_len, 16))
            yield kind, m.start(), m.end(), hint + stars


def _private_keys(text: str) -> Iterator[_Candidate]:
    for m in _PEM_BEGIN.finditer(text):
        end_match = _PEM_END.search(text, m.end(), m.end() + 16384)
        if end_match is not None:
            body = text[m.end() : end_match.start()]
            if _BASE64_RUN.search(body.replace("\\n", "\n")):
                yield "private-key", m.start(), end_match.end(), "[REDACTED:private-key]"
            continue
        # No footer in reach (a truncated hunk): the block ends where base64 lines stop.
        line_end = text.find("\n", m.end())
        line_end = len(text) if line_end < 0 else line_end
        end = m.end()
        strong = bool(_BASE64_RUN.search(text[m.end() : line_end].replace("\\n", " ")))
        if strong:
            end = line_end  # an escaped body on the BEGIN line itself ("-----\\nMIIE...")
        pos = line_end
        while pos < len(text):
            nxt = text.find("\n", pos + 1)
            nxt = len(text) if nxt < 0 else nxt
            segment = text[pos + 1 : nxt]
            if not _PEM_BODY_LINE.fullmatch(segment):
                break
            strong = strong or bool(_BASE64_RUN.search(segment))
            end = pos = nxt
        if strong and end > m.end():
            yield "private-key", m.start(), end, "[REDACTED:private-key]"


def _private_key_tail(text: str) -> Iterator[_Candidate]:
    """The body of a key block whose BEGIN line came earlier (another hunk of the same file, or
    a key file whose header is outside the diff): every body-shaped line up to the first END
    line (context lines in between are left as they are), and the END line itself."""
    footer = _PEM_END.search(text)
    region = text if footer is None else text[: footer.end()]
    pos = 0
    while pos <= len(region):
        nxt = region.find("\n", pos)
        nxt = len(region) if nxt < 0 else nxt
        segment = region[pos:nxt]
        if footer is not None and nxt == len(region):
            yield "private-key", pos, nxt, "[REDACTED:private-key]"  # up to and with the END line
        elif _is_body_line(segment):
            yield "private-key", pos, nxt, "[REDACTED:private-key]"
        pos = nxt + 1


def _is_body_line(segment: str) -> bool:
    """A line of a key's base64 body: body-shaped, and either long or not plain letters."""
    if not segment.strip() or not _PEM_BODY_LINE.fullmatch(segment):
        return False
    run = max((len(m.group(0)) for m in re.finditer(r"[A-Za-z0-9+/=]+", segment)), default=0)
    return run >= 40 or (run >= 4 and bool(re.search(r"[0-9+/=]", segment)))


def ends_inside_private_key(text: str, inside: bool = False) -> bool:
    """Whether a key block is still open at the end of `text`, so that the next hunk of the file
    continues it: a BEGIN followed only by body lines, or (when `inside`, an earlier text left a
    block open) no END and at least one body line or nothing at all."""
    begins = list(_PEM_BEGIN.finditer(text)) if "-----BEGIN " in text else []
    if begins:
        rest = text[begins[-1].end() :]
        if _PEM_END.search(rest):
            return False
        return all(not line.strip() or _PEM_BODY_LINE.fullmatch(line) for line in rest.split("\n")[1:])
    if not inside or _PEM_END.search(text):
        return False
    lines = text.split("\n")
    return all(not line.strip() for line in lines) or any(
        _is_body_line(line) and len(line.strip()) >= 40 for line in lines
    )


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _url_passwords(text: str) -> Iterator[_Candidate]:
    # A match starts where the run of scheme characters before its `://` starts (lookbehind).
    starts: set[int] = set()
    for at in positions(text, "://"):
        while at > 0 and text[at - 1] in _SCHEME_CHARS:
            at -= 1
        starts.add(at)
    for m in matches_at(_URL_PASSWORD, text, sorted(starts)):
        if not is_placeholder(m.group(1)):
            yield "url-password", m.start(1), m.end(1), "[REDACTED:password]"


def _aws_secrets(text: str) -> Iterator[_Candidate]:
    for m in _AWS_SECRET.finditer(text):
        if not is_placeholder(m.group(1)):
            yield "aws-secret-key", m.start(1), m.end(1), "[REDACTED:aws-secret-key]"


# A 40-character AWS secret has no prefix of its own; next to an access key id (within a few
# lines: `aws configure` output, a credentials CSV, two positional arguments) it is one.
_AWS_BARE_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_NEAR = 320  # characters either side of the key id


def _aws_bare_secrets(text: str) -> Iterator[_Candidate]:
    pattern = _PREFIXED[0][1]  # the access key id rule
    for key in pattern.finditer(text):
        lo, hi = max(0, key.start() - _AWS_NEAR), min(len(text), key.end() + _AWS_NEAR)
        for m in _AWS_BARE_SECRET.finditer(text, lo, hi):
            value = m.group(0)
            classes = sum(bool(re.search(c, value)) for c in ("[A-Z]", "[a-z]", "[0-9]"))
            # Random base64 has runs of letters too: 1 in 100 of 40 random characters is over
            # half "word-like", 1 in 1,000 over 0.67; names and paths (`ThisIsMyClassName1234`,
            # `src/main/java/...`) are over 0.7.
            if classes == 3 and not is_placeholder(value) and _wordlike_share(value) <= 0.7:
                yield "aws-secret-key", m.start(), m.end(), "[REDACTED:aws-secret-key]"


def _wordlike_share(value: str) -> float:
    return sum(len(m.group(0)) for m in _WORDLIKE.finditer(value)) / max(1, len(value))


# Facts from gitleaks' rule set (config/gitleaks.toml: `azure-storage-key`-style connection
# strings, `curl-auth-header`, `curl-auth-user`, `npm-access-token`, `gitlab-*`, `slack-*`) and
# detect-secrets' plugins (`AzureStorageKeyDetector`: `AccountKey=` + base64; `NpmDetector`:
# `_authToken=`; `BasicAuthDetector`: `scheme://user:pass@host`), re-expressed here.
_AZURE = re.compile(
    r"(?i)\b(?:AccountKey|SharedAccessKey|SharedAccessSignature|sig)\s*=\s*([A-Za-z0-9+/%]{20,}(?:={0,2}|(?:%3D){0,2}))"
)
# `Authorization: Bearer x`, `-H "Authorization: token x"`, `{"authorization": "Basic x"}`,
# and the common API-key headers. The value must be a credential-shaped run, not code.
_AUTH_HEADER = re.compile(
    r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?P<scheme>bearer|token|basic|bot|digest|apikey|sso-key)?"
    r"\s*(?P<v>[A-Za-z0-9._~+/\-]{8,}=*)"
    r"|\b(?:x-api-key|x-auth-token|private-token|x-access-token|api-key|x-goog-api-key|ocp-apim-subscription-key)"
    r"[\"']?\s*[:=]\s*[\"']?(?P<hv>[A-Za-z0-9._~+/\-]{12,}=*)"
    r"|\bbearer\s+(?P<bv>[A-Za-z0-9._~+/\-]{16,}=*)"
)
_NETRC_INLINE = re.compile(r"(?i)\b(?:machine\s+\S+|default)(?:\s+(?:login|account)\s+\S+)*\s+password\s+(\S+)")
_NETRC_FILE = re.compile(r"(?im)(?:^|\s)password\s+(\S+)")
_CLI_PASSWORD = re.compile(
    r"(?i)\bcurl\b[^\n]*?\s(?:-u|--user|--proxy-user|-U)(?:\s+|=)?[\"']?[^\s:\"']*:(?P<c>[^\s\"']+)"
    r"|--(?:http-|ftp-|proxy-)?password(?:=|\s+)[\"']?(?P<p>[^\s\"']+)"
    r"|\bsshpass\s+-p\s*[\"']?(?P<s>[^\s\"']+)"
)
# `?user=app&password=x` (JDBC, ODBC and DSN query strings), `;Password=x;` is the assignment
# rule's; `<password>x</password>` (Maven settings, Spring, .NET config); `mysql -pSECRET`.
_QUERY_PASSWORD = re.compile(
    r"(?i)[?&](?:password|passwd|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?token|auth[_\-]?token)"
    r"=(?P<v>[^\s&#\"'<>]{4,256})"
)
_XML_PASSWORD = re.compile(
    r"(?i)<(?P<tag>[\w.\-]*(?:password|passwd|secret|token|api[_\-]?key|apikey|private[_\-]?key))>"
    r"(?P<v>[^<>\s]{4,512})</(?P=tag)>"
)
_MYSQL_PASSWORD = re.compile(r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p(?P<v>[^\s\"']{4,})")
_NPM_AUTH = re.compile(r"(?i)(?:^|[\s:\"'])_(?:authToken|auth|password)[\"']?\s*[=:]\s*[\"']?([^\s\"',;]+)")


def _credential_shaped(value: str, *, scheme: bool) -> bool:
    if is_placeholder(value) or len(value) < 8:
        return False
    if _WORDS_ONLY.fullmatch(value) or re.fullmatch(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+(?:\(\))?", value):
        return False  # `request.headers`, `Bearer authentication`: names, not values
    return scheme or bool(re.search(r"\d", value) and re.search(r"[A-Za-z]", value))


def _azure_keys(text: str) -> Iterator[_Candidate]:
    for m in _AZURE.finditer(text):
        if not is_placeholder(m.group(1)):
            yield "azure-key", m.start(1), m.end(1), "[REDACTED:azure-key]"


# Where `_AUTH_HEADER` and `_CLI_PASSWORD` matches start: on these literals, or (`back`) that
# many characters before them (`proxy-authorization`, `--http-password`).
_AUTH_HEADER_STARTS = (
    "bearer",
    "x-api-key",
    "x-auth-token",
    "private-token",
    "x-access-token",
    "api-key",
    "x-goog-api-key",
    "ocp-apim-subscription-key",
)


def _auth_headers(text: str, lower: str) -> Iterator[_Candidate]:
    starts = sorted({*starts_of(lower, ("authorization",), back=(0, 6)), *starts_of(lower, _AUTH_HEADER_STARTS)})
    for m in matches_at(_AUTH_HEADER, text, starts):
        group = "v" if m.group("v") is not None else "hv" if m.group("hv") is not None else "bv"
        value = m.group(group)
        if _credential_shaped(value, scheme=group == "bv" or m.group("scheme") is not None):
            yield "auth-header", m.start(group), m.end(group), "[REDACTED:secret]"


def _netrc(text: str, netrc_file: bool) -> Iterator[_Candidate]:
    for m in (_NETRC_FILE if netrc_file else _NETRC_INLINE).finditer(text):
        if not is_placeholder(m.group(1)):
            yield "netrc-password", m.start(1), m.end(1), "[REDACTED:password]"


def _cli_passwords(text: str, lower: str) -> Iterator[_Candidate]:
    # `--password`, `--http-password`, `--ftp-password`, `--proxy-password`
    starts = sorted({*starts_of(lower, ("curl", "sshpass")), *starts_of(lower, ("password",), back=(2, 6, 7, 8))})
    for m in matches_at(_CLI_PASSWORD, text, starts):
        group = next(g for g in ("c", "p", "s") if m.group(g) is not None)
        if not is_placeholder(m.group(group)):
            yield "cli-password", m.start(group), m.end(group), "[REDACTED:password]"


def _keyed_values(text: str, lower: str) -> Iterator[_Candidate]:
    """Query-string, XML-element and `mysql -p` credentials (one rule family, one gate)."""
    rules = ((_QUERY_PASSWORD, "query-password"), (_XML_PASSWORD, "xml-password"), (_MYSQL_PASSWORD, "cli-password"))
    for pattern, kind in rules:
        if kind == "cli-password" and not _gate(lower, ("mysql", "mariadb")):
            continue
        for m in pattern.finditer(text):
            value = m.group("v")
            if is_placeholder(value) or (_WORDS_ONLY.fullmatch(value) and kind != "xml-password"):
                continue
            yield kind, m.start("v"), m.end("v"), "[REDACTED:secret]"


def _npm_auth(text: str) -> Iterator[_Candidate]:
    for m in _NPM_AUTH.finditer(text):
        if not is_placeholder(m.group(1)):
            yield "npm-token", m.start(1), m.end(1), "[REDACTED:secret]"


# Every `_ASSIGNMENT` name holds one of these (each alternative of `_SECRET_NAME` contains one,
# matched with the same IGNORECASE) with only name characters before it, so a match starts at
# the start of that run of name characters, after a `.` or `-` in it, or on a quote before it:
# the regex is tried there only (it was most of the secret scan on real Java diffs, issue #13).
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _assignment_starts(lower: str) -> list[int]:
    starts: set[int] = set()
    for word in _ASSIGNMENT_GATE:
        for at in positions(lower, word):
            while at > 0 and lower[at - 1] in _NAME_CHARS:
                if lower[at - 1] in ".-":
                    starts.add(at)
                at -= 1
            starts.add(at)
            if at > 0 and lower[at - 1] in "\"'":
                starts.add(at - 1)
    return sorted(starts)


def _assignments(text: str, config: bool, lower: str) -> Iterator[_Candidate]:
    for m in matches_at(_ASSIGNMENT, text, _assignment_starts(lower)):
        name = m.group("name")
        env_style = False
        if m.group("qv") is not None:
            value, group = m.group("qv"), "qv"
        else:
            value, group = m.group("uv"), "uv"
            # Unquoted values are code (`token = get_token()`, `password: str`) unless the
            # file is config or the value cannot be an identifier (has a digit and a letter).
            if value.endswith((":", "=")):
                continue
            # `DB_PASSWORD=hunter` (an environment variable, in a Dockerfile, a shell script or
            # the text git puts after a hunk header) reads as config whatever the file.
            env_style = m.group("op") == "=" and bool(_ENV_NAME.fullmatch(name))
            if not (config or env_style) and (re.fullmatch(r"[A-Za-z_][\w.]*", value) or not re.search(r"\d", value)):
                continue
        if len(value) < 6 or " " in value.strip() or is_placeholder(value):
            continue
        # A password may well be words (`supersecret`); a token or a "secret" setting that is
        # words is a name (`token: "refresh"`, `secret: my-app-secret`).
        passwordish = bool(_PASSWORD_NAME.search(name)) and (group == "qv" or config or env_style)
        if (_WORDS_ONLY.fullmatch(value) and not (passwordish and re.fullmatch(r"[A-Za-z]+", value))) or re.fullmatch(
            r"[\d.]+", value
        ):
            continue  # `token: "refresh"`, `secret: my-app-secret`, `password_min_length: 12`
        if value.lower() == name.lower() or _SETTING_NAME.fullmatch(name):
            continue
        yield "assignment", m.start(group), m.end(group), "[REDACTED:secret]"


def _high_entropy(text: str) -> Iterator[_Candidate]:
    for m in _CONFIG_VALUE.finditer(text):
        key, value = m.group("key"), m.group("value")
        if _NOT_SECRET_KEYS.search(key) or is_placeholder(value) or "://" in value:
            continue
        if _looks_random(value):
            yield "high-entropy", m.start("value"), m.end("value"), "[REDACTED:high-entropy]"


# detect-secrets (Yelp, Apache-2.0) as a second, maintained rule set: every regex plugin but
# the keyword one (our assignment rule is stricter about code) and the public-IP and bare
# private-key-header ones (not credentials; key blocks are ours, body and all). Its patterns
# carry no boundaries, so a match glued to more letters or digits is dropped here: a
# Twilio-shaped run inside a longer hash is not a key. (Checked after the match, not as a
# lookbehind, which would cost the regex engine its fast literal-prefix search.) Its
# candidates rank last, so they only fill what ours miss.
_DETECT_SECRETS_SKIP = frozenset({"KeywordDetector", "IPPublicDetector", "PrivateKeyDetector"})
# Literals each plugin's matches contain (read off its patterns), tried as substring tests
# first like our own gates; lower-cased where the plugin matches names case-insensitively. A
# plugin a later detect-secrets adds has no gate and always runs.
_DETECT_SECRETS_GATES: dict[str, tuple[tuple[str, ...], bool]] = {
    "Artifactory Credentials": (("AKC", "AP"), False),
    "AWS Access Key": (("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"), False),
    "Azure Storage Account access key": (("AccountKey=",), False),
    "Basic Auth Credentials": (("://",), False),
    "Cloudant Credentials": (("cloudant", "cl_", "cl-", "clou"), True),
    "Discord Bot Token": ((".",), False),
    "GitHub Token": (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False),
    "GitLab Token": (("gl", "GR1348941"), False),
    # Its vendor prefix is optional (`api_key = <44 chars>`), which our assignment rule covers.
    "IBM Cloud IAM Key": (("ibm", "iam", "cloud"), True),
    "IBM COS HMAC Credentials": (("cos",), True),
    "JSON Web Token": (("eyJ",), False),
    "Mailchimp Access Key": (("-us",), False),
    "NPM tokens": (("_authToken",), False),
    "OpenAI Token": (("T3BlbkFJ",), False),
    "PyPI Token": (("pypi-",), False),
    "SendGrid API Key": (("SG.",), False),
    "Slack Token": (("xox", "hooks.slack"), False),
    "SoftLayer Credentials": (("softlayer", "sl_", "sl-"), True),
    "Square OAuth Secret": (("sq0",), False),
    "Stripe Access Key": (("k_live_",), False),
    "Telegram Bot Token": ((":AA",), False),  # bot tokens' secret part starts with AA
    "Twilio API Key": (("AC", "SK"), False),
}


@cache
def _detect_secrets_rules() -> tuple[tuple[str, re.Pattern[str]], ...]:
    import importlib
    import inspect
    import pkgutil

    import detect_secrets.plugins as plugins
    from detect_secrets.plugins.base import RegexBasedDetector

    rules: list[tuple[str, re.Pattern[str]]] = []
    for info in sorted(pkgutil.iter_modules(plugins.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{plugins.__name__}.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, RegexBasedDetector):
                continue
            if name in _DETECT_SECRETS_SKIP or inspect.isabstract(cls):
                continue
            rules.extend((str(cls.secret_type), pattern) for pattern in cls().denylist)
    return tuple(rules)


def _glued(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isascii() and text[start - 1].isalnum()) or (
        end < len(text) and text[end].isascii() and text[end].isalnum()
    )


def _detect_secrets(text: str, hay: _Haystack, rules: _Rules) -> Iterator[_Candidate]:
    for secret_type, patterns, gate in rules.detect:
        if gate is not None:
            needles, folded = gate
            if not _gate(hay.lower if folded else hay.text, needles):
                continue
        yield from _detect_matches(text, secret_type, patterns, hay.full_lower)


# Where some detect-secrets patterns (the ones whose gates open often on code, read off their
# source) can start: (literals, how far before one a match may start). A pattern not listed,
# or changed by a later release (the key is its source), is searched over the text as before.
_DETECT_SECRETS_STARTS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    r'(?:\s|=|:|"|^)AKC[a-zA-Z0-9]{10,}(?:\s|"|$)': (("AKC",), (0, 1)),
    r'(?:\s|=|:|"|^)AP[\dABCDEF][a-zA-Z0-9]{8,}(?:\s|"|$)': (("AP",), (0, 1)),
    # Cloudant names: `[`, a quote, then `cl...` (the key word follows).
    "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([0-9a-f]{64})(?:\"|\\'|)": (  # noqa: E501 (the plugin's source, verbatim)
        ("cl",),
        (0, 1, 2),
    ),
    "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-z]{24})(?:\"|\\'|)": (  # noqa: E501 (the plugin's source, verbatim)
        ("cl",),
        (0, 1, 2),
    ),
    r"(?:https?\:\/\/)[\w\-]+\:([0-9a-f]{64})\@[\w\-]+\.cloudant\.com": (("http",), (0,)),
    r"(?:https?\:\/\/)[\w\-]+\:([a-z]{24})\@[\w\-]+\.cloudant\.com": (("http",), (0,)),
    # IBM COS: up to 15 characters (`["ibm-cos-hmac_`) before `secret`; SoftLayer names start `sl`.
    "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:(?:ibm)?[-_]?cos[-_]?(?:hmac)?|)(?:_|-|)(?:secret[-_]?(?:access)?[-_]?key)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-f0-9]{48}(?![a-f0-9]))(?:\"|\\'|)": (  # noqa: E501 (the plugin's source, verbatim)
        ("secret",),
        tuple(range(16)),
    ),
    "(?:(?<=\\W)|(?<=^))(?:\\[|)(?:\"|\\'|)(?:softlayer|sl)(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token)(?:\"|\\'|)(?:\\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)(?:\"|\\'|)([a-z0-9]{64})(?:\"|\\'|)": (  # noqa: E501 (the plugin's source, verbatim)
        ("sl",),
        (0, 1, 2),
    ),
    r"(?:http|https)://api.softlayer.com/soap/(?:v3|v3.1)/([a-z0-9]{64})": (("http",), (0,)),
    r"[0-9a-z]{32}-us[0-9]{1,2}": (("-us",), (32,)),
    r"AC[a-z0-9]{32}": (("AC",), (0,)),
    r"SK[a-z0-9]{32}": (("SK",), (0,)),
}


def _detect_matches(
    text: str, secret_type: str, patterns: tuple[re.Pattern[str], ...], lower: str
) -> Iterator[_Candidate]:
    for pattern in patterns:
        anchors = _DETECT_SECRETS_STARTS.get(pattern.pattern)
        if anchors is None:
            found = pattern.finditer(text)
        else:
            literals, back = anchors
            folded = bool(pattern.flags & re.IGNORECASE)
            found = matches_at(pattern, text, starts_of(lower if folded else text, literals, back))
        for m in found:
            if _glued(text, m.start(), m.end()):
                continue
            # A plugin whose pattern has groups reports the first non-empty one as the secret.
            span = next((m.span(i) for i in range(1, (m.lastindex or 0) + 1) if m.group(i)), m.span())
            value = text[span[0] : span[1]].strip(" \t\"'=:")
            # Generated credentials mix letters and digits; names and words do not.
            mixed = re.search(r"\d", value) and re.search("[A-Za-z]", value)
            if len(value) < 8 or is_placeholder(value) or not mixed:
                continue
            start = text.index(value, span[0])
            yield "detect-secrets", start, start + len(value), f"[REDACTED:{secret_type}]"


@dataclass(frozen=True, slots=True)
class _Rules:
    """The gated rules that may match in some text: those whose gate is open on it.

    A gate open on a piece of a text is open on the whole text (each needle found in the piece
    is found in the whole, lower-cased or not), so the rules open on a PR's added lines, joined,
    are a superset of those open on any one run of it: `scan_diff` computes them once per PR and
    `find_secrets` still tries each rule's gate on the run itself, only for the rules left open.
    `families` names the rule families of `find_secrets` (each with its own gate) left open.
    """

    prefixed: tuple[tuple[str, re.Pattern[str], int], ...]
    detect: tuple[tuple[str, tuple[re.Pattern[str], ...], tuple[tuple[str, ...], bool] | None], ...]
    families: frozenset[str] = frozenset()


_FAMILIES = frozenset(
    {
        "pem",
        "aws-secret",
        "aws-bare",
        "azure",
        "url",
        "auth",
        "netrc",
        "netrc-inline",
        "cli",
        "npm",
        "keyed",
        "assignment",
    }
)


def _open_families(text: str, hay: _Haystack, within: frozenset[str] = _FAMILIES) -> frozenset[str]:
    """The families among `within` whose gates are open on `text` (`hay` its haystacks)."""
    lower = hay.lower
    gates = (
        ("pem", text, ("-----BEGIN ",)),  # a needle with a space: tested on the text itself
        ("aws-bare", hay.text, _PREFIX_GATES["aws-access-key"]),
        ("azure", lower, ("accountkey", "sharedaccess", "sig=")),
        ("url", hay.text, ("://",)),
        ("auth", lower, ("authoriz", "bearer", "key", "token")),
        ("netrc", lower, ("password",)),
        ("netrc-inline", lower, ("machine", "default")),
        ("cli", lower, ("curl", "password", "sshpass")),
        ("npm", lower, ("_auth", "_password")),
        ("assignment", lower, _ASSIGNMENT_GATE),
    )
    found = {name for name, haystack, needles in gates if name in within and _gate(haystack, needles)}
    if "aws-secret" in within and _gate(lower, ("aws",)) and _gate(lower, ("secret",)):
        found.add("aws-secret")
    if (
        "keyed" in within
        and (_gate(lower, ("=", "</")) or " -p" in hay.full_lower)
        and _gate(lower, (*_ASSIGNMENT_GATE, "mysql", "mariadb"))
    ):
        found.add("keyed")
    return frozenset(found)


# Above this many characters the gates' needles are looked for in the text's distinct
# whitespace-separated tokens, joined, instead of the text: no needle holds whitespace (the two
# that do are tested on the text), so each is in one or the other alike, and a large file's
# added lines repeat their tokens so much that the distinct ones are a fraction of its size.
# About a hundred needles are tested per text, most of them absent, each one pass (issue #13).
_TOKENS_ABOVE = 2048


@dataclass(frozen=True, slots=True)
class _Haystack:
    """Where a text's gates look: `text` and `lower` hold the same needles as the text and its
    `fold_lower`, `full_lower` is that `fold_lower` itself."""

    text: str
    lower: str
    full_lower: str


def _haystack(text: str, lower: str) -> _Haystack:
    if len(text) <= _TOKENS_ABOVE:
        return _Haystack(text, lower, lower)
    tokens = "\n".join(set(text.split()))
    return _Haystack(tokens, fold_lower(tokens), lower)


@cache
def _all_rules() -> _Rules:
    by_type: dict[str, list[re.Pattern[str]]] = {}
    for secret_type, pattern in _detect_secrets_rules():
        by_type.setdefault(secret_type, []).append(pattern)
    return _Rules(
        prefixed=_PREFIXED,
        detect=tuple(
            (secret_type, tuple(patterns), _DETECT_SECRETS_GATES.get(secret_type))
            for secret_type, patterns in by_type.items()
        ),
        families=_FAMILIES,
    )


def rules_within(text: str, within: _Rules | None = None) -> _Rules:
    """The rules `find_secrets` may need on any part of `text` (pass as its `rules`); `within`:
    the rules of a text that holds this one."""
    every = within if within is not None else _all_rules()
    hay = _haystack(text, fold_lower(text))
    return _Rules(
        prefixed=tuple(rule for rule in every.prefixed if _gate(hay.text, _PREFIX_GATES[rule[0]])),
        detect=tuple(
            rule for rule in every.detect if rule[2] is None or _gate(hay.lower if rule[2][1] else hay.text, rule[2][0])
        ),
        families=_open_families(text, hay, every.families),
    )


# Earlier rules win when two candidates overlap: a GitHub token inside `token = "..."` is
# reported as a GitHub token, not as a generic assignment.
def find_secrets(
    text: str, path: str | None = None, *, in_private_key: bool = False, rules: _Rules | None = None
) -> tuple[SecretFinding, ...]:
    """All secrets in `text`, in order, without overlaps.

    `path` (the file the text comes from) switches on the rules that only make sense in config
    files: unquoted `key: value` credentials and high-entropy values. `in_private_key` says the
    text starts inside a key block opened earlier (see `ends_inside_private_key`); a key file's
    text always may. `rules` (from `rules_within` on a text that holds this one) only saves
    time: the findings are the same without it.
    """
    if not text:
        return ()
    if rules is None:
        rules = _all_rules()
    config = _is_config_path(path)
    # Case-insensitive rules are gated and anchored on `fold_lower(text)`: each literal they can
    # match is spelled there in lower case at the same offset, for non-ASCII text too.
    lower = fold_lower(text)
    hay = _haystack(text, lower)
    families = _open_families(text, hay, rules.families)
    ranked: list[tuple[int, _Candidate]] = []
    # (rank, rule) pairs; the rank orders overlapping candidates, so it must not depend on the gates.
    sources: list[tuple[int, Iterator[_Candidate]]] = []
    if in_private_key or (is_key_path(path) and "-----BEGIN " not in text):
        sources.append((0, _private_key_tail(text)))
    if "pem" in families:
        sources.append((0, _private_keys(text)))
    sources.append((1, _prefixed(text, rules, hay.text)))
    if "aws-secret" in families:
        sources.append((2, _aws_secrets(text)))
    if "aws-bare" in families:
        sources.append((2, _aws_bare_secrets(text)))
    if "azure" in families:
        sources.append((2, _azure_keys(text)))
    if "url" in families:
        sources.append((3, _url_passwords(text)))
    if "auth" in families:
        sources.append((3, _auth_headers(text, lower)))
    if "netrc" in families:
        netrc_file = bool(path) and PurePosixPath(path or "").name.lower() in _NETRC_FILES
        if netrc_file or "netrc-inline" in families:
            sources.append((3, _netrc(text, netrc_file)))
    if "cli" in families:
        sources.append((3, _cli_passwords(text, lower)))
    if "npm" in families:
        sources.append((3, _npm_auth(text)))
    if "keyed" in families:
        sources.append((3, _keyed_values(text, lower)))
    if "assignment" in families:
        sources.append((4, _assignments(text, config, lower)))
    if config:
        sources.append((5, _high_entropy(text)))
    sources.append((6, _detect_secrets(text, hay, rules)))
    for rank, source in sources:
        ranked.extend((rank, cand) for cand in source)
    if not ranked:
        return ()
    ranked.sort(key=lambda rc: (rc[0], rc[1][1]))
    taken: list[_Candidate] = []
    for _, cand in ranked:
        if all(cand[2] <= t[1] or cand[1] >= t[2] for t in taken):
            taken.append(cand)
    taken.sort(key=lambda c: c[1])
    newlines = [i for i, ch in enumerate(text) if ch == "\n"] if "\n" in text else []
    return tuple(
        SecretFinding(kind, start, end, bisect_right(newlines, start - 1), masked) for kind, start, end, masked in taken
    )


def _apply(text: str, findings: tuple[SecretFinding, ...]) -> str:
    if not findings:
        return text
    out: list[str] = []
    pos = 0
    for f in findings:
        out.append(text[pos : f.start])
        out.append(f.masked)
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str, path: str | None = None) -> str:
    """`text` with every credential `find_secrets` sees replaced by its mask.

    Use it on anything that leaves the process: PR titles and bodies in summaries, flag
    evidence, diff text sent to an LLM, log lines. `path` enables the config-file rules.
    """
    return _apply(text, find_secrets(text, path))


def redact_pull_request(pr: PullRequest) -> PullRequest:
    """The same PR with its free text (title, body, commit messages, trailers) redacted.

    For anything that shows or sends a PR's words (an LLM prompt, a report); the diff bytes are
    left alone because their line numbers must stay exact, redact diff text when you render it.
    """
    return replace(
        pr,
        title=redact(pr.title),
        body=redact(pr.body or ""),
        commit_messages=tuple(redact(m) for m in pr.commit_messages),
        trailers=tuple(replace(t, value=redact(t.value)) for t in pr.trailers),
    )


# --------------------------------------------------------------------------------------------
# Diffs

_EVIDENCE_CHARS = 120
_MAX_FLAGS = 50


def _line_excerpt(texts: list[str], index: int, findings: tuple[SecretFinding, ...]) -> str:
    """Line `index` of a run with every finding that touches it masked (never the value)."""
    line_start = sum(len(t) + 1 for t in texts[:index])
    text = texts[index]
    out: list[str] = []
    pos = 0
    for f in findings:
        s, e = f.start - line_start, f.end - line_start
        if e <= 0 or s >= len(text):
            continue
        out.append(text[pos : max(s, 0)])
        out.append(f.masked if s >= 0 else "[REDACTED]")
        pos = min(e, len(text))
    out.append(text[pos:])
    excerpt = "".join(out).strip()
    if len(excerpt) > _EVIDENCE_CHARS:
        excerpt = excerpt[: _EVIDENCE_CHARS - 1] + "…"
    return excerpt


def hunk_key_states(file: FileDiff) -> tuple[tuple[bool, bool], ...]:
    """For each hunk of `file`: whether its old side and its new side start inside a private
    key block opened by an earlier hunk (the key's BEGIN line in hunk 1, its body in hunk 2).
    Redaction passes these to `find_secrets` so a body never goes out because its header did
    not come with it."""
    states: list[tuple[bool, bool]] = []
    old = new = False
    carried = any("PRIVATE KEY" in h.body for h in file.hunks)
    added = False  # the same, over added lines only (context may interrupt a pasted key)
    for hunk in file.hunks:
        states.append((old, new or added))
        if not carried:
            continue
        rows = list(hunk.rows())
        old = ends_inside_private_key("\n".join(t for k, t in rows if k in " -"), old)
        new = ends_inside_private_key("\n".join(t for k, t in rows if k in " +"), new or added)
        for texts, _ in hunk.added_runs():
            added = ends_inside_private_key("\n".join(texts), added)
    return tuple(states)


def scan_diff(diff: ParsedDiff) -> tuple[Flag, ...]:
    """A security flag for each added line that carries a secret.

    Only added lines count: a PR that *removes* a leaked key is a fix, not a leak. The flag
    names the file and new-side line; its evidence is the line with the secret masked.
    """
    flags: list[Flag] = []
    seen: set[tuple[str, int, str]] = set()
    files = [
        (file, [(texts, numbers, "\n".join(texts)) for hunk in file.hunks for texts, numbers in hunk.added_runs()])
        for file in diff.files
        if not file.binary and file.hunks
    ]
    added = "\n".join(joined for _, runs in files for _, _, joined in runs)
    pr_rules = rules_within(added)
    for file, runs in files:
        # A key block stays open from one added run to the next (its BEGIN line in one hunk,
        # its body in a later one): the next run is read as its continuation.
        inside = False
        rules = pr_rules
        for texts, numbers, joined in runs:
            findings = find_secrets(joined, file.path, in_private_key=inside, rules=rules)
            inside = ends_inside_private_key(joined, inside)
            for f in findings:
                line_no = numbers[f.line]
                key = (file.path, line_no, f.kind)
                if key in seen:
                    continue
                seen.add(key)
                excerpt = _line_excerpt(texts, f.line, findings)
                flags.append(
                    Flag(
                        kind=FlagKind.SECURITY,
                        severity=f.severity,
                        evidence=f"{f.description} added: {excerpt}",
                        file=file.path,
                        line=line_no,
                        secret=True,
                    )
                )
                if len(flags) >= _MAX_FLAGS:
                    return tuple(flags)
    return tuple(flags)
