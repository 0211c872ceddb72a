"""The Gradio app, built without launching; handlers called directly."""


import pytest
from conftest import make_pdf

import app as app_module
from qa import Assistant
from qa.chat import answer_markdown, safe_name, sources_html, store_upload
from qa.errors import DocumentError


def handler(demo, name):
    assert any(f.api_name == name for f in demo.fns.values())  # the endpoint exists
    if name == "chat":  # it streams: the last frame is the finished answer
        return lambda message, history: list(demo.qa_handlers[name](message, history))[-1]
    return demo.qa_handlers[name]


@pytest.fixture()
def demo(bot, tmp_path):
    return app_module.create_app(bot, uploads_dir=tmp_path / "uploads")


def test_chat_answers_with_citation_and_highlight(demo):
    message, panel = handler(demo, "chat")("What did Botsan-Kharchenko warn?", [])
    assert "humanitarian catastrophe" in message and "[1]" in message
    assert "russia-warns-kosovo.txt" in message
    assert "<mark>" in panel and "humanitarian catastrophe" in panel.split("<mark>")[1]


def test_not_found_looks_different(demo):
    message, panel = handler(demo, "chat")("What is the capital of France?", [])
    assert message.startswith("⚠️ **Not in the documents.**") and "<mark>" not in panel


def test_follow_up_uses_gradio_history(demo):
    chat = handler(demo, "chat")
    first, _ = chat("Who has administered Kosovo since 1999?", [])
    # Gradio 6 passes content as a list of text parts
    history = [{"role": "user", "content": [{"type": "text",
                                             "text": "Who has administered Kosovo since 1999?"}]},
               {"role": "assistant", "content": [{"type": "text", "text": first}]}]
    second, _ = chat("Why?", history)
    assert "halt killings" in second
    alone, _ = chat("Why?", [])
    assert "halt killings" not in alone and "Not in the documents" in alone


def test_ask_endpoint_takes_history(demo):
    ask = handler(demo, "ask")
    first = ask("Who has administered Kosovo since 1999?")
    history = [{"role": "user", "content": "Who has administered Kosovo since 1999?"},
               {"role": "assistant", "content": first["answer"]}]
    assert "halt killings" in ask("Why?", history)["answer"]
    assert not ask("Why?")["found"]


def test_empty_question_is_a_message_not_a_crash(demo):
    message, _ = handler(demo, "chat")("   ", [])
    assert "empty" in message


def test_ask_endpoint_returns_json(demo):
    result = handler(demo, "ask")("What did Botsan-Kharchenko warn?")
    assert result["found"] and "humanitarian catastrophe" in result["answer"]
    assert result["sources"][0]["source"] == "russia-warns-kosovo.txt"


def test_upload_indexes_and_bad_files_lose_nothing(demo, bot, tmp_path):
    upload, remove = handler(demo, "upload"), handler(demo, "remove")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    good = incoming / "garden notes.txt"
    good.write_text("The greenhouse key hangs behind the blue door.")
    pdf = incoming / "scan.pdf"
    pdf.write_bytes(make_pdf([""]))
    empty = incoming / "empty.txt"
    empty.write_text("")
    exe = incoming / "tool.exe"
    exe.write_bytes(b"MZ")
    status, table, _, _ = upload([str(good), str(pdf), str(empty), str(exe)],
                                 progress=lambda *a, **k: None)
    assert "Indexed 1 new" in status
    assert "no text layer" in status and "empty" in status and "unsupported" in status
    assert ["garden_notes.txt", 1] in table and ["russia-warns-kosovo.txt", 4] in table
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()
                  if not p.name.startswith(".")) == ["garden_notes.txt"]
    # Gradio's cached copies are gone: /gradio_api/file= cannot serve them any more.
    assert not any(p.exists() for p in (good, pdf, empty, exe))
    assert "blue door" in bot.ask("Where does the greenhouse key hang?").text
    stored = str((tmp_path / "uploads" / "garden_notes.txt").resolve())
    status, table, _ = remove(stored)
    assert "Removed" in status and [row[0] for row in table] == ["russia-warns-kosovo.txt"]
    assert not (tmp_path / "uploads" / "garden_notes.txt").exists()  # the copy goes too


def test_upload_names_are_made_safe(tmp_path):
    assert safe_name("../../x.txt") == "x.txt"
    assert safe_name("..\\..\\evil name!.PDF") == "evil_name.pdf"
    assert safe_name(".hidden.md") == "hidden.md"
    source = tmp_path / "in.txt"
    source.write_text("hello")
    stored = store_upload(source, "../../escape.txt", tmp_path / "up", 1000)
    assert stored.parent == tmp_path / "up" and stored.name == "escape.txt"
    with pytest.raises(DocumentError, match="over the"):
        store_upload(source, "big.txt", tmp_path / "up", 2)


def test_formatting_escapes_html(bot):
    answer = bot.ask("Who is Serbia's main big power ally?")
    answer.sources[0].context = "<script>x</script>" + answer.sources[0].context
    answer.sources[0].context_start -= len("<script>x</script>")
    assert "<script>" not in sources_html(answer)
    assert answer_markdown(answer).count("[1]") == 1


def test_bad_port_is_one_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv("QA_PORT", "abc")
    with pytest.raises(SystemExit) as stop:
        app_module._arguments([])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "'abc' is not a port number" in err
    assert "Traceback" not in err
    assert app_module._arguments(["--port", "8080"]).port == 8080


def test_listens_on_loopback_by_default(monkeypatch):
    monkeypatch.delenv("QA_HOST", raising=False)
    monkeypatch.delenv("QA_SHARE", raising=False)
    monkeypatch.delenv("QA_PORT", raising=False)
    args = app_module._arguments([])
    assert args.host == "127.0.0.1" and args.share is False and args.port == 7860


def test_chat_answers_only_from_chosen_documents_and_collections(bot, tmp_path, settings,
                                                                   embedder):
    from qa.api import Collections

    (tmp_path / "garden.txt").write_text("The greenhouse key hangs behind the blue door.")
    folder = tmp_path / "collections"
    Assistant.from_paths([tmp_path / "garden.txt"], folder / "garden", settings, embedder)
    demo = app_module.create_app(bot, uploads_dir=tmp_path / "uploads",
                                 collections=Collections(bot, folder))
    respond = demo.qa_handlers["chat"]
    *_, (message, _) = respond("Where does the greenhouse key hang?", [], None, "garden")
    assert "blue door" in message
    *_, (message, _) = respond("What did Botsan-Kharchenko warn?", [], ["nope.txt"], None)
    assert "not in the index: nope.txt" in message
    *_, (message, _) = respond("What did Botsan-Kharchenko warn?", [], None, "nowhere")
    assert "no collection 'nowhere'" in message


def test_a_quoted_passage_keeps_its_own_reference_marks_apart_from_ours():
    from qa.answering import Answer, Source
    from qa.chat import cited_text

    source = Source(source="paper.pdf", text="x", start=0, end=1, page=1, score=2.0,
                    path="/p/paper.pdf", context="x", context_start=0)
    answer = Answer("dropout was used in the first two layers [7], [8-9].", True, [source])
    assert cited_text(answer) == "…dropout was used in the first two layers (ref. 7), " \
                                 "(ref. 8-9). [1]"
    assert cited_text(answer, marks=False).endswith("(ref. 8-9).")


def test_same_name_uploads_at_the_same_moment_keep_both_files(demo, bot, tmp_path):
    """Two people upload "minutes.txt" at once: both files are kept and indexed,
    and each is told about its own bytes."""
    import threading

    upload = handler(demo, "upload")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    pairs, statuses = 6, []
    for n in range(pairs):
        barrier = threading.Barrier(2)
        files = []
        for who in ("Ana", "Ben"):
            f = incoming / f"{who}-{n}" / "minutes.txt"
            f.parent.mkdir()
            f.write_text(f"Meeting {n}: {who} took the minutes and chaired item {n} alone.")
            files.append(f)

        def send(f):  # type: ignore[no-untyped-def]
            barrier.wait()
            statuses.append(upload([str(f)], progress=lambda *a, **k: None)[0])

        threads = [threading.Thread(target=send, args=(f,)) for f in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stored = [p.read_text() for p in (tmp_path / "uploads").glob("minutes*.txt")]
    assert len(stored) == 2 * pairs and len(set(stored)) == 2 * pairs
    assert all("Indexed 1 new" in s for s in statuses), statuses
    indexed = [d["source"] for d in bot.documents() if d["source"].startswith("minutes")]
    assert len(indexed) == 2 * pairs


@pytest.mark.parametrize("argv,env,message", [
    (["--share"], {}, "add a login with --auth"),
    (["--share", "--api-key", "k"], {}, "--api-key protects /v1 only"),
    ([], {"QA_SHARE": "1", "QA_API_KEY": "k"}, "--api-key protects /v1 only"),
    (["--api-key", "k"], {}, "--api-key protects /v1 only"),
    # issue 35 item 13: app.py has no --no-ui; the command that has it is named
    (["--api-key", "k"], {}, "or serve the API alone with qa serve --no-ui --api-key KEY"),
])
def test_a_key_or_a_share_link_is_never_served_without_a_login(monkeypatch, capsys, argv, env,
                                                               message):
    """Refused before anything loads or listens, in one line."""
    for name in ("QA_SHARE", "QA_API_KEY", "QA_AUTH", "QA_SHARE_OPEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.argv", ["app.py", *argv])
    monkeypatch.setattr(app_module.Assistant, "bundled", lambda *a, **k: pytest.fail("loaded"))
    with pytest.raises(SystemExit) as stopped:
        app_module.main()
    assert message in str(stopped.value) and "\n" not in str(stopped.value)


def test_an_open_share_link_is_an_explicit_choice(monkeypatch):
    from qa.server import check_protection

    check_protection(None, True, None, share=True, open_share=True)  # --share --share-open
    check_protection("k", True, ("u", "p"), share=True)  # a login covers the key
    args = app_module._arguments(["--share", "--share-open"])
    assert args.share and args.share_open


def test_summarize_posts_the_digest_to_the_chat_with_each_sentence_cited(demo, bot):
    summarize = handler(demo, "summarize")
    path = bot.documents()[0]["path"]
    history, state, panel = summarize(path, [{"role": "user", "content": "Hi"},
                                             {"role": "assistant", "content": "Hello"}])
    assert history == state and len(history) == 4
    assert history[2] == {"role": "user", "content": "Summarize russia-warns-kosovo.txt"}
    reply = history[3]["content"]
    digest = bot.digest([path])
    assert len(digest.sources) >= 5
    for n, source in enumerate(digest.sources, 1):  # every sentence, with its own mark
        assert f"{source.text} **[{n}]**" in reply
    assert "russia-warns-kosovo.txt" in panel
    assert summarize(None, [])[0] == []


def test_example_questions_and_the_document_list_follow_the_documents(demo, bot, tmp_path):
    """Issue 29 item 5: the examples are about the documents indexed now, and
    every open page picks up an upload made elsewhere within seconds."""
    import gradio as gr

    from qa.chat import suggestions

    refresh = demo.qa_handlers["refresh"]
    table, _, _, chatbot, _, seen = refresh("")
    assert [row[0] for row in table] == ["russia-warns-kosovo.txt"]
    assert [e["text"] for e in chatbot.examples] == app_module.EXAMPLES  # the demo's questions
    assert all(part == gr.skip() for part in refresh(seen)[:5])  # nothing changed: nothing sent
    (tmp_path / "notes.txt").write_text("The greenhouse key hangs behind the blue door.")
    bot.add([tmp_path / "notes.txt"])  # another tab or process
    table, _, only, chatbot, _, seen = refresh(seen)
    assert ["notes.txt", 1] in [list(row) for row in table]
    assert "Summarize notes.txt" in [e["text"] for e in chatbot.examples]
    assert suggestions([], app_module.EXAMPLES) == []  # nothing indexed: no examples
    (tmp_path / "copy.txt").write_text("The greenhouse key hangs behind the blue door.")
    status, *_ = handler(demo, "upload")([str(tmp_path / "copy.txt")],
                                          progress=lambda *a, **k: None)
    assert "nearly the same as notes.txt" in status  # as the CLI warns


def test_upload_progress_names_each_file_and_moves(demo, tmp_path):
    """Issue 29 item 6: the upload's progress said "Indexing" at 10% for the
    whole run; now it names the stage and the file, and moves."""
    seen = []
    for name in ("owls.txt", "bats.txt"):
        (tmp_path / name).write_text(f"The {name[:-4]} hunt at night in the old barn.")
    handler(demo, "upload")([str(tmp_path / "owls.txt"), str(tmp_path / "bats.txt")],
                            progress=lambda fraction, desc="": seen.append((fraction, desc)))
    texts = [desc for _, desc in seen]
    assert any(t.startswith("Reading owls.txt") for t in texts)
    assert any(t.startswith("Embedding bats.txt") for t in texts)
    assert texts[-1] == "Saving the index…"
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9 and len(set(fractions)) >= 4


def test_progress_moves_with_the_chunks_and_other_pages_and_questions_see_it(demo, tmp_path):
    """Issue 37 items 1 and 2: one long file's embedding moves the progress
    at least 10 times; meanwhile another page's refresh shows the upload, and
    a question is answered from what is indexed, naming the file still being
    read (never a bare "not in the documents")."""
    from qa.indexing import STEP

    paragraph = ("The lighthouse keeper of Vardo logged {n} ships in the winter of {y}, "
                 "and the harbour board paid him {n} crowns for the count. ")
    text = "\n\n".join(paragraph.format(n=i, y=1800 + i % 200) * 3 for i in range(1_200)) + \
        "\n\nThe keeper's grey cat was named Tussi."
    (tmp_path / "keeper.txt").write_text(text)
    seen, pages, answers = [], [], []
    refresh, chat = demo.qa_handlers["refresh"], handler(demo, "chat")

    def progress(fraction, desc=""):  # type: ignore[no-untyped-def]
        seen.append((fraction, desc))
        if desc.startswith("Embedding") and len(pages) < 2:  # another page ticks, a user asks
            pages.append(refresh(""))
            answers.append(chat("What was the keeper's cat named?", [])[0])
            answers.append(chat("What did Botsan-Kharchenko warn?", [])[0])

    handler(demo, "upload")([str(tmp_path / "keeper.txt")], progress=progress)
    embedding = [f for f, d in seen if d.startswith("Embedding keeper.txt")]
    assert len(set(embedding)) >= 10 and embedding == sorted(embedding)
    assert len(text) // 600 > 10 * STEP  # (so it is the chunks' steps that move it)
    assert pages[0][4].startswith("Indexing keeper.txt: embedding")
    assert "keeper.txt is still being indexed; ask again in a moment" in answers[0]
    assert "keeper.txt is still being indexed: this answer is from the documents indexed " \
           "so far" in answers[1] and "Botsan-Kharchenko" in answers[1]
    assert refresh(pages[-1][5])[4] == ""  # done: nothing under way
    assert "Tussi" in chat("What was the keeper's cat named?", [])[0]


def test_a_reloaded_page_shows_the_examples_of_the_documents_indexed_now(demo, bot, tmp_path):
    """Issue 37 item 4: the page's config (its first render) carries the
    examples of what is indexed now, also after another process changed it."""
    demo.config = demo.get_config_file()

    def examples():  # type: ignore[no-untyped-def]
        return [[e["text"] for e in c["props"]["examples"] or []]
                for c in demo.config["components"] if c["id"] == demo.chat_id][0]

    assert examples() == app_module.EXAMPLES
    (tmp_path / "owl.txt").write_text("The barn owl hunts at night over the fields.")
    Assistant.load(bot.index_dir).add([tmp_path / "owl.txt"])  # another process
    assert "Summarize owl.txt" in examples()
    Assistant.load(bot.index_dir).remove([tmp_path / "owl.txt"])
    assert examples() == app_module.EXAMPLES
