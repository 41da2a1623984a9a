"""One immutable `Config`, merged once from defaults, a config file, the environment and flags.

Where the config comes from, first found wins: `--config FILE`, `.triage.toml` in the
repository root (or the working directory), `[tool.triage]` in `pyproject.toml`. Then the
environment (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `TRIAGE_CACHE_DIR`, `TRIAGE_FAIL_ON`) and then command-line
flags override single keys.

Every section is a frozen dataclass whose defaults are the policy defaults of DESIGN.md §4, with
their sources in the docstrings and README. The loader checks every key against these
dataclasses, so an unknown key or a wrong type is a one-line `ConfigError` naming the key and the
file, never a silently ignored setting.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from triage.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SizeConfig:
    """Size buckets: Prow's `size` plugin (kubernetes/test-infra) upper bounds, exclusive.

    suggest_split_lines: SmartBear/Cisco study, defect finding collapses past 400 LOC at a time.
    split_lines / split_areas: Google eng-practices ("1000 lines is usually too large") and the
    OpenClaw "dirty" flag at 4 or more top-level areas.
    loc_per_hour: SmartBear, reviewers should stay under 300-500 LOC/hour.
    """

    xs: int = 10
    s: int = 30
    m: int = 100
    l: int = 500  # noqa: E741 - the bucket's name
    xl: int = 1000
    suggest_split_lines: int = 400
    split_lines: int = 1000
    split_areas: int = 4
    loc_per_hour: int = 300
    min_review_minutes: int = 5


@dataclass(frozen=True, slots=True)
class GatesConfig:
    """The backpressure gates. Each can be overridden per PR with `<override_prefix><rule>`."""

    # gemini-cli / kyverno cap open PRs per external author; Homebrew comments at 10.
    author_open_pr_cap: int = 8
    # Homebrew: one AI-assisted PR open per accountable human.
    ai_pr_cap_per_human: int = 1
    # Prow `issue_required`; gemini-cli closes external PRs without a linked issue.
    require_linked_issue: bool = True
    # author_association values that count as having write access (exempt from author caps and
    # the linked-issue rule).
    exempt_associations: tuple[str, ...] = ("OWNER", "MEMBER", "COLLABORATOR")
    # Logins with write access, for sources that carry no author_association (patches, git).
    maintainers: tuple[str, ...] = ()
    reject_secrets: bool = True
    reject_without_owner: bool = True
    override_prefix: str = "triage/override-"


@dataclass(frozen=True, slots=True)
class StaleConfig:
    """kubernetes agent-sandbox and gemini-cli: warn after 30 days, close 15 days later.

    Only human activity resets the clock (actions/stale issues #690 and #825: bot comments kept
    PRs alive forever).
    """

    enabled: bool = True
    warn_days: int = 30
    close_days: int = 15


@dataclass(frozen=True, slots=True)
class CapacityConfig:
    """Google's code-review case study: about 4 reviews per reviewer per week.

    When `minutes_per_day` is above 0 the capacity is counted in minutes instead:
    reviewers x minutes_per_day x working days in the period.
    """

    reviewers: int = 3
    reviews_per_week: int = 4
    minutes_per_day: int = 0
    period_days: int = 7


@dataclass(frozen=True, slots=True)
class OwnersConfig:
    """How the accountable human is found (DESIGN.md §4)."""

    # Logins treated as bots or agents in addition to `[bot]` suffixes and known agents.
    bots: tuple[str, ...] = ()
    # Trailer keys (case-insensitive) that name the human who asked for an agent's PR.
    requester_trailers: tuple[str, ...] = ("Requested-by",)
    # Trailer keys that declare AI assistance (Linux kernel / Kubernetes `Assisted-by:`).
    assisted_trailers: tuple[str, ...] = ("Assisted-by", "Generated-by", "AI-assisted")
    # Map emails or names in trailers to GitHub logins: "jane@example.com=janedoe".
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PriorityConfig:
    """Weights of the priority terms. Shortest-job-first drains a queue fastest; risk gets
    eyes early; age keeps anything from starving: it grows by `age_weight` every
    `age_step_days`, linearly and without bound (the classic aging of priority schedulers), so
    with the default weights any PR waiting 8 weeks outranks every fresh one."""

    size_weight: float = 1.0
    risk_weight: float = 0.6
    value_weight: float = 0.4
    age_weight: float = 0.5
    age_step_days: float = 14.0
    value_labels: tuple[str, ...] = ("bug", "security", "regression", "priority/high")


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Any OpenAI-compatible endpoint. `base_url` and the key also come from OPENAI_BASE_URL and
    OPENAI_API_KEY, as the openai SDK does."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)  # never written to a report or log
    max_input_tokens: int = 12000
    max_output_tokens: int = 800
    concurrency: int = 4
    timeout: float = 60.0
    max_retries: int = 3
    temperature: float = 0.0

    @property
    def configured(self) -> bool:
        return bool(self.base_url or self.api_key)


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = True
    dir: str = ".triage-cache"


@dataclass(frozen=True, slots=True)
class CIConfig:
    """What the CI adapter does. `fail_on` lists rule names (or decision kinds) that make
    `triage ci` exit 1; empty by default so the tool informs before it blocks."""

    fail_on: tuple[str, ...] = ()
    comment: bool = True
    labels: bool = True


@dataclass(frozen=True, slots=True)
class ClassifyConfig:
    """Extra path globs on top of the built-in classification rules."""

    generated: tuple[str, ...] = ()
    vendored: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Which risk model scores PRs: None for the default priors, else a model file written by
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
    risk: RiskConfig = RiskConfig()
    # Runtime choices from the command line (not from files).
    llm_mode: str = "auto"  # "auto" | "off" | "on"
    repo_dir: str | None = None
    source_file: str | None = None  # which file the config came from, for messages

    def to_report(self) -> dict[str, Any]:
        """The effective config as plain data for reports: secrets removed."""
        data = asdict(self)
        data["llm"].pop("api_key", None)
        return data

    @property
    def use_llm(self) -> bool:
        if self.llm_mode == "off":
            return False
        if self.llm_mode == "on":
            return True
        return self.llm.configured


_SECTIONS = {f.name: f for f in fields(Config) if is_dataclass(f.default)}


def _check_value(value: Any, annotation: Any, where: str) -> Any:
    """Check one TOML value against a dataclass field's type; return it converted (lists -> tuples)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        non_none = [a for a in args if a is not type(None)]
        return _check_value(value, non_none[0], where)
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if value < 0:
            raise ConfigError(f"{where}: must not be negative, got {value}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{where}: must not be negative, got {value}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported setting")  # pragma: no cover - a bug in a section


def _build_section(cls: type, data: Any, section: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [{section}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown key '{section}.{key}' (known: {', '.join(sorted(known))})")
        values[key] = _check_value(value, hints[key], f"{path}: '{section}.{key}'")
    return cls(**values)


def from_mapping(data: dict[str, Any], path: str = "<config>") -> Config:
    """Build a Config from parsed TOML, checking every key and type."""
    sections: dict[str, Any] = {}
    for name, value in data.items():
        if name not in _SECTIONS:
            known = ", ".join(sorted(_SECTIONS))
            raise ConfigError(f"{path}: unknown section [{name}] (known: {known})")
        sections[name] = _build_section(type(_SECTIONS[name].default), value, name, path)
    cfg = Config(**sections, source_file=path if path != "<config>" else None)
    _check_consistency(cfg, path)
    return cfg


def _check_consistency(cfg: Config, path: str) -> None:
    s = cfg.size
    if not (0 < s.xs < s.s < s.m < s.l < s.xl):
        raise ConfigError(f"{path}: size buckets must increase: xs < s < m < l < xl")
    if s.loc_per_hour == 0:
        raise ConfigError(f"{path}: 'size.loc_per_hour' must be above 0")
    if cfg.llm.concurrency == 0:
        raise ConfigError(f"{path}: 'llm.concurrency' must be at least 1")
    if cfg.capacity.period_days == 0:
        raise ConfigError(f"{path}: 'capacity.period_days' must be at least 1")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc


def find_config_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """`.triage.toml`, else `[tool.triage]` in `pyproject.toml`, in `start`."""
    candidate = start / ".triage.toml"
    if candidate.is_file():
        return candidate, _read_toml(candidate)
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        data = _read_toml(pyproject).get("tool", {}).get("triage")
        if data is not None:
            return pyproject, data
    return None


def load(
    config_file: str | os.PathLike[str] | None = None,
    *,
    search_dir: str | os.PathLike[str] | None = None,
    environ: typing.Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Merge defaults, the config file, the environment and flag overrides into one Config.

    `overrides` are top-level fields (`llm_mode`, `repo_dir`) or dotted section keys given as
    `section__key` (`llm__model="x"`); a value of None means "flag not given".
    """
    env = os.environ if environ is None else environ
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        data = _read_toml(path)
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("triage", {})
        cfg = from_mapping(data, str(path))
    else:
        found = find_config_file(Path(search_dir or "."))
        cfg = from_mapping(found[1], str(found[0])) if found else Config()

    llm = cfg.llm
    if env.get("OPENAI_BASE_URL") and not llm.base_url:
        llm = replace(llm, base_url=env["OPENAI_BASE_URL"])
    if env.get("OPENAI_API_KEY"):
        llm = replace(llm, api_key=env["OPENAI_API_KEY"])
    if env.get("TRIAGE_FAIL_ON", "").strip():
        # The GitHub Action's `fail-on` input: a workflow can tighten or relax the gate
        # without a config file in the repository.
        values = tuple(v.strip() for v in env["TRIAGE_FAIL_ON"].split(",") if v.strip())
        cfg = replace(cfg, ci=replace(cfg.ci, fail_on=values))
    cache = cfg.cache
    if env.get("TRIAGE_CACHE_DIR"):
        cache = replace(cache, dir=env["TRIAGE_CACHE_DIR"])
    cfg = replace(cfg, llm=llm, cache=cache)

    top: dict[str, Any] = {}
    per_section: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if "__" in key:
            section, sub = key.split("__", 1)
            per_section.setdefault(section, {})[sub] = value
        else:
            top[key] = value
    for section, values in per_section.items():
        cfg = replace(cfg, **{section: replace(getattr(cfg, section), **values)})
    if top.get("llm_mode") not in (None, "auto", "off", "on"):
        raise ConfigError(f"--llm: expected auto, off or on, got {top['llm_mode']!r}")
    return replace(cfg, **top)


def defaults_table() -> list[tuple[str, Any]]:
    """(`section.key`, default) for every documented key: used by the README and its test."""
    rows: list[tuple[str, Any]] = []
    for name, f in _SECTIONS.items():
        section = f.default
        for sub in fields(section):
            if sub.default is MISSING:  # pragma: no cover - every key has a default
                continue
            rows.append((f"{name}.{sub.name}", sub.default))
    return rows
