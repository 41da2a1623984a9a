"""Config loading: defaults, files, environment, flags, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from triage.config import Config, defaults_table, load
from triage.errors import ConfigError


def test_defaults_follow_design_section_4() -> None:
    cfg = load(search_dir="/nonexistent-dir-for-test", environ={})
    assert (cfg.size.xs, cfg.size.s, cfg.size.m, cfg.size.l, cfg.size.xl) == (10, 30, 100, 500, 1000)
    assert cfg.size.suggest_split_lines == 400
    assert cfg.size.split_lines == 1000 and cfg.size.split_areas == 4
    assert cfg.size.loc_per_hour == 300 and cfg.size.min_review_minutes == 5
    assert cfg.gates.author_open_pr_cap == 8 and cfg.gates.ai_pr_cap_per_human == 1
    assert cfg.stale.warn_days == 30 and cfg.stale.close_days == 15
    assert cfg.capacity.reviews_per_week == 4
    assert cfg.use_llm is False  # no endpoint, no key: the heuristic reviewer runs


def test_triage_toml_is_found_and_merged(tmp_path: Path) -> None:
    (tmp_path / ".triage.toml").write_text('[size]\nsplit_lines = 800\n[llm]\nmodel = "llama3"\n')
    cfg = load(search_dir=tmp_path, environ={})
    assert cfg.size.split_lines == 800
    assert cfg.size.xs == 10  # untouched keys keep their defaults
    assert cfg.llm.model == "llama3"
    assert cfg.source_file == str(tmp_path / ".triage.toml")


def test_pyproject_tool_triage_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.triage.gates]\nauthor_open_pr_cap = 3\n')
    assert load(search_dir=tmp_path, environ={}).gates.author_open_pr_cap == 3


def test_lists_become_tuples_so_config_stays_immutable(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[gates]\nmaintainers = ["alice", "bob"]\n')
    cfg = load(f, environ={})
    assert cfg.gates.maintainers == ("alice", "bob")
    hash(cfg)  # frozen all the way down


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[size]\nsplit_line = 3\n", "unknown key 'size.split_line'"),
        ("[sizes]\nxs = 3\n", "unknown section [sizes]"),
        ('[size]\nsplit_lines = "many"\n', "'size.split_lines': expected an integer"),
        ("[gates]\nrequire_linked_issue = 1\n", "'gates.require_linked_issue': expected true or false"),
        ('[gates]\nmaintainers = "alice"\n', "'gates.maintainers': expected a list of strings"),
        ("[size]\nxs = -1\n", "must not be negative"),
        ("[size]\nxs = 50\n", "size buckets must increase"),
        ("[llm]\nconcurrency = 0\n", "'llm.concurrency' must be at least 1"),
        ("[size\n", "invalid TOML"),
        ("size = 3\n", "[size] must be a table"),
        ("[capacity]\nauthor_share = 1.5\n", "'capacity.author_share' is a share of capacity"),
    ],
)
def test_bad_config_is_one_line_error_naming_key_and_file(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(f, environ={})
    message = err.value.format_message()
    assert needle in message
    assert str(f) in message
    assert "\n" not in message
    assert err.value.exit_code == 2


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml", environ={})


def test_environment_and_flags_override_files(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[cache]\ndir = "from-file"\n')
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test-123", "TRIAGE_CACHE_DIR": "/tmp/c"}
    cfg = load(f, environ=env, llm_mode="auto", llm__model="tiny")
    assert cfg.llm.base_url == "http://127.0.0.1:9/v1"
    assert cfg.cache.dir == "/tmp/c"
    assert cfg.llm.model == "tiny"
    assert cfg.use_llm is True
    assert load(f, environ=env, llm_mode="off").use_llm is False


def test_api_key_never_reaches_reports_or_repr() -> None:
    cfg = load(search_dir="/nonexistent-dir-for-test", environ={"OPENAI_API_KEY": "sk-secret-value"})
    assert "sk-secret-value" not in repr(cfg)
    assert "sk-secret-value" not in str(cfg.to_report())


def test_bad_llm_mode_flag() -> None:
    with pytest.raises(ConfigError, match="--llm"):
        load(search_dir="/nonexistent-dir-for-test", environ={}, llm_mode="maybe")


def test_every_key_is_documented_in_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    missing = [key for key, _ in defaults_table() if f"`{key}`" not in readme]
    assert not missing, f"undocumented config keys: {missing}"


def test_default_config_object_equals_loaded_defaults() -> None:
    assert load(search_dir="/nonexistent-dir-for-test", environ={}) == Config()
