"""`git format-patch` output (an mbox of one or more mails) -> the parts of a `PullRequest`.

Input: the bytes of a `.patch` file. Output: a `PatchSeries` (author, subject, date, message
body, trailers and the diff of each mail) that `triage.sources.patch` turns into one PR.

Why parse by hand instead of with `mailbox`/`email` alone: the diff must reach the parse stage
byte for byte (any encoding, CRLF, "\\ No newline at end of file"), so only the *headers* go
through `email` (which decodes RFC 2047 words and folded lines); the body is cut with plain
byte searches:

    From <sha> Mon Sep 17 00:00:00 2001     <- one mail per such line
    From: Name <email>
    Subject: [PATCH 1/2] subject
    Date: ...

    body ... trailers
    ---
     diffstat
    diff --git ...                          <- the diff starts here
    --
    2.43.0                                  <- signature, dropped

A `[PATCH 0/n]` cover letter, when present, gives the title and body of the whole series.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import default as email_policy
from email.utils import getaddresses, parsedate_to_datetime

from triage.models import Trailer
from triage.sources.trailers import parse_trailers
from triage.timeutil import as_utc

__all__ = ["Patch", "PatchSeries", "is_mbox", "login_from_email", "parse_mbox"]

# The magic first line of every mail `git format-patch` writes (the date is a fixed constant).
_FROM_LINE = re.compile(rb"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001[ \t]*\r?$", re.MULTILINE)
# A mail saved without the From_ line still starts with headers including From: and Subject:.
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:\[[^\]]*\]|re:|fwd?:)\s*)+", re.IGNORECASE)
_COVER = re.compile(r"\[[^\]]*\b0+/\d+\]")
_DIFF_START = re.compile(rb"^(?:diff --git |diff --cc |Index: |--- \S)", re.MULTILINE)
_SEPARATOR = re.compile(rb"^---[ \t]*\r?$", re.MULTILINE)
_SIGNATURE = re.compile(rb"\n-- \r?\n[^\n]{0,80}(?:\r?\n)*\Z")
_NOREPLY = re.compile(
    r"^(?:\d+\+)?(?P<login>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?)@users\.noreply\.github\.com$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Patch:
    """One mail of a series. `errors` are problems with this mail's headers."""

    author_name: str
    author_email: str | None
    subject: str  # with the [PATCH n/m] prefix removed
    date: datetime | None
    body: str  # the message between the headers and the `---` separator, trailers included
    trailers: tuple[Trailer, ...]
    diff: bytes
    cover_letter: bool
    errors: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The commit message as git would show it: subject, blank line, body."""
        return f"{self.subject}\n\n{self.body}".strip() if self.body else self.subject


@dataclass(frozen=True, slots=True)
class PatchSeries:
    """All mails of one file, oldest first; the cover letter (if any) is kept apart."""

    patches: tuple[Patch, ...]
    cover: Patch | None = None

    @property
    def diff(self) -> bytes:
        """The diffs of every patch, in order: a series is reviewed as one PR."""
        return b"".join(p.diff if p.diff.endswith(b"\n") else p.diff + b"\n" for p in self.patches if p.diff)


def login_from_email(email: str | None) -> str:
    """The GitHub login an address stands for: the login of a noreply address
    (`123+jane@users.noreply.github.com` -> `jane`), else the local part (`jane@x.org` -> `jane`).
    Patches carry no login, and the owner rules need a name to put on the item."""
    if not email:
        return ""
    m = _NOREPLY.match(email.strip())
    if m:
        return m.group("login")
    return email.strip().split("@", 1)[0]


def is_mbox(data: bytes) -> bool:
    """Does this file look like `git format-patch` output (or a saved patch mail)?"""
    head = data.lstrip(b"\xef\xbb\xbf")[:4096]
    if _FROM_LINE.match(head):
        return True
    lines = head.split(b"\n", 40)
    headers = []
    for line in lines:
        if not line.strip():
            break
        if not _HEADER_LINE.match(line) and not line[:1].isspace():
            return False
        headers.append(line.split(b":", 1)[0].lower())
    return b"from" in headers and b"subject" in headers and len(headers) < len(lines)


def _split_mails(data: bytes) -> list[bytes]:
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    if not starts:
        return [data]
    ends = [*starts[1:], len(data)]
    mails = []
    for start, end in zip(starts, ends, strict=True):
        mail = data[start:end]
        mails.append(mail.split(b"\n", 1)[1] if b"\n" in mail else b"")
    return mails


def _decode_body(raw: bytes, transfer_encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding (format-patch writes 8bit; mailers may not)."""
    encoding = transfer_encoding.strip().lower()
    if encoding == "quoted-printable":
        return quopri.decodestring(raw)
    if encoding == "base64":
        return base64.b64decode(raw)
    return raw


def _parse_date(value: str) -> datetime:
    return as_utc(parsedate_to_datetime(value))


def _parse_mail(mail: bytes, where: str) -> Patch:
    errors: list[str] = []
    sep = re.search(rb"\r?\n\r?\n", mail)
    head, raw_body = (mail[: sep.start()], mail[sep.end() :]) if sep else (mail, b"")
    headers = BytesHeaderParser(policy=email_policy).parsebytes(head + b"\n\n")

    name, email = "", None
    from_value = headers.get("From")
    if from_value is None:
        errors.append(f"{where}: no From: header")
    else:
        try:
            addresses = from_value.addresses
            first: Address | None = addresses[0] if addresses else None
            if first is not None:
                name, email = first.display_name, first.addr_spec or None
        except (AttributeError, IndexError, ValueError):
            pairs = getaddresses([str(from_value)])
            if pairs:
                name, email = pairs[0][0], pairs[0][1] or None
        if not name and not email:
            errors.append(f"{where}: unreadable From: header {str(from_value)[:80]!r}")

    raw_subject = str(headers.get("Subject") or "")
    raw_subject = " ".join(raw_subject.split())
    subject = _SUBJECT_PREFIX.sub("", raw_subject).strip()
    if not subject:
        errors.append(f"{where}: no Subject: header")

    date = None
    raw_date = headers.get("Date")
    if raw_date is not None:
        try:
            date = _parse_date(str(raw_date))
        except (TypeError, ValueError, IndexError) as exc:
            errors.append(f"{where}: bad Date: header {str(raw_date)[:60]!r} ({exc})")

    try:
        body_bytes = _decode_body(raw_body, str(headers.get("Content-Transfer-Encoding") or ""))
    except (ValueError, binascii.Error) as exc:
        errors.append(f"{where}: undecodable body ({exc})")
        body_bytes = raw_body

    # git mailinfo: the message ends at the first `---` line (or where the diff starts).
    sep_at = _SEPARATOR.search(body_bytes)
    if sep_at is not None:
        message_end = sep_at.start()
        diff_at = _DIFF_START.search(body_bytes, sep_at.end())
    else:
        diff_at = _DIFF_START.search(body_bytes)
        message_end = diff_at.start() if diff_at is not None else len(body_bytes)
    diff = b""
    if diff_at is not None:
        diff = body_bytes[diff_at.start() :]
        sig = _SIGNATURE.search(diff)
        if sig is not None:
            diff = diff[: sig.start() + 1]
    charset = headers.get_content_charset() or "utf-8"
    try:
        body = body_bytes[:message_end].decode(charset, "replace")
    except LookupError:
        body = body_bytes[:message_end].decode("utf-8", "replace")
    body = body.replace("\r\n", "\n").strip()
    return Patch(
        author_name=name,
        author_email=email,
        subject=subject,
        date=date,
        body=body,
        trailers=parse_trailers(f"{subject}\n\n{body}", has_subject=True),
        diff=diff,
        cover_letter=bool(_COVER.search(raw_subject)) and diff_at is None,
        errors=tuple(errors),
    )


def parse_mbox(data: bytes, where: str = "<mbox>") -> PatchSeries:
    """Every mail of a `git format-patch` file; `where` names the file in error messages."""
    patches: list[Patch] = []
    cover: Patch | None = None
    mails = _split_mails(data.lstrip(b"\xef\xbb\xbf"))
    for index, mail in enumerate(mails, start=1):
        label = where if len(mails) == 1 else f"{where} (mail {index})"
        patch = _parse_mail(mail, label)
        if patch.cover_letter and cover is None and not patches:
            cover = patch
        else:
            patches.append(patch)
    return PatchSeries(patches=tuple(patches), cover=cover)
