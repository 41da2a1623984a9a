"""The opt-in real-server bench (`bench.llm_server`) runs its whole path against the loopback
stub standing in for an already running server, and says why when it has no server at all.

The figures a real llama-server gives are in bench/results; here only that the scenario adds
up what the stub really answered.
"""

from __future__ import annotations

from openai_stub import OpenAIStub

from bench import llm_server


def test_against_a_running_server_it_reports_per_pr_figures_and_the_mode() -> None:
    with OpenAIStub(supports_json_schema=False) as stub:
        result = llm_server.scenario({"TRIAGE_BENCH_LLM_URL": stub.base_url, "TRIAGE_BENCH_LLM_PRS": "4"})
        sent = len(stub.requests)
    assert result["prs"] == 4 and result["prs_asked"] >= 1
    assert result["valid_share"] == 1.0 and result["fallbacks"] == {}
    assert result["modes"] == {"tools": result["prs_asked"]}  # json_schema refused, tools chosen
    assert result["requests"] == sent == result["prs_asked"] + 1
    assert result["tokens_in_per_pr"] == 120.0 and result["tokens_out_per_pr"] == 40.0  # the stub's usage
    assert set(result["seconds_per_pr"]) == {"median", "p90", "max", "mean"}
    assert result["llm_line"].startswith("LLM: local · mode tools")


def test_without_a_server_or_a_model_it_is_skipped_with_the_reason() -> None:
    result = llm_server.scenario({"PATH": "", "TRIAGE_BENCH_GGUF": "/nonexistent.gguf"})
    assert set(result) == {"skipped"}
    assert result["skipped"].startswith("missing a llama-server binary: set TRIAGE_BENCH_LLM_URL")
