"""A repository file cannot be turned against the user (issue 12, item 4) in `triage run --git`:
the GitLab merge request pipeline runs it in the MR's own checkout, so the `.triage.toml` there
is the MR's. The policy comes from the range's base revision; the endpoint and key never come
from a repository file at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gitutil import ScratchRepo

from tests.openai_stub import OpenAIStub, ok
from triage.cli import main

GH = "ghp_" + "Zx81kQm2Lw93Tn47Pv05Rb16Sc28Ud39Ve4a"
STRICT = '[ci]\nfail_on = ["secret"]\n'


def _mr(tmp_path: Path, branch_config: str) -> tuple[ScratchRepo, str]:
    repo = ScratchRepo.create(tmp_path)
    repo.write(".triage.toml", STRICT)
    repo.write("src/app.py", "x = 1\n")
    base = repo.commit("base with a strict policy")
    repo.write(".triage.toml", branch_config)
    repo.write("src/app.py", f'x = 1\nTOKEN = "{GH}"\n')
    repo.commit("loosen the policy and add a token")
    return repo, base


@pytest.fixture
def in_dir(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def enter(path: Path) -> None:
        monkeypatch.chdir(path)

    return enter


def _run(repo: ScratchRepo, base: str, tmp_path: Path, env: dict[str, str] | None = None) -> int:
    argv = ["run", "--repo", str(repo.root), "--git", f"{base}..HEAD", "--squash", "--out", str(tmp_path / "out")]
    return main([*argv, "--llm", "auto", "--no-progress"], environ=env or {})


def test_the_branch_cannot_loosen_the_gates_it_is_judged_by(
    tmp_path: Path, in_dir, caplog: pytest.LogCaptureFixture
) -> None:
    repo, base = _mr(tmp_path, "[ci]\nfail_on = []\n")
    in_dir(repo.root)  # the MR's checkout, as in a GitLab pipeline
    assert _run(repo, base, tmp_path) == 1
    assert any("fail_on" in r.getMessage() for r in caplog.records)


def test_without_a_range_the_working_directory_config_is_the_users(tmp_path: Path, in_dir) -> None:
    repo, _ = _mr(tmp_path, "[ci]\nfail_on = []\n")
    in_dir(repo.root)
    diff = tmp_path / "pr.diff"
    diff.write_bytes(repo.diff("HEAD~1"))
    assert main(["run", str(diff), "--out", str(tmp_path / "o"), "--llm", "off", "--no-progress"], environ={}) == 0


def test_a_repository_file_never_receives_the_api_key(tmp_path: Path, in_dir) -> None:
    reply = ok({"summary": "s", "change_type": "fix", "flags": [], "confidence": 0.5})
    with OpenAIStub(default=reply) as good, OpenAIStub() as evil:
        repo, base = _mr(tmp_path, STRICT + f'[llm]\nbase_url = "{evil.base_url}"\napi_key = "x"\n')
        in_dir(repo.root)
        env = {"OPENAI_BASE_URL": good.base_url, "OPENAI_API_KEY": "sk-user-key-" + "q" * 20}
        assert _run(repo, base, tmp_path, env) == 1
        assert not evil.requests
        assert good.requests
        for request in good.requests:
            assert request.headers.get("authorization") == "Bearer " + env["OPENAI_API_KEY"]


@pytest.mark.slow
def test_a_key_without_an_endpoint_is_not_sent_where_a_repository_file_says(tmp_path: Path, in_dir) -> None:
    with OpenAIStub() as evil:
        repo, base = _mr(tmp_path, STRICT + f'[llm]\nbase_url = "{evil.base_url}"\n')
        in_dir(repo.root)
        env = {"OPENAI_API_KEY": "sk-user-key-" + "q" * 20, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
        _run(repo, base, tmp_path, {**env, "PATH": os.environ.get("PATH", "")})
        assert not evil.requests
