"""One immutable `Config`, merged once from defaults, a config file, the environment and flags.

Where the config comes from, first found wins: `--config FILE`, `.triage.toml` in the
repository root (or the working directory), `[tool.triage]` in `pyproject.toml`. Then the
environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `TRIAGE_CACHE_DIR`, `TRIAGE_FAIL_ON`) and then
command-line flags override single keys.

Every section is a frozen dataclass whose defaults are the policy defaults of DESIGN.md §4, with
their sources in the docstrings and README. Each field's type carries its constraints
(`PositiveInt`, `Days`, ...); the loader validates a file's tables with frozen pydantic models
built from these dataclasses, so an unknown key, a wrong type, `nan` or a zero where a positive
number belongs is a one-line `ConfigError` naming the file, the section and the key, never a
silently ignored setting or a traceback later.

Trust. A file *found* in the working directory may come from the PR branch (GitLab merge
requests, `pull_request` CI), so it is not trusted like `--config FILE`, which the user or the
CI workflow chose:

* it never sets where LLM requests go or the key they carry (`llm.base_url`, `llm.api_key`):
  those come from `OPENAI_BASE_URL` / `OPENAI_API_KEY` or an explicit `--config` only;
* in CI (`triage ci`, `triage github`) the whole config comes from the **base branch**
  (`base_files`, read with `git show <base>:.triage.toml` or the contents API); where the
  working-directory copy differs, its value is ignored with a warning, so a PR cannot loosen
  the gates it is judged by.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from triage.errors import ConfigError
from triage.models import RULE_NAMES, DecisionKind

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- field types
# Each annotation carries its constraint and the phrase an error uses for it. Upper bounds keep
# values inside what `timedelta`, sockets and thread pools accept, so a huge number is a config
# error here and not an OverflowError deep in a stage.


# Structured-output modes of the LLM reviewer (triage.review.llm): "auto" tries them in this
# order and keeps the first the endpoint accepts.
LLM_MODES = ("auto", "json_schema", "tools", "plain")


def public_url(url: str | None) -> str | None:
    """`url` without user, password, query or fragment: what a report or a message may show of
    an endpoint (`http://user:key@host/v1?api-key=...` carries credentials in all three)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else "<unparseable URL>"


def _known_fail_on(names: tuple[str, ...]) -> tuple[str, ...]:
    known = RULE_NAMES | {k.value for k in DecisionKind}
    for name in names:
        if name not in known:
            raise ValueError(f"unknown rule or decision {_show(name)} (known: {', '.join(sorted(known))})")
    return names


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"is not a regular expression ({exc}), got {_show(value)}") from exc
    return value


def _llm_mode(value: str) -> str:
    if value not in LLM_MODES:
        raise ValueError(f"must be one of {', '.join(LLM_MODES)}, got {_show(value)}")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, got {_show(value)}")
    return value


PositiveInt = Annotated[int, Field(gt=0, le=1_000_000_000, description="must be a positive integer")]
Count = Annotated[int, Field(ge=0, le=1_000_000_000, description="must be an integer, 0 or more")]
Days = Annotated[int, Field(gt=0, le=36_500, description="must be a whole number of days from 1 to 36500")]
PositiveDays = Annotated[float, Field(gt=0, le=36_500, description="must be a number of days above 0, at most 36500")]
Weight = Annotated[float, Field(ge=0, le=1_000_000, description="must be a finite number, 0 or more")]
Seconds = Annotated[float, Field(gt=0, le=86_400, description="must be a positive number of seconds, at most 86400")]
Tokens = Annotated[int, Field(gt=0, le=10_000_000, description="must be a positive number of tokens")]
Concurrency = Annotated[int, Field(gt=0, le=256, description="must be an integer from 1 to 256")]
Retries = Annotated[int, Field(ge=0, le=100, description="must be an integer from 0 to 100")]
Percent = Annotated[int, Field(ge=0, le=100, description="must be an integer from 0 to 100")]
Pattern = Annotated[str, AfterValidator(_regex), Field(description="must be a regular expression")]
Mode = Annotated[str, AfterValidator(_llm_mode), Field(description="must be one of auto, json_schema, tools, plain")]
Share = Annotated[float, Field(ge=0, le=1, description="is a share of capacity: a number from 0 to 1")]
Temperature = Annotated[float, Field(ge=0, le=2, description="must be a number from 0 to 2")]
Flag = Annotated[bool, Field(description="must be true or false")]
Text = Annotated[str, Field(min_length=1, description="must be a non-empty string")]
Url = Annotated[str, AfterValidator(_http_url), Field(description="must be an http:// or https:// URL")]
Names = Annotated[tuple[str, ...], Field(description="must be a list of strings")]
FailOn = Annotated[
    tuple[str, ...], AfterValidator(_known_fail_on), Field(description="must be a list of rule or decision names")
]

# Keys a repository file may never set: where LLM requests go and the key they carry.
ENDPOINT_KEYS: frozenset[str] = frozenset({"llm.base_url", "llm.api_key"})

# The base branch's files, by name at the repository root: bytes, or None when absent.
BaseFiles = Callable[[str], bytes | None]


@dataclass(frozen=True, slots=True)
class SizeConfig:
    """Size buckets: Prow's `size` plugin (kubernetes/test-infra) upper bounds, exclusive.

    suggest_split_lines: SmartBear/Cisco study, defect finding collapses past 400 LOC at a time.
    split_lines / split_areas: Google eng-practices ("1000 lines is usually too large") and the
    OpenClaw "dirty" flag at 4 or more top-level areas.
    loc_per_hour: SmartBear, reviewers should stay under 300-500 LOC/hour.
    """

    xs: PositiveInt = 10
    s: PositiveInt = 30
    m: PositiveInt = 100
    l: PositiveInt = 500  # noqa: E741 - the bucket's name
    xl: PositiveInt = 1000
    suggest_split_lines: PositiveInt = 400
    split_lines: PositiveInt = 1000
    split_areas: PositiveInt = 4
    loc_per_hour: PositiveInt = 300
    min_review_minutes: Count = 5


@dataclass(frozen=True, slots=True)
class GatesConfig:
    """The backpressure gates. Each can be overridden per PR with `<override_prefix><rule>`."""

    # gemini-cli / kyverno cap open PRs per external author; Homebrew comments at 10.
    author_open_pr_cap: Count = 8
    # Homebrew: one AI-assisted PR open per accountable human.
    ai_pr_cap_per_human: Count = 1
    # Prow `issue_required`; gemini-cli closes external PRs without a linked issue.
    require_linked_issue: Flag = True
    # author_association values that count as having write access (exempt from author caps and
    # the linked-issue rule).
    exempt_associations: Names = ("OWNER", "MEMBER", "COLLABORATOR")
    # Logins with write access, for sources that carry no author_association (patches, git).
    maintainers: Names = ()
    reject_secrets: Flag = True
    reject_without_owner: Flag = True
    override_prefix: Text = "triage/override-"
    # This many trivial PRs (XS: typo, formatting, one file kind) of one accountable human get
    # a note suggesting they be combined into one; 0 switches the note off.
    combine_trivial_min: Count = 3


@dataclass(frozen=True, slots=True)
class StaleConfig:
    """kubernetes agent-sandbox and gemini-cli: warn after 30 days, close 15 days later.

    Only human activity resets the clock (actions/stale issues #690 and #825: bot comments kept
    PRs alive forever).
    """

    enabled: Flag = True
    warn_days: Days = 30
    close_days: Days = 15


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    """Google's code-review case study: about 4 reviews per reviewer per week.

    When `minutes_per_day` is above 0 the capacity is counted in minutes instead:
    reviewers x minutes_per_day x working days in the period.
    """

    reviewers: PositiveInt = 3
    reviews_per_week: PositiveInt = 4
    minutes_per_day: Count = 0
    period_days: Days = 7
    # Fair share (issue #11): no accountable human takes more than this share of the period's
    # review slots (or minutes) while other PRs wait; 0 (or 1) switches it off.
    author_share: Share = 0.25


@dataclass(frozen=True, slots=True)
class OwnersConfig:
    """How the accountable human is found (DESIGN.md §4)."""

    # Logins treated as bots or agents in addition to `[bot]` suffixes and known agents.
    bots: Names = ()
    # Trailer keys (case-insensitive) that name the human who asked for an agent's PR.
    requester_trailers: Names = ("Requested-by",)
    # Trailer keys that declare AI assistance (Linux kernel / Kubernetes `Assisted-by:`).
    assisted_trailers: Names = ("Assisted-by", "Generated-by", "AI-assisted")
    # Map emails or names in trailers to GitHub logins: "jane@example.com=janedoe".
    aliases: Names = ()


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    """Weights of the priority terms. Shortest-job-first drains a queue fastest; risk gets
    eyes early; age keeps anything from starving: it grows by `age_weight` every
    `age_step_days`, linearly and without bound (the classic aging of priority schedulers), so
    with the default weights any PR waiting 8 weeks outranks every fresh one."""

    size_weight: Weight = 1.0
    risk_weight: Weight = 0.6
    value_weight: Weight = 0.4
    age_weight: Weight = 0.5
    age_step_days: PositiveDays = 14.0
    value_labels: Names = ("bug", "security", "regression", "priority/high")


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Any OpenAI-compatible endpoint. `base_url` and the key also come from OPENAI_BASE_URL and
    OPENAI_API_KEY, as the openai SDK does. `mode` forces a structured-output mode (one of
    `LLM_MODES`; "auto" detects what the endpoint supports)."""

    model: Text = "gpt-4o-mini"
    base_url: Url | None = None
    api_key: Text | None = field(default=None, repr=False)  # never written to a report or log
    max_input_tokens: Tokens = 12000
    max_output_tokens: Tokens = 800
    concurrency: Concurrency = 4
    timeout: Seconds = 60.0
    max_retries: Retries = 3
    temperature: Temperature = 0.0
    mode: Mode = "auto"

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: Flag = True
    dir: Text = ".triage-cache"


@dataclass(frozen=True, slots=True)
class CIConfig:
    """What the CI adapter does. `fail_on` lists rule names (or decision kinds) that make
    `triage ci` exit 1; empty by default so the tool informs before it blocks."""

    fail_on: FailOn = ()
    comment: Flag = True
    labels: Flag = True


@dataclass(frozen=True, slots=True)
class ClassifyConfig:
    """Extra path globs on top of the built-in classification rules."""

    generated: Names = ()
    vendored: Names = ()
    docs: Names = ()
    tests: Names = ()


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Clusters of PRs that address the same thing (triage.policy.cluster).

    issue_key_pattern: a regular expression for tracker keys in titles, bodies and branch names
    (e.g. `PROJ-\\d+`), on top of GitHub's `Fixes #N` links; empty = GitHub links only.
    text_threshold: title similarity (rapidfuzz token_sort_ratio, 0-100) that counts as evidence.
    link_score: evidence points two PRs need to be put in one cluster (module docstring).
    max_posting: an index entry (file region, title word) shared by more PRs than this is too
    common to say anything (a changelog's top lines) and is not compared pairwise.
    """

    enabled: Flag = True
    issue_key_pattern: Pattern = ""
    text_threshold: Percent = 70
    link_score: Weight = 1.0
    max_posting: PositiveInt = 40


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Which risk model scores PRs: None for the default weights, else a model file written by
    `triage calibrate` (a relative path is read from the config file's directory)."""

    model: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    size: SizeConfig = SizeConfig()
    gates: GatesConfig = GatesConfig()
    stale: StaleConfig = StaleConfig()
    capacity: CapacityConfig = CapacityConfig()
    owners: OwnersConfig = OwnersConfig()
    priority: PriorityConfig = PriorityConfig()
    llm: LLMConfig = LLMConfig()
    cache: CacheConfig = CacheConfig()
    ci: CIConfig = CIConfig()
    classify: ClassifyConfig = ClassifyConfig()
    cluster: ClusterConfig = ClusterConfig()
    risk: RiskConfig = RiskConfig()
    # Runtime choices from the command line (not from files).
    llm_mode: str = "auto"  # "auto" | "off" | "on"
    repo_dir: str | None = None
    source_file: str | None = None  # which file the config came from, for messages

    def to_report(self) -> dict[str, Any]:
        """The effective config as plain data for reports: secrets removed."""
        data = asdict(self)
        data["llm"].pop("api_key", None)
        data["llm"]["base_url"] = public_url(self.llm.base_url)
        return data

    @property
    def use_llm(self) -> bool:
        if self.llm_mode == "off":
            return False
        if self.llm_mode == "on":
            return True
        return self.llm.configured


_SECTIONS = {f.name: f for f in fields(Config) if is_dataclass(f.default)}
_SECTION_TYPES: dict[str, type[Any]] = {name: type(f.default) for name, f in _SECTIONS.items()}

# ---------------------------------------------------------------------------- validation

_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)
# Phrases for fields whose annotation names no constraint of its own.
_TYPE_PHRASES = {
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "tuple_type": "must be a list",
}


_MODELS: dict[str, type[BaseModel]] = {}


def _model(cls: type[Any]) -> type[BaseModel]:
    """A frozen, strict pydantic model with the fields, types and defaults of a section dataclass.

    Built from the dataclass so the two can never drift: the dataclass stays the API used across
    the code (and constructed directly in tests), the model is only the gate a file goes through.
    """
    model = _MODELS.get(cls.__qualname__)
    if model is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        spec: dict[str, Any] = {f.name: (hints[f.name], f.default) for f in fields(cls)}
        model = _MODELS[cls.__qualname__] = create_model(f"{cls.__name__}Model", __config__=_STRICT, **spec)
    return model


def _show(value: Any) -> str:
    """A value as a TOML user would write it, short, with control characters escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _freeze(value: Any) -> Any:
    """TOML arrays become tuples, so the strict models accept them and the Config stays hashable."""
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _error_line(where: str, section: str, cls: type, exc: ValidationError) -> str:
    """The first validation error in the project's one-line style:
    `.triage.toml: [size] split_lines: must be a positive integer, got nan`."""
    err = exc.errors(include_url=False)[0]
    loc = err.get("loc") or ()
    key = str(loc[0]) if loc else "?"
    if err["type"] == "extra_forbidden":
        known = ", ".join(f.name for f in fields(cls))
        return f"{where}: [{section}] unknown key {_show(key)} (known: {known})"
    model = _model(cls)
    info = model.model_fields.get(key)
    if err["type"] == "value_error":
        phrase = str((err.get("ctx") or {}).get("error", err["msg"]))
        return f"{where}: [{section}] {key}: {phrase}"
    phrase = (info.description if info is not None else None) or _TYPE_PHRASES.get(err["type"], err["msg"])
    item = f"[{loc[1]}]" if len(loc) > 1 else ""
    return f"{where}: [{section}] {key}{item}: {phrase}, got {_show(err.get('input'))}"


def _build_section(name: str, data: Any, where: str) -> Any:
    """Validate one table of a file (or one layer of overrides) into its section dataclass."""
    cls = _SECTION_TYPES[name]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table, got {_show(data)}")
    try:
        model = _model(cls).model_validate({str(k): _freeze(v) for k, v in data.items()})
    except ValidationError as exc:
        raise ConfigError(_error_line(where, name, cls, exc)) from exc
    return cls(**{f.name: getattr(model, f.name) for f in fields(cls)})


def from_mapping(data: Any, path: str = "<config>") -> Config:
    """Build a Config from parsed TOML, checking every section, key, type and range."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the triage settings must be a table, got {_show(data)}")
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _SECTIONS:
            known = ", ".join(sorted(_SECTIONS))
            raise ConfigError(f"{path}: unknown section [{_show(name)[1:-1]}] (known: {known})")
        sections[name] = _build_section(name, value, path)
    cfg = Config(**sections, source_file=path if path != "<config>" else None)
    _check_consistency(cfg, path)
    return cfg


def _check_consistency(cfg: Config, path: str) -> None:
    s = cfg.size
    if not (s.xs < s.s < s.m < s.l < s.xl):
        raise ConfigError(f"{path}: [size] buckets must increase: xs < s < m < l < xl")


def _override(cfg: Config, section: str, values: Mapping[str, Any], where: str) -> Config:
    """`cfg` with some keys of one section replaced, validated like a file's keys."""
    current = getattr(cfg, section)
    merged = {f.name: getattr(current, f.name) for f in fields(current)} | dict(values)
    return replace(cfg, **{section: _build_section(section, merged, where)})


# ---------------------------------------------------------------------------- files


def _parse_toml(data: bytes, where: str) -> dict[str, Any]:
    """TOML bytes as a dict; every way a file can be broken is a one-line ConfigError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML ({str(exc).splitlines()[0]})") from exc
    except RecursionError as exc:
        raise ConfigError(f"{where}: invalid TOML (nested too deeply)") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    return _parse_toml(data, str(path))


def _tool_triage(data: dict[str, Any], where: str) -> Any:
    """`[tool.triage]` of a parsed pyproject.toml, or None; `tool = 5` is an error, not a crash."""
    tool = data.get("tool")
    if tool is None:
        return None
    if not isinstance(tool, dict):
        raise ConfigError(f"{where}: [tool] must be a table, got {_show(tool)}")
    triage = tool.get("triage")
    if triage is not None and not isinstance(triage, dict):
        raise ConfigError(f"{where}: [tool.triage] must be a table, got {_show(triage)}")
    return triage


def find_config_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """`.triage.toml`, else `[tool.triage]` in `pyproject.toml`, in `start`."""
    candidate = start / ".triage.toml"
    if candidate.is_file():
        return candidate, _read_toml(candidate)
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        data = _tool_triage(_read_toml(pyproject), str(pyproject))
        if data is not None:
            return pyproject, data
    return None


def read_base_config(base_files: BaseFiles, label: str) -> tuple[str, dict[str, Any]] | None:
    """The config file on the base branch (same search order as the working directory), as
    (name for messages, parsed table), or None when the base branch has none."""
    raw = base_files(".triage.toml")
    if raw is not None:
        where = f"{label}:.triage.toml"
        return where, _parse_toml(raw, where)
    raw = base_files("pyproject.toml")
    if raw is not None:
        where = f"{label}:pyproject.toml"
        data = _tool_triage(_parse_toml(raw, where), where)
        if data is not None:
            return where, data
    return None


def _without_endpoint(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A repository file's table with `llm.base_url` / `llm.api_key` dropped (with a warning):
    such a file may come from the PR itself and must not redirect requests or the API key."""
    out = dict(data)
    llm = out.get("llm")
    if isinstance(llm, Mapping):
        dropped = sorted(k for k in llm if f"llm.{k}" in ENDPOINT_KEYS)
        if dropped:
            out["llm"] = {k: v for k, v in llm.items() if k not in dropped}
            for key in dropped:
                log.warning(
                    "%s: ignoring [llm] %s: a repository file may not set the LLM endpoint or key "
                    "(use OPENAI_BASE_URL / OPENAI_API_KEY or --config FILE)",
                    where,
                    key,
                )
    return out


def _flat(cfg: Config) -> dict[str, Any]:
    return {f"{name}.{k}": v for name in _SECTIONS for k, v in asdict(getattr(cfg, name)).items()}


def _set_keys(data: Mapping[str, Any]) -> set[str]:
    return {f"{name}.{k}" for name, table in data.items() if isinstance(table, Mapping) for k in table}


def _repository_model_path(value: str, where: str) -> str:
    """`[risk] model` as a repository file names it: a relative path inside the repository.
    A config file in the repository may come from the PR under review; it must not make the
    run read a file elsewhere on the machine (an absolute path, `..`, a drive letter)."""
    text = value.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or ".." in parts or not parts:
        raise ConfigError(
            f"{where}: [risk] model = {_show(value)}: a repository config may only name a file inside "
            "the repository (a relative path without '..'); use --model FILE or --config FILE for others"
        )
    return "/".join(parts)


def _local_repository_model(cfg: Config, config_path: Path) -> Config:
    """A working-directory config's model: inside the config file's directory, also after
    symlinks are followed."""
    if not cfg.risk.model:
        return cfg
    rel = _repository_model_path(cfg.risk.model, str(config_path))
    root = config_path.parent.resolve()
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise ConfigError(
            f"{config_path}: [risk] model = {_show(cfg.risk.model)} leads outside the repository (a symlink)"
        )
    return cfg


def _base_model(cfg: Config, base_files: BaseFiles, where: str, label: str) -> Config:
    """CI: the model the base branch's config names is read from the base branch too (the PR
    may have changed the file in the checkout), validated, and stored under its content hash;
    `[risk] model` then names that copy."""
    if not cfg.risk.model:
        return cfg
    from triage.metrics.risk_model import materialise

    rel = _repository_model_path(cfg.risk.model, where)
    raw = base_files(rel)
    if raw is None:
        raise ConfigError(f"{where}: [risk] model = {_show(rel)}: no such file on the {label}")
    return replace(cfg, risk=replace(cfg.risk, model=str(materialise(raw, f"{label}:{rel}"))))


def _base_policy(found: tuple[Path, dict[str, Any]] | None, base_files: BaseFiles, label: str) -> Config:
    """CI: the config of the base branch; a working-directory file (the PR's, perhaps) only
    earns warnings for the keys where it differs, which are ignored."""
    base = read_base_config(base_files, label)
    cfg = from_mapping(_without_endpoint(base[1], base[0]), base[0]) if base else Config()
    if base:
        cfg = _base_model(cfg, base_files, base[0], label)
    if found is None:
        return cfg
    path, data = found
    try:
        local = from_mapping(_without_endpoint(data, str(path)), str(path))
    except ConfigError as exc:
        log.warning("%s ignored in CI, the base branch's config applies (%s)", path, exc.format_message())
        return cfg
    mine, theirs = _flat(local), _flat(cfg)
    if base and cfg.risk.model and local.risk.model == base[1].get("risk", {}).get("model"):
        mine["risk.model"] = theirs["risk.model"]  # the same file name; the base's copy is read
    differing = sorted(k for k in _set_keys(data) if k in mine and mine[k] != theirs[k])
    for key in differing:
        section, sub = key.split(".", 1)
        log.warning(
            "%s: ignoring [%s] %s = %s in CI: policy comes from %s (which has %s)",
            path,
            section,
            sub,
            _show(mine[key]),
            base[0] if base else f"{label} (no config file)",
            _show(theirs[key]),
        )
    return cfg


# Flag names for the `section__key` overrides the CLI passes, for error messages.
_FLAG_NAMES = {"ci__fail_on": "--fail-on"}


def load(
    config_file: str | os.PathLike[str] | None = None,
    *,
    search_dir: str | os.PathLike[str] | None = None,
    environ: typing.Mapping[str, str] | None = None,
    base_files: BaseFiles | None = None,
    base_label: str = "base branch",
    **overrides: Any,
) -> Config:
    """Merge defaults, the config file, the environment and flag overrides into one Config.

    `config_file` is trusted (the user or the workflow named it). A file found in `search_dir`
    is not: it never sets the LLM endpoint or key, and when `base_files` is given (CI) the
    base branch's config replaces it. `overrides` are top-level fields (`llm_mode`,
    `repo_dir`) or dotted section keys given as `section__key` (`llm__model="x"`); a value of
    None means "flag not given".
    """
    env = os.environ if environ is None else environ
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        data: Any = _read_toml(path)
        if path.name == "pyproject.toml":
            data = _tool_triage(data, str(path)) or {}
        cfg = from_mapping(data, str(path))
    else:
        found = None
        if base_files is not None:
            try:
                found = find_config_file(Path(search_dir or "."))
            except ConfigError as exc:  # the PR's file: its breakage must not fail the job
                log.warning("%s; ignored in CI, the base branch's config applies", exc.format_message())
                found = None
            cfg = _base_policy(found, base_files, base_label)
        elif (found := find_config_file(Path(search_dir or "."))) is not None:
            cfg = from_mapping(_without_endpoint(found[1], str(found[0])), str(found[0]))
            cfg = _local_repository_model(cfg, found[0])
        else:
            cfg = Config()

    # The environment: the openai SDK's variables always win over any file.
    llm: dict[str, Any] = {}
    if env.get("OPENAI_BASE_URL", "").strip():
        cfg = _override(cfg, "llm", {"base_url": env["OPENAI_BASE_URL"].strip()}, "OPENAI_BASE_URL")
    if env.get("OPENAI_API_KEY"):
        llm["api_key"] = env["OPENAI_API_KEY"]
    if llm:
        cfg = replace(cfg, llm=replace(cfg.llm, **llm))
    if env.get("TRIAGE_FAIL_ON", "").strip():
        # The GitHub Action's `fail-on` input: a workflow can tighten or relax the gate
        # without a config file in the repository.
        values = tuple(v.strip() for v in env["TRIAGE_FAIL_ON"].split(",") if v.strip())
        cfg = _override(cfg, "ci", {"fail_on": values}, "TRIAGE_FAIL_ON")
    if env.get("TRIAGE_CACHE_DIR"):
        cfg = _override(cfg, "cache", {"dir": env["TRIAGE_CACHE_DIR"]}, "TRIAGE_CACHE_DIR")

    top: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if "__" in key:
            section, sub = key.split("__", 1)
            cfg = _override(cfg, section, {sub: value}, _FLAG_NAMES.get(key, f"--{sub.replace('_', '-')}"))
        else:
            top[key] = value
    if top.get("llm_mode") not in (None, "auto", "off", "on"):
        raise ConfigError(f"--llm: expected auto, off or on, got {top['llm_mode']!r}")
    return replace(cfg, **top)


def defaults_table() -> list[tuple[str, Any]]:
    """(`section.key`, default) for every documented key: used by the README and its test."""
    rows: list[tuple[str, Any]] = []
    for name, cls in _SECTION_TYPES.items():
        for sub in fields(cls):
            if sub.default is MISSING:  # pragma: no cover - every key has a default
                continue
            rows.append((f"{name}.{sub.name}", sub.default))
    return rows
