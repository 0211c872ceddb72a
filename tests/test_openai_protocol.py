"""OpenAI's chat-completions protocol, through the official `openai` client
against a real `qa serve --no-ui`, and LangChain's own standard chat-model tests
through ChatOpenAI."""

from __future__ import annotations

import shutil

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests
from openai import OpenAI
from test_api import KEY, QUESTION, serve

ANSWER = "humanitarian catastrophe"
SERVER: dict[str, str] = {}


@pytest.fixture(scope="module")
def url(bundled_index, tmp_path_factory):
    from qa import Assistant

    workdir = tmp_path_factory.mktemp("protocol")
    shutil.copytree(bundled_index, workdir / "index")
    (workdir / "garden.txt").write_text("The greenhouse key hangs behind the blue door.")
    Assistant.from_paths([workdir / "garden.txt"], workdir / "collections" / "notes")
    with serve(workdir / "index", workdir, "--api-key", KEY, "--collections-dir",
               str(workdir / "collections")) as address:
        SERVER["url"] = address
        yield address


@pytest.fixture()
def ai(url):
    return OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)


def ask(ai, **options):  # type: ignore[no-untyped-def]
    return ai.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": QUESTION}], **options)


def test_streaming_with_include_usage_ends_with_a_usage_chunk(ai):
    chunks = list(ask(ai, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert ANSWER in text
    assert all(c.usage is None for c in chunks[:-1])
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens > 10
    # the sources ride in the last chunk, after the finish_reason chunk
    assert last.model_extra["qa_sources"] and ANSWER in last.model_extra["qa_sources"][0]["text"]
    assert not any(c.model_extra.get("qa_sources") for c in chunks[:-1])
    from qa.completions import count

    assert last.usage.prompt_tokens == count(QUESTION) > 5
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    plain = list(ask(ai, stream=True))  # without the option: no usage chunk
    assert plain[-1].choices and all(getattr(c, "usage", None) is None for c in plain)


def test_usage_counts_the_prompt_and_the_reply(ai):
    done = ask(ai)
    from qa.completions import count

    assert done.usage.prompt_tokens == count(QUESTION)
    assert done.usage.completion_tokens == count(done.choices[0].message.content)
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_stop_cuts_the_reply_before_the_stop_sequence(ai):
    whole = ask(ai).choices[0].message.content
    cut = ask(ai, stop=["catastrophe", "zzz"]).choices[0]
    assert cut.message.content == whole[:whole.index("catastrophe")]
    assert cut.finish_reason == "stop" and "catastrophe" not in cut.message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in ask(ai, stream=True,
                                                                    stop="catastrophe"))
    assert streamed == cut.message.content


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_cuts_the_reply_with_finish_reason_length(ai, field):
    done = ask(ai, **{field: 5}).choices[0]
    assert done.finish_reason == "length"
    from qa.completions import count

    assert count(done.message.content) == 5
    whole = ask(ai, max_tokens=1000).choices[0]
    assert whole.finish_reason == "stop" and whole.message.content.startswith(
        done.message.content)


def test_models_retrieve_and_an_unknown_model(ai):
    assert ai.models.retrieve("qa").id == "qa"
    with pytest.raises(openai.NotFoundError) as missing:
        ai.models.retrieve("gpt-4o")
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as wrong:
        ai.chat.completions.create(model="gpt-4o",
                                   messages=[{"role": "user", "content": QUESTION}])
    error = wrong.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'qa'" in error["message"] or "qa" in error["message"].split("models:")[1]


@pytest.mark.parametrize("options,param", [
    ({"n": 2}, "n"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
      "tool_choice": "required"}, "tool_choice"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
])
def test_what_qa_cannot_do_is_a_400_naming_the_parameter(ai, options, param):
    with pytest.raises(openai.BadRequestError) as refused:
        ask(ai, **options)
    body = refused.value.body
    assert body["param"] == param and body["type"] == "invalid_request_error"
    assert body["code"] and "not supported" in body["message"] or "must be 1" in body["message"]


def test_error_bodies_carry_message_type_param_and_code(url):
    wrong = httpx.post(f"{url}/v1/chat/completions", json={"messages": []},
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == {"message": wrong.json()["error"]["message"],
                                     "type": "authentication_error", "param": None,
                                     "code": "invalid_api_key"}
    bad = httpx.post(f"{url}/v1/chat/completions", json={"model": "qa", "max_tokens": 0,
                                                         "messages": [{"role": "user",
                                                                       "content": "hi"}]},
                     headers={"Authorization": f"Bearer {KEY}"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_tokens"


class TestQAChatModel(ChatModelIntegrationTests):
    """LangChain's standard suite for chat models, through ChatOpenAI at qa.

    Declared capabilities: qa answers questions about documents in text. It
    calls no tools, gives no structured or JSON output, and reads no images,
    audio, PDFs or video in messages: those standard tests skip."""

    @pytest.fixture(autouse=True)
    def _server(self, url):  # type: ignore[no-untyped-def]
        pass

    @property
    def chat_model_class(self) -> type[ChatOpenAI]:
        return ChatOpenAI

    @property
    def chat_model_params(self) -> dict:
        # A new async client per test: each async test runs in its own event loop.
        return {"model": "qa", "base_url": f"{SERVER.get('url', 'http://127.0.0.1:9')}/v1",
                "api_key": KEY, "max_retries": 0, "stream_usage": True,
                "http_async_client": httpx.AsyncClient(timeout=60)}

    @property
    def model_override_value(self) -> str:
        return "qa/notes"  # another collection, as another model

    @property
    def has_tool_calling(self) -> bool:
        return False

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def has_structured_output(self) -> bool:
        return False

    @property
    def supports_json_mode(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True
