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
        ("[size]\nsplit_line = 3\n", "[size] unknown key 'split_line'"),
        ("[sizes]\nxs = 3\n", "unknown section [sizes]"),
        ('[size]\nsplit_lines = "many"\n', "[size] split_lines: must be a positive integer, got 'many'"),
        ("[gates]\nrequire_linked_issue = 1\n", "[gates] require_linked_issue: must be true or false, got 1"),
        ('[gates]\nmaintainers = "alice"\n', "[gates] maintainers: must be a list of strings, got 'alice'"),
        ('[gates]\nmaintainers = ["a", 3]\n', "[gates] maintainers[1]: must be a list of strings, got 3"),
        ("[size]\nxs = -1\n", "[size] xs: must be a positive integer, got -1"),
        ("[size]\nxs = true\n", "[size] xs: must be a positive integer, got true"),
        ("[size]\nxs = 50\n", "[size] buckets must increase"),
        ("[llm]\nconcurrency = 0\n", "[llm] concurrency: must be an integer from 1 to 256, got 0"),
        ("[size\n", "invalid TOML"),
        ("size = 3\n", "[size] must be a table, got 3"),
        # issue 12 item 6: nan, inf, zero and negatives where a positive number belongs
        ("[size]\nsplit_lines = nan\n", "[size] split_lines: must be a positive integer, got nan"),
        ("[size]\nloc_per_hour = 0\n", "[size] loc_per_hour: must be a positive integer, got 0"),
        ("[llm]\ntimeout = nan\n", "[llm] timeout: must be a positive number of seconds, at most 86400, got nan"),
        ("[llm]\ntimeout = inf\n", "[llm] timeout: must be a positive number of seconds, at most 86400, got inf"),
        ("[llm]\ntimeout = 0\n", "[llm] timeout: must be a positive number of seconds"),
        ("[priority]\nrisk_weight = -inf\n", "[priority] risk_weight: must be a finite number, 0 or more, got -inf"),
        ("[priority]\nage_step_days = 0.0\n", "[priority] age_step_days: must be a number of days above 0"),
        ("[capacity]\nperiod_days = 0\n", "[capacity] period_days: must be a whole number of days from 1 to 36500"),
        ("[capacity]\nreviewers = -2\n", "[capacity] reviewers: must be a positive integer, got -2"),
        # a huge number would overflow timedelta deep in the stale rule
        ("[stale]\nwarn_days = 99999999999\n", "[stale] warn_days: must be a whole number of days from 1 to 36500"),
        ("[stale]\nclose_days = 1.5\n", "[stale] close_days: must be a whole number of days from 1 to 36500, got 1.5"),
        ("[llm]\ntemperature = 3\n", "[llm] temperature: must be a number from 0 to 2, got 3"),
        ('[llm]\nmodel = ""\n', "[llm] model: must be a non-empty string, got ''"),
        ('[llm]\nbase_url = "file:///etc/passwd"\n', "[llm] base_url: must be an http:// or https:// URL"),
        ('[cache]\nenabled = "yes"\n', "[cache] enabled: must be true or false, got 'yes'"),
        # an unknown name in fail_on would silently disable the gate
        ('[ci]\nfail_on = ["rejct"]\n', "[ci] fail_on: unknown rule or decision 'rejct' (known: "),
        ('[ci]\nfail_on = ["reject", 3]\n', "[ci] fail_on[1]: must be a list of rule or decision names, got 3"),
        # control characters from a file never reach the terminal raw
        ('["\\u001b[2J"]\nx = 1\n', "unknown section [\\x1b[2J]"),
        ('[size]\n"\\u001b]0;x" = 1\n', "[size] unknown key '\\x1b]0;x'"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "invalid TOML (nested too deeply)"),
        ("[capacity]\nauthor_share = 1.5\n", "[capacity] author_share: is a share of capacity: a number from 0 to 1"),
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


# ---------------------------------------------------------------- more bad inputs (issue 12 item 6)


def test_control_characters_in_a_file_never_reach_the_message(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[ci]\nfail_on = ["\\u001b]52;c;aGk=\\u0007"]\n')
    with pytest.raises(ConfigError) as err:
        load(f, environ={})
    assert "\x1b" not in err.value.format_message() and "\\x1b]52" in err.value.format_message()


def test_non_utf8_config_is_one_line_error(tmp_path: Path) -> None:
    f = tmp_path / ".triage.toml"
    f.write_bytes(b'[llm]\nmodel = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match=r"\.triage\.toml: not UTF-8 text \(byte 0xff at offset 15\)"):
        load(search_dir=tmp_path, environ={})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[tool]\ntriage = 5\n", "[tool.triage] must be a table, got 5"),
        ("tool = 5\n", "[tool] must be a table, got 5"),
        ('[tool]\ntriage = ["a"]\n', "[tool.triage] must be a table, got ['a']"),
    ],
)
def test_pyproject_with_a_non_table_tool_triage(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    for how in ({"search_dir": tmp_path}, {"config_file": tmp_path / "pyproject.toml"}):
        with pytest.raises(ConfigError) as err:
            load(environ={}, **how)  # type: ignore[arg-type]
        assert needle in err.value.format_message()
        assert err.value.format_message().startswith(str(tmp_path / "pyproject.toml"))


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"TRIAGE_FAIL_ON": "reject,rejct"}, "TRIAGE_FAIL_ON: [ci] fail_on: unknown rule or decision 'rejct'"),
        ({"OPENAI_BASE_URL": "localhost:8080"}, "OPENAI_BASE_URL: [llm] base_url: must be an http:// or https:// URL"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(search_dir="/nonexistent-dir-for-test", environ=env)
    assert needle in err.value.format_message()


def test_bad_fail_on_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--fail-on: \[ci\] fail_on: unknown rule or decision 'secrets'"):
        load(search_dir="/nonexistent-dir-for-test", environ={}, ci__fail_on=("secrets",))


def test_every_rule_the_code_fires_may_be_named_in_fail_on() -> None:
    """RULE_NAMES must list every rule a Reason can carry, or `fail_on` could not name it."""
    import re

    from triage.models import RULE_NAMES

    root = Path(__file__).resolve().parents[1] / "triage"
    fired = set()
    for path in root.rglob("*.py"):
        fired |= set(re.findall(r'(?:_Fired|Reason)\(\s*"([a-z0-9-]+)"', path.read_text()))
    assert fired, "the scan found no rules: update the pattern"
    missing = sorted(fired - RULE_NAMES)
    assert not missing, f"add these rule names to RULE_NAMES in triage/models.py: {missing}"
    cfg = load(search_dir="/nonexistent-dir-for-test", environ={}, ci__fail_on=tuple(sorted(RULE_NAMES)))
    assert set(cfg.ci.fail_on) == RULE_NAMES


# ---------------------------------------------------------------- trust (issue 12 item 4)


def test_a_found_file_cannot_set_the_llm_endpoint_or_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / ".triage.toml").write_text(
        '[llm]\nmodel = "m"\nbase_url = "http://evil.example/v1"\napi_key = "sk-planted"\n'
    )
    cfg = load(search_dir=tmp_path, environ={})
    assert cfg.llm.base_url is None and cfg.llm.api_key is None
    assert cfg.llm.model == "m"  # harmless keys still apply
    assert cfg.use_llm is False  # a planted endpoint does not even switch the LLM on
    assert "ignoring [llm] base_url" in caplog.text and "ignoring [llm] api_key" in caplog.text
    # With the user's endpoint in the environment, requests go there, never to the file's.
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-user"}
    cfg = load(search_dir=tmp_path, environ=env)
    assert (cfg.llm.base_url, cfg.llm.api_key) == ("http://127.0.0.1:9/v1", "sk-user")


def test_pyproject_tool_triage_cannot_set_the_endpoint_either(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.triage.llm]\nbase_url = "http://evil.example/v1"\n')
    assert load(search_dir=tmp_path, environ={}).llm.base_url is None


def test_an_explicit_config_file_is_trusted_but_the_environment_wins(tmp_path: Path) -> None:
    f = tmp_path / "ci.toml"
    f.write_text('[llm]\nbase_url = "http://127.0.0.1:8/v1"\n')
    assert load(f, environ={}).llm.base_url == "http://127.0.0.1:8/v1"
    assert load(f, environ={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}).llm.base_url == "http://127.0.0.1:9/v1"


def _base(files: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda name: files[name].encode() if name in files else None


def test_in_ci_the_base_branch_config_applies_and_local_changes_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".triage.toml").write_text(
        '[ci]\nfail_on = []\n[gates]\nreject_secrets = false\n[size]\nsplit_lines = 800\n[llm]\nmodel = "x"\n'
    )
    base = _base({".triage.toml": '[ci]\nfail_on = ["reject"]\n[size]\nsplit_lines = 800\n'})
    cfg = load(search_dir=tmp_path, environ={}, base_files=base, base_label="base abc123")
    assert cfg.ci.fail_on == ("reject",)
    assert cfg.gates.reject_secrets is True
    assert cfg.llm.model == "gpt-4o-mini"
    assert cfg.size.split_lines == 800
    assert cfg.source_file == "base abc123:.triage.toml"
    text = caplog.text
    assert "ignoring [ci] fail_on = [] in CI: policy comes from base abc123:.triage.toml" in text
    assert "ignoring [gates] reject_secrets = false" in text
    assert "ignoring [llm] model = 'x'" in text
    assert "split_lines" not in text  # the same value as the base: nothing to say


def test_in_ci_without_a_base_config_the_defaults_apply(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.triage.gates]\nrequire_linked_issue = false\n")
    cfg = load(search_dir=tmp_path, environ={}, base_files=_base({}), base_label="base abc123")
    assert cfg.gates.require_linked_issue is True
    assert "policy comes from base abc123 (no config file)" in caplog.text


def test_in_ci_a_broken_local_file_is_ignored_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / ".triage.toml").write_bytes(b"[ci\xff\n")
    cfg = load(
        search_dir=tmp_path, environ={}, base_files=_base({"pyproject.toml": "[tool.triage.stale]\nwarn_days = 9\n"})
    )
    assert cfg.stale.warn_days == 9
    assert "ignored in CI" in caplog.text


def test_in_ci_the_base_file_cannot_set_the_endpoint_and_a_bad_base_file_is_an_error(tmp_path: Path) -> None:
    base = _base({".triage.toml": '[llm]\nbase_url = "http://evil.example/v1"\n'})
    assert load(search_dir=tmp_path, environ={}, base_files=base).llm.base_url is None
    with pytest.raises(ConfigError, match=r"^base branch:\.triage\.toml: \[size\] xs: must be a positive integer"):
        load(search_dir=tmp_path, environ={}, base_files=_base({".triage.toml": "[size]\nxs = 0\n"}))


def test_an_explicit_config_in_ci_does_not_read_the_base(tmp_path: Path) -> None:
    f = tmp_path / "policy.toml"
    f.write_text('[ci]\nfail_on = ["size"]\n')

    def never(name: str) -> bytes | None:
        raise AssertionError("read the base although --config was given")

    assert load(f, environ={}, base_files=never).ci.fail_on == ("size",)
