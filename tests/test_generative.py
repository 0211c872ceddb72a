"""Generated answers: verification with scripted models, fallback, streaming."""

from __future__ import annotations

import time

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from qa import Assistant
from qa.answering import Answer
from qa.answering.verify import split_claims

CATASTROPHE = ("Botsan-Kharchenko said a recognition of Kosovo's independence by the West "
               "would lead to a humanitarian catastrophe in the province")


def scripted(bot, *replies):
    model = GenericFakeChatModel(messages=iter([AIMessage(content=r) for r in replies]))
    return Assistant(bot.store, bot.settings, bot.embedder, llm=model)


def assert_exact(bot, answer):
    for source in answer.sources:
        assert bot.store.document(source.path).text[source.start:source.end] == source.text


def test_a_copied_sentence_is_supported_and_cited_exactly(bot):
    answer = scripted(bot, f"{CATASTROPHE} [1].").ask("What did Botsan-Kharchenko warn?")
    assert answer.mode == "generated" and answer.found
    assert [c.supported for c in answer.claims] == [True]
    assert "humanitarian catastrophe" in answer.sources[0].text and answer.text.endswith("[1].")
    assert_exact(bot, answer)


def test_an_invented_claim_is_unsupported_and_never_cited(bot):
    answer = scripted(bot, f"{CATASTROPHE} [1]. The moon is made of cheese [1].").ask(
        "What did Botsan-Kharchenko warn?")
    assert [c.supported for c in answer.claims] == [True, False]
    assert answer.claims[1].sources == [] and "cheese" not in answer.text
    assert all("cheese" not in s.text for s in answer.sources)


def test_a_swapped_detail_or_a_negation_is_unsupported(bot):
    q = "How many people live in Kosovo?"
    assert not scripted(bot, "Kosovo has 5 million people [1].").ask(q).claims[0].supported
    assert scripted(bot, "Kosovo has 2 million people [1].").ask(q).claims[0].supported
    denial = scripted(bot, "Russia did not warn the United States [1].").ask("Who did Russia warn?")
    assert not denial.claims[0].supported and denial.mode == "fallback"


def test_numbers_compare_whole_values_with_scale_words(tmp_path, settings, embedder):
    (tmp_path / "dam.txt").write_text("Building the Lorne dam cost 1,250,000 dollars in 1962. "
                                      "The reservoir behind it holds water for the valley.")
    dam = Assistant.from_paths([tmp_path / "dam.txt"], tmp_path / "ix", settings, embedder)
    q = "How much did building the Lorne dam cost?"
    for claim, right in [("Building the Lorne dam cost 250 dollars [1].", False),
                         ("Building the Lorne dam cost 1,250 dollars [1].", False),
                         ("Building the Lorne dam cost 1250000 dollars [1].", True),
                         ("Building the Lorne dam cost 1.25 million dollars [1].", True),
                         ("Building the Lorne dam cost 1,250,000 dollars [1].", True)]:
        assert scripted(dam, claim).ask(q).claims[0].supported is right, claim


def test_swapped_roles_and_tautologies_are_unsupported(bot):
    q = "Who did Russia warn?"
    swapped = scripted(bot, "The United States and the European Union warned Russia [1].")
    assert not swapped.ask(q).claims[0].supported
    kept = scripted(bot, "Russia warned the United States and the European Union [1].")
    assert kept.ask(q).claims[0].supported
    passive = scripted(bot, "The United States and European Union were warned by Russia [1].")
    assert passive.ask(q).claims[0].supported
    empty = scripted(bot, "Serbia's main big power ally is Serbia's main big power ally [1].")
    answer = empty.ask("Who is Serbia's main big power ally?")
    assert not answer.claims[0].supported and answer.mode == "fallback"
    echo = scripted(bot, "Serbia has a main big power ally [1].").ask(
        "Who is Serbia's main big power ally?")
    assert echo.mode == "fallback"  # supported, but it tells nothing the question did not


def test_a_wrong_citation_is_corrected_and_a_missing_passage_dropped(bot):
    right = scripted(bot, f"{CATASTROPHE} [1].").ask("What did Botsan-Kharchenko warn?")
    wrong = scripted(bot, f"{CATASTROPHE} [3].").ask("What did Botsan-Kharchenko warn?")
    ghost = scripted(bot, f"{CATASTROPHE} [9].").ask("What did Botsan-Kharchenko warn?")
    assert right.corrections == 0
    assert wrong.corrections == 1 and wrong.text.endswith("[1].")
    assert ghost.corrections == 1 and "[9]" not in ghost.text
    assert wrong.sources[0].start == right.sources[0].start == ghost.sources[0].start


def test_a_refusal_gives_not_found(bot):
    answer = scripted(bot, "I cannot find the answer in the documents.").ask(
        "What is the capital of France?")
    assert not answer.found and answer.mode == "fallback" and answer.sources == []


class Broken(GenericFakeChatModel):
    def _stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("model server is down")


class Slow(GenericFakeChatModel):
    def _stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(5)
        yield from super()._stream(*args, **kwargs)


@pytest.mark.parametrize("kind", ["error", "timeout"])
def test_a_failing_model_falls_back_to_the_extractive_answer(bot, kind):
    replies = iter([AIMessage(content=f"{CATASTROPHE} [1].")])
    model = Broken(messages=replies) if kind == "error" else Slow(messages=replies)
    settings = bot.settings.with_(llm_budget_s=0.5)
    slow = Assistant(bot.store, settings, bot.embedder, llm=model)
    started = time.perf_counter()
    answer = slow.ask("What did Botsan-Kharchenko warn?")
    assert time.perf_counter() - started < 4
    said = "failed" if kind == "error" else "took longer than the 0.5 s budget (QA_LLM_BUDGET_S)"
    assert answer.mode == "fallback" and answer.found and said in answer.note
    assert answer.text == bot.ask("What did Botsan-Kharchenko warn?").text
    assert "humanitarian catastrophe" in answer.text


def test_a_timed_out_model_with_nothing_to_fall_back_on_says_so(bot):
    replies = iter([AIMessage(content="Paris [1].")])
    slow = Assistant(bot.store, bot.settings.with_(llm_budget_s=0.5), bot.embedder,
                     llm=Slow(messages=replies))
    answer = slow.ask("What is the capital of France?")
    assert answer.mode == "fallback" and not answer.found
    assert "took longer" in answer.note and "best-supported" not in answer.note
    assert "no sentence of the documents answers" in answer.note


def test_stream_yields_only_verified_claims_then_the_answer(bot):
    """What the model invents is never streamed, not even for a moment (the
    chat's browser endpoint shows these pieces as they come)."""
    reply = f"The moon is made of cheese [1]. {CATASTROPHE} [1]. Mars has two moons [2]."
    items = list(scripted(bot, reply).stream("What did Botsan-Kharchenko warn?"))
    first, *pieces, final = items
    assert isinstance(first, Answer) and first.mode == "extractive"  # at once, meanwhile
    assert pieces and all(isinstance(p, str) for p in pieces)
    streamed = "".join(pieces)
    assert streamed.startswith("Botsan-Kharchenko") and "humanitarian catastrophe" in streamed
    assert "cheese" not in streamed and "Mars" not in streamed
    assert final.mode == "generated" and "cheese" not in final.text
    extractive = list(bot.stream("What did Botsan-Kharchenko warn?"))
    assert len(extractive) == 2 and extractive[1].mode == "extractive"


def test_to_dict_carries_mode_and_claims(bot):
    answer = scripted(bot, f"{CATASTROPHE} [1]. The moon is made of cheese [2].").ask(
        "What did Botsan-Kharchenko warn?")
    data = answer.to_dict()
    assert data["mode"] == "generated" and [c["supported"] for c in data["claims"]] == [True, False]
    assert data["claims"][0]["sources"] == [0] and data["model"]


def test_claims_split_at_sentences_and_marks():
    assert split_claims('He said: "Yes, it is." [1] Kosovo is big [2]. The answer is: Russia [3, 4].') \
        == [('He said: "Yes, it is."', [1]), ("Kosovo is big.", [2]), ("Russia.", [3, 4])]


def test_no_model_means_no_langchain_model_import():
    import subprocess
    import sys

    script = ("import sys, qa; qa.Assistant; print('langchain' in sys.modules, "
              "'langchain_openai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_missing_provider_names_the_install(bot):
    from qa.errors import QAError

    with pytest.raises(QAError, match="ollama|pip install"):
        Assistant(bot.store, bot.settings, bot.embedder, llm="ollama:llama3.2").chat_model()


@pytest.fixture()
def two_docs(tmp_path, settings, embedder):
    (tmp_path / "ferry.txt").write_text("The night ferry to Kelby is run by Captain Ingrid "
                                        "Dahl. The crossing has been run by her family since 1931.")
    (tmp_path / "train.txt").write_text("The mountain train to Ostby is run by driver Paul "
                                        "Berg. The line has been run by the state since 1952.")
    return Assistant.from_paths([tmp_path / "ferry.txt", tmp_path / "train.txt"],
                                tmp_path / "ix", settings, embedder)


FERRY = [{"role": "user", "content": "Who runs the night ferry to Kelby?"},
         {"role": "assistant", "content": "The night ferry to Kelby is run by Captain "
                                          "Ingrid Dahl. [1]"}]


def test_a_follow_up_is_rewritten_by_the_model_before_retrieval(two_docs):
    answer = scripted(two_docs, "Since when has the night ferry to Kelby been run by Dahl's "
                                "family?", "The crossing has been run by her family since "
                                "1931 [1].").ask("Since when?", history=FERRY)
    assert answer.mode == "generated" and "1931" in answer.text
    assert answer.sources[0].source == "ferry.txt"


def test_a_useless_rewrite_does_not_spoil_the_fallback(two_docs):
    answer = scripted(two_docs, "Bananas are yellow?",
                      "I cannot find the answer in the documents.").ask("Since when?",
                                                                        history=FERRY)
    assert answer.mode == "fallback" and "1931" in answer.text


def test_added_content_or_an_unseen_acronym_is_unsupported(bot):
    q = "What would Russia do if Kosovo unilaterally declared independence?"
    padded = scripted(bot, "Russia would take steps to support the breakaway province of "
                           "Kosovo, including allowing the UN to recognize it as an "
                           "independent state [1].").ask(q)
    assert not padded.claims[0].supported and padded.mode == "fallback"


def test_true_sentences_that_do_not_answer_fall_back(bot):
    listed = scripted(bot, "The United States and major European Union powers are expected "
                           "to recognize the move despite opposition from Belgrade and Russia "
                           "[1].").ask("Where would Serb refugees flow?")
    assert listed.claims[0].supported and listed.mode == "fallback"
    assert "northern Kosovo and Serbia" in listed.text and "does not answer" in listed.note


def test_no_network_call_without_a_model(bot):
    """Every socket connection is refused and recorded: loading, asking and
    streaming with no model configured make none."""
    import subprocess
    import sys

    script = f"""
import socket
tried = []
def refuse(self, address, *args):
    tried.append(address)
    raise OSError("network blocked by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
import qa
bot = qa.Assistant.load({str(bot.index_dir)!r})
answer = bot.ask("What did Botsan-Kharchenko warn?")
pieces = list(bot.stream("Who is Russia's Kosovo negotiator?"))
print(answer.found, answer.mode, len(pieces), tried)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in __import__("os").environ.items()
                                           if not k.startswith("QA_LLM")})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "extractive", "2", "[]"]


def test_a_supported_claim_without_the_number_asked_for_falls_back(bot):
    """"What percentage ...?" answered with a true sentence that takes up the
    question but holds no number is not an answer: the extractive one stands."""
    q = "What percentage of Kosovo's population is ethnic Albanian?"
    reply = ("The leaders of Kosovo's ethnic Albanian majority say they are within weeks "
             "of declaring independence from Serbia [1].")
    answer = scripted(bot, reply).ask(q)
    assert answer.claims[0].supported and answer.mode == "fallback"
    assert "90 percent" in answer.text
    kept = scripted(bot, "Kosovo's ethnic Albanian majority make up 90 percent of the "
                           "province's 2 million people [1].").ask(q)
    assert kept.mode == "generated" and "90 percent" in kept.text


def test_the_verifier_reads_other_languages(tmp_path, settings, embedder):
    (tmp_path / "de.txt").write_text(
        "Russland warnte am Montag die Vereinigten Staaten und die Europäische Union. "
        "Der Gesandte Botsan-Kharchenko sprach von einer humanitären Katastrophe in der "
        "Provinz.", encoding="utf-8")
    german = Assistant.from_paths([tmp_path / "de.txt"], tmp_path / "ix", settings, embedder)
    q = "Wovor warnte der Gesandte Botsan-Kharchenko?"
    said = "Der Gesandte Botsan-Kharchenko sprach {}von einer humanitären Katastrophe{} [1]."
    assert scripted(german, said.format("", " in der Provinz")).ask(q).claims[0].supported
    # a German negation, and a name in another script the passages lack
    for claim in (said.format("nicht ", " in der Provinz"), said.format("", " in Москва")):
        assert not scripted(german, claim).ask(q).claims[0].supported, claim


def test_follow_ups_are_told_in_other_languages():
    from qa.answering.followup import is_follow_up

    assert is_follow_up("Warum hat er das gesagt?") and is_follow_up("¿Y ella?")
    assert is_follow_up("Что он сказал потом?") and is_follow_up("为什么？")
    assert not is_follow_up("Wie viele Einwohner hatte Berlin im Jahr 1900?")


FACTS = ("The Osk dam cost 900,000 dollars and the Varne dam cost 1,200,000 dollars. "
         "The new road to the Osk dam is 40 km long. "
         "The Varne quarry shipped four hundred tonnes of stone. "
         "The Lorne council failed to approve the budget for the bridge. "
         "The Tarn ferry crossed the strait without a pilot.")


@pytest.mark.parametrize("claim,right", [
    ("The Osk dam cost 900,000 dollars [1].", True),
    ("The Varne dam cost 900,000 dollars [1].", False),  # the other half's number
    ("The Varne dam cost 1,200,000 dollars [1].", True),
    ("The new road to the Osk dam is 40 km long [1].", True),
    ("The new road to the Osk dam is 40 miles long [1].", False),  # unit swapped
    ("The Varne quarry shipped four hundred tonnes of stone [1].", True),
    ("The Varne quarry shipped 400 tonnes of stone [1].", True),
    ("The Varne quarry shipped four tonnes of stone [1].", False),  # scale word dropped
    ("The Lorne council failed to approve the budget for the bridge [1].", True),
    ("The Lorne council approved the budget for the bridge [1].", False),  # "failed to"
    ("The Tarn ferry crossed the strait without a pilot [1].", True),
    ("The Tarn ferry crossed the strait with a pilot [1].", False),  # "without"
])
def test_numbers_units_scales_and_negations_must_match_their_thing(tmp_path, settings,
                                                                    embedder, claim, right):
    (tmp_path / "works.txt").write_text(FACTS)
    works = Assistant.from_paths([tmp_path / "works.txt"], tmp_path / "ix", settings, embedder)
    answer = scripted(works, claim).ask("What do we know about the public works?")
    assert answer.claims[0].supported is right, claim


@pytest.mark.parametrize("text,claim,right", [
    ("Das Projekt kostete 1,25 Millionen Euro.", "Das Projekt kostete 1,25 Millionen Euro [1].",
     True),
    ("Das Projekt kostete 1,25 Millionen Euro.", "Das Projekt kostete 1,25 Euro [1].", False),
    ("Russland warnte die Vereinigten Staaten vor der Anerkennung.",
     "Russland warnte die Vereinigten Staaten vor der Anerkennung [1].", True),
    ("Russland warnte die Vereinigten Staaten vor der Anerkennung.",
     "Die Vereinigten Staaten warnten Russland vor der Anerkennung [1].", False),
    ("这座桥不长，只有三百米。", "这座桥不长，只有三百米 [1]。", True),
    ("这座桥不长，只有三百米。", "这座桥非常长，只有三百米 [1]。", False),  # 非常: "very"
])
def test_the_checks_hold_in_other_languages(tmp_path, settings, embedder, text, claim, right):
    (tmp_path / "doc.txt").write_text(text, encoding="utf-8")
    bot = Assistant.from_paths([tmp_path / "doc.txt"], tmp_path / "ix", settings, embedder)
    answer = scripted(bot, claim).ask("Was wissen wir? 我们知道什么？")
    assert answer.claims[0].supported is right, claim


def test_a_model_digest_keeps_what_the_document_supports_and_fills_from_the_extractive(bot):
    """Issue 28 section 3: each section the model summarises is verified like an
    answer; the invented sentence is left out and said so, and the extractive
    digest fills the rest, so a weak model never gives less."""
    extractive = bot.digest()
    pieces = list(scripted(bot, f"{CATASTROPHE}. The moon is made of cheese.").stream(
        "Summarize this document"))
    answer = pieces[-1]
    assert pieces[0] == extractive.text.split("\n")[0] + "\n"  # the title line, at once
    assert pieces[1].startswith("(read 0 of ") and "sections)" in pieces[1]  # progress
    assert answer.mode == "generated" and answer.found
    assert [c.supported for c in answer.claims][-1] is False and "cheese" not in answer.text
    assert any("humanitarian catastrophe" in line for line in answer.text.splitlines()[:4])
    assert len(answer.sources) == len(extractive.sources)
    assert "1 of its sentences were not supported" in answer.note
    assert "come from the documents themselves" in answer.note
    assert_exact(bot, answer)
    invented = scripted(bot, "The moon is made of cheese. Mars has two moons of jam.").ask(
        "Summarize this document")
    assert invented.mode == "fallback" and invented.sources == extractive.sources


def test_the_chat_shows_the_extractive_answer_at_once_and_cuts_a_slow_model_off(bot, tmp_path):
    """Issue 37 item 7: with a chat model, the extractive answer is on screen
    at once; a model slower than QA_LLM_BUDGET_S is cut off, the extractive
    answer stays, and the chat says why."""
    import app as app_module

    replies = iter([AIMessage(content=f"{CATASTROPHE} [1].")])
    slow = Assistant(bot.store, bot.settings.with_(llm_budget_s=1.0), bot.embedder,
                     llm=Slow(messages=replies))
    respond = app_module.create_app(slow, uploads_dir=tmp_path / "uploads").qa_handlers["chat"]
    started = time.perf_counter()
    frames = respond("What did Botsan-Kharchenko warn?", [])
    first, _ = next(frames)
    assert time.perf_counter() - started < 1.0  # before the model said anything
    assert "humanitarian catastrophe" in first and "is reading the passages (at most 1 s)" in first
    *_, (last, _) = frames
    assert time.perf_counter() - started < 4  # the model sleeps 5 s: cut off
    assert "humanitarian catastrophe" in last
    assert "took longer than the 1 s budget (QA_LLM_BUDGET_S) and was cut off" in last


def test_the_gate_keeps_a_verified_claim_the_answer_model_reads_as_answering(bot, monkeypatch):
    """Issue 36 item 7: a verified, right claim was thrown away when the
    fitted ranker doubted its sentence. Here the ranker doubts every sentence
    (as it did SmolLM2's "...won was ImageNet"): the claim the answer model
    reads as answering is kept; one it reads as not answering still falls back."""
    from qa.answering import extractive

    if extractive.reader_model() is None:
        pytest.skip("the package carries no answer model")
    monkeypatch.setattr("qa.answering.pipeline.confident", lambda *a, **k: set())
    question = "Who has administered Kosovo since 1999?"
    said = "Kosovo has been administered by the United Nations since a 1999 NATO bombing " \
           "campaign [1]."
    right = scripted(bot, said).ask(question)
    assert right.mode == "generated" and "United Nations" in right.text
    assert scripted(bot, f"{CATASTROPHE} [1].").ask(question).mode == "fallback"


def test_a_model_digest_keeps_the_title_and_the_documents_own_summary_first(
        tmp_path, settings, embedder):
    """Issue 38 item 5: with a chat model, the overview's title and the
    document's own summary come first (cited), the model's verified sentences
    after: never less informative than the digest without a model."""
    from test_overview import PAPER_MD

    (tmp_path / "mills.md").write_text(PAPER_MD, encoding="utf-8")
    bot = Assistant.from_paths([tmp_path / "mills.md"], tmp_path / "ix", settings, embedder)
    said = "Tidal mills store the rising tide behind a dam and release it through a wheel."
    answer = scripted(bot, *[said] * 5).ask("Summarize mills.md")
    lines = answer.text.split("\n")
    assert answer.mode == "generated"
    assert lines[0].startswith("**Tidal mills of the Velde estuary**")
    assert lines[1:3] == ["", "Its own summary:"]
    assert lines[3] == "- We surveyed the eleven tidal mills that stand on the Velde estuary [1]."
    cover = lines.index("What it covers:")
    assert cover == 8 and lines[7] == ""
    assert any("release it through a wheel" in line for line in lines[cover:])
    assert [c.supported for c in answer.claims[:4]] == [True] * 4
    assert_exact(bot, answer)
