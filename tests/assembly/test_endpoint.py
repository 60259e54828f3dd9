"""`agentnet serve-team`'s endpoint on ScriptedBackend teams: chat, streaming, bad requests, limits,
the run store, and shutdown with requests in flight."""

from __future__ import annotations

import concurrent.futures
import json
from pathlib import Path

import httpx
import pytest

from agentnet.assembly.chat_api import ApiSettings
from agentnet.assembly.endpoint import parse_team, parse_teams
from agentnet.assembly.team_service import Limits
from agentnet.configs import TeamConfig
from agentnet.errors import ConfigError
from agentnet.store import RunStore
from agentnet.viewer import write_viewer
from tests.assembly.endpoint_helpers import chat, post, scripted, serving, sse


def test_a_chat_reply_is_the_teams_answer_with_its_usage_and_its_stored_run(tmp_path: Path) -> None:
    team, backend = scripted()
    with serving(tmp_path, team) as s:
        r = post(s.url, chat(s.url))
    assert r.status_code == 200, r.text
    body = r.json()
    message = body["choices"][0]["message"]
    assert message["content"] == "42"
    assert message["reasoning_content"] == "I worked it out step by step. The answer is 42"
    assert body["model"] == "trio" and body["object"] == "chat.completion"
    ext = body["agentnet"]
    assert ext["calls"] == 4 == len(backend.calls)  # three agents and the decision
    assert set(ext["usage_by_agent"]) == {"a0", "a1", "a2", "decision"}
    total = sum(u["prompt_tokens"] + u["completion_tokens"] for u in ext["usage_by_agent"].values())
    assert body["usage"]["total_tokens"] == total > 0
    assert r.headers["x-agentnet-run"] == ext["run_id"] and r.headers["x-agentnet-item"] == ext["item_id"] == body["id"]
    with RunStore.existing(s.store) as store:
        run = store.run(ext["run_id"])
        assert run.status == "finished" and run.config.split == "serve-team:trio" and run.config.team.agents == 3
        (row,) = store.results(run.id, with_trajectories=True)
        assert (row.item_id, row.extracted, row.error) == (body["id"], "42", None)
        assert row.trajectory["query"] == "What is 6 x 7?" and len(row.trajectory["messages"]) == 4
        page = write_viewer(store, run.id, tmp_path / "show", item=row.item_id)  # what `agentnet show RUN ITEM` writes
    assert "What is 6 x 7?" in page.read_text()
    assert ext["show"] == f"agentnet show {run.id} {row.item_id} --store {s.store}"


def test_a_stream_sends_the_decision_as_it_is_made_then_the_answer_usage_and_done(tmp_path: Path) -> None:
    team, _ = scripted()
    with serving(tmp_path, team) as s:
        with httpx.stream(
            "POST",
            f"{s.url}/chat/completions",
            json=chat(s.url, stream=True, stream_options={"include_usage": True}),
            timeout=30,
        ) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            events = sse(r.iter_lines())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    reasoning = [
        c["choices"][0]["delta"]["reasoning_content"]
        for c in chunks
        if c["choices"] and "reasoning_content" in c["choices"][0]["delta"]
    ]
    assert len(reasoning) > 1 and "".join(reasoning) == "I worked it out step by step. The answer is 42"  # word by word
    content = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert [c for c in content if c] == ["42"]
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert final["choices"][0]["finish_reason"] == "stop" and final["agentnet"]["calls"] == 4
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    with RunStore.existing(s.store) as store:
        assert [r.item_id for r in store.results(final["agentnet"]["run_id"])] == [final["id"]]


@pytest.mark.parametrize(
    ("send", "status", "says"),
    [
        ({"json": {"model": "nobody", "messages": [{"role": "user", "content": "hi"}]}}, 404, "served teams: trio"),
        ({"json": {"model": "trio", "messages": []}}, 400, "`messages` is empty"),
        ({"json": {"model": "trio"}}, 400, "`messages` is empty"),
        ({"json": {"model": "trio", "messages": [{"role": "system", "content": "x"}]}}, 400, "no user message"),
        (
            {"json": {"model": "trio", "messages": [{"role": "user", "content": "  "}]}},
            400,
            "last user message is empty",
        ),
        ({"json": {"model": "trio", "messages": [{"role": "user", "content": 3}]}}, 400, "content must be a string"),
        ({"json": {"messages": [{"role": "user", "content": "hi"}]}}, 400, "`model` must name"),
        ({"json": ["not", "an", "object"]}, 400, "JSON object"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not JSON"),
        ({"content": b"x" * 5000}, 413, "over this server's limit of 4,096 bytes"),
        ({"json": {"model": "trio", "messages": [{"role": "user", "content": "hi"}], "n": 2}}, 400, "n=2"),
        (
            {"json": {"model": "trio", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 999}},
            400,
            "limit of 100",
        ),
        (
            {"json": {"model": "trio", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1}},
            400,
            "max_tokens=-1",
        ),
    ],
)
def test_bad_requests_get_an_openai_error_body_and_a_4xx(tmp_path: Path, send: dict, status: int, says: str) -> None:
    team, backend = scripted()
    with serving(tmp_path, team, settings=ApiSettings(max_body_bytes=4096, max_tokens=100)) as s:
        r = httpx.post(f"{s.url}/chat/completions", timeout=30, **send)
        with RunStore.existing(s.store) as store:
            assert store.results(team.run_id) == []  # nothing ran, nothing stored
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert says in error["message"] and error["type"] and "Traceback" not in r.text
    assert backend.calls == []


def test_wrong_routes_and_methods_are_openai_errors_too(tmp_path: Path) -> None:
    team, _ = scripted()
    with serving(tmp_path, team) as s:
        missing = httpx.get(f"{s.url}/completions", timeout=10)
        method = httpx.get(f"{s.url}/chat/completions", timeout=10)
    assert (missing.status_code, method.status_code) == (404, 405)
    assert (
        "no route" in missing.json()["error"]["message"] and "GET is not allowed" in method.json()["error"]["message"]
    )


def test_models_lists_every_team_with_its_shape(tmp_path: Path) -> None:
    trio, _ = scripted()
    solo, _ = scripted("solo", agents=1, decision="last_agent")
    with serving(tmp_path, trio, solo) as s:
        listed = httpx.get(f"{s.url}/models", timeout=10).json()
        one = httpx.get(f"{s.url}/models/solo", timeout=10).json()
        unknown = httpx.get(f"{s.url}/models/nobody", timeout=10)
    assert [m["id"] for m in listed["data"]] == ["trio", "solo"]
    assert one["agentnet"]["agents"] == 1 and one["agentnet"]["run_id"] == solo.run_id
    assert unknown.status_code == 404


def test_a_bearer_token_is_required_when_set(tmp_path: Path) -> None:
    team, _ = scripted()
    with serving(tmp_path, team, settings=ApiSettings(api_key="s3cret")) as s:
        none = post(s.url, chat(s.url))
        wrong = post(s.url, chat(s.url), headers={"Authorization": "Bearer nope"})
        right = post(s.url, chat(s.url), headers={"Authorization": "Bearer s3cret"})
        models = httpx.get(f"{s.url}/models", timeout=10)
    assert (none.status_code, wrong.status_code, right.status_code, models.status_code) == (401, 401, 200, 401)
    assert none.json()["error"]["code"] == "invalid_api_key"


def test_the_requests_max_tokens_caps_every_agent_call(tmp_path: Path) -> None:
    team, backend = scripted()
    with serving(tmp_path, team) as s:
        capped = post(s.url, chat(s.url, max_tokens=5))
        free = post(s.url, chat(s.url))
    assert capped.status_code == free.status_code == 200
    assert [c.settings.max_tokens for c in backend.calls] == [5] * 4 + [256] * 4  # the team's own is 256
    assert capped.json()["choices"][0]["finish_reason"] == "length"  # the decision was cut at 5 words


def test_past_the_queue_a_request_gets_429_with_retry_after(tmp_path: Path) -> None:
    team, _ = scripted(latency_s=0.3, agents=1, decision="last_agent")
    with serving(tmp_path, team, limits=Limits(concurrency=1, queue=1)) as s:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = [pool.submit(post, s.url, chat(s.url)) for _ in range(2)]
            s.wait_for(2)  # one running, one waiting: the server is full
            refused = post(s.url, chat(s.url))
            answered = [f.result() for f in first]
        with RunStore.existing(s.store) as store:
            stored = store.results(team.run_id)
            total = store.run(team.run_id).total_items
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert total == 2  # a served run's total grows with what it answered (`agentnet runs`: 2/2, not 2/0)
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert [r.status_code for r in answered] == [200, 200] and len(stored) == 2


def test_a_request_past_its_timeout_gets_504_and_is_recorded_waiting_included(tmp_path: Path) -> None:
    team, _ = scripted(latency_s=5.0, agents=1, decision="last_agent")
    with serving(tmp_path, team, limits=Limits(concurrency=1, queue=1, timeout_s=0.5)) as s:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            running = pool.submit(post, s.url, chat(s.url, content="first"))
            s.wait_for(1)
            waiting = pool.submit(post, s.url, chat(s.url, content="second"))  # times out in the queue
            replies = [running.result(), waiting.result()]
        with RunStore.existing(s.store) as store:
            rows = {r.item_id: r for r in store.results(team.run_id)}
    assert [r.status_code for r in replies] == [504, 504]
    assert all("within 0.5 s" in r.json()["error"]["message"] for r in replies)
    assert sorted(rows) == sorted(r.headers["x-agentnet-item"] for r in replies)
    assert all("within 0.5 s" in (row.error or "") for row in rows.values())


def test_shutdown_lets_admitted_requests_finish_and_records_each(tmp_path: Path) -> None:
    team, _ = scripted(latency_s=0.3, agents=1, decision="last_agent")
    with serving(tmp_path, team, limits=Limits(concurrency=2, queue=4, drain_s=30)) as s:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(post, s.url, chat(s.url, content=f"question {i}")) for i in range(4)]
            s.wait_for(4)
            s.server.stop()  # as Ctrl-C: two running, two waiting
            replies = [f.result() for f in futures]
    assert [r.status_code for r in replies] == [200] * 4
    with RunStore.existing(s.store) as store:
        rows = store.results(team.run_id, with_trajectories=True)
        assert store.run(team.run_id).status == "finished"
    assert sorted(r.trajectory["query"] for r in rows) == [f"question {i}" for i in range(4)]
    assert all(r.error is None and r.extracted == "42" for r in rows)


def test_shutdown_past_the_drain_cuts_requests_short_and_records_each(tmp_path: Path) -> None:
    team, _ = scripted(latency_s=30.0, agents=1, decision="last_agent")
    with serving(tmp_path, team, limits=Limits(concurrency=1, queue=2, drain_s=0.2)) as s:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(post, s.url, chat(s.url, content=f"question {i}")) for i in range(3)]
            s.wait_for(3)
            s.server.stop()
            replies = [f.result() for f in futures]
    assert [r.status_code for r in replies] == [503] * 3
    assert all("shut down before the team answered" in r.json()["error"]["message"] for r in replies)
    with RunStore.existing(s.store) as store:
        rows = store.results(team.run_id)
        run = store.run(team.run_id)
    assert sorted(r.item_id for r in rows) == sorted(r.headers["x-agentnet-item"] for r in replies)
    assert all("shut down" in (r.error or "") for r in rows)
    assert run.status == "interrupted" and "3 request(s) unanswered" in (run.reason or "")


def test_a_failing_model_is_a_502_not_a_traceback(tmp_path: Path) -> None:
    from agentnet.errors import BackendError

    team, _ = scripted(reply="unused", agents=1, decision="last_agent")
    team.team.backends["default"].inner._fn = lambda m, s: BackendError("the model server is down", url="http://m")  # type: ignore[attr-defined]
    with serving(tmp_path, team) as s:
        r = post(s.url, chat(s.url))
    assert r.status_code == 502 and "the model server is down" in r.json()["error"]["message"]


def test_team_specs_parse_with_their_own_options_and_refuse_bad_ones() -> None:
    base = TeamConfig(topology="chain", rounds=1, roles=("critic",))
    trio = parse_team("trio=cot@m,pal@m,cot@m;topology=complete;rounds=2;early_stop=yes;task=gsm8k", base)
    assert (trio.name, trio.config.topology, trio.config.rounds, trio.config.agents, trio.task) == (
        "trio",
        "complete",
        2,
        3,
        "gsm8k",
    )
    assert trio.config.early_stop is True and trio.config.roles == ()
    plain = parse_team("plain=;agents=2;roles=math_solver,inspector", base)
    assert (plain.config.agents, plain.config.roles, plain.config.team) == (2, ("math_solver", "inspector"), "")
    assert [t.name for t in parse_teams([], base)] == ["team"]
    for entry, says in [
        ("cot@m", "not NAME=SPEC"),
        ("a=cot@m;color=red", "not KEY=VALUE"),
        ("a=cot@m;rounds=two", "rounds='two'"),
        ("a=wizard@m", "--team a: unknown role"),
        ("a=;early_stop=maybe", "early_stop='maybe'"),
        ("a=;rounds=0", "--team a:"),
    ]:
        with pytest.raises(ConfigError, match=says.replace("(", r"\(")):
            parse_team(entry, base)
    with pytest.raises(ConfigError, match="names a twice"):
        parse_teams(["a=cot@m", "a=pal@m"], base)


def test_a_team_the_flags_built_is_not_blamed_on_a_team_option() -> None:
    from agentnet.assembly.endpoint import plan
    from agentnet.tasks import TaskConfig

    for entries, says in [([], r"^unknown topology"), (["a=cot@m;topology=wizard"], r"^--team a: unknown topology")]:
        with pytest.raises(ConfigError, match=says):
            plan(parse_teams(entries, TeamConfig(topology="wizard")), TaskConfig())


def test_the_body_limit_holds_without_a_content_length(tmp_path: Path) -> None:
    team, _ = scripted()

    def chunks():
        yield json.dumps(chat("x"))[:-1].encode()
        yield b', "pad": "' + b"x" * 8000 + b'"}'

    with serving(tmp_path, team, settings=ApiSettings(max_body_bytes=4096)) as s:
        r = httpx.post(f"{s.url}/chat/completions", content=chunks(), timeout=10)
    assert r.status_code == 413


def test_a_stream_whose_models_fail_ends_with_an_openai_error_event(tmp_path: Path) -> None:
    from agentnet.errors import BackendError

    team, _ = scripted(reply="unused", agents=1, decision="last_agent")
    team.team.backends["default"].inner._fn = lambda m, s: BackendError("the model server is down", url="http://m")  # type: ignore[attr-defined]
    with serving(tmp_path, team) as s:
        with httpx.stream("POST", f"{s.url}/chat/completions", json=chat(s.url, stream=True), timeout=30) as r:
            events = sse(r.iter_lines())
        with RunStore.existing(s.store) as store:
            (row,) = store.results(team.run_id)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant" and events[-1] == "[DONE]"
    assert "the model server is down" in events[-2]["error"]["message"] and events[-2]["error"]["code"] == "team_502"
    assert "the model server is down" in (row.error or "")


@pytest.mark.parametrize(
    ("reasoning", "content", "field"),
    [
        ("content", "42\n\nI worked it out step by step. The answer is 42", None),
        ("none", "42", None),
    ],
)
def test_the_final_reply_goes_after_the_answer_or_nowhere(
    tmp_path: Path, reasoning: str, content: str, field: None
) -> None:
    team, _ = scripted()
    with serving(tmp_path, team, settings=ApiSettings(reasoning=reasoning)) as s:  # type: ignore[arg-type]
        message = post(s.url, chat(s.url)).json()["choices"][0]["message"]
    assert message["content"] == content and message.get("reasoning_content") is field
