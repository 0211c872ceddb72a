from qa.assistant import BUNDLED
from qa.chunking import chunk_document, split_sentences, terms, words
from qa.documents import Document, load


def test_abbreviations_and_hyphenated_names_stay_whole():
    text = ("Russia warns U.S. and EU over Kosovo. Alexander Botsan-Kharchenko said so. "
            "Dr. Smith agreed.")
    sentences = [text[s.start:s.end] for s in split_sentences(text)]
    assert sentences == ["Russia warns U.S. and EU over Kosovo.",
                         "Alexander Botsan-Kharchenko said so.", "Dr. Smith agreed."]


def test_papers_abbreviations_and_references_do_not_end_a_sentence():
    # The breaks pysbd made in HistoryOfAlexnet.pdf (issue 18): each of these
    # is one sentence, and a sentence ending in a function word still ends.
    whole = ["The architecture of AlexNet is shown in Fig. 14. in detail.",
             "Krizhevsky et al. [7] won the ImageNet challenge in 2012.",
             "Activations, e.g. ReLU, and tricks, i.e. dropout, helped.",
             "See Table No. 3 and Section 3.1.4 for the numbers.",
             "Nobody else said so.",
             "Hinton agreed."]
    text = " ".join(whole)
    assert [text[s.start:s.end] for s in split_sentences(text)] == whole


def test_offsets_point_into_the_original_text():
    doc = load(BUNDLED)
    sentences = split_sentences(doc.text)
    assert len(sentences) >= 12
    for s in sentences:
        piece = doc.text[s.start:s.end]
        assert piece == piece.strip() and piece
    assert any("Botsan-Kharchenko said." in doc.text[s.start:s.end] for s in sentences)
    chunks = chunk_document(doc, chunk_size=400, overlap=1)
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start:chunk.end]
        assert chunk.sentences[0].start == chunk.start and chunk.sentences[-1].end == chunk.end
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(sentences)  # no sentence lost between chunks


def test_chunks_overlap_by_one_sentence_and_respect_size():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    doc = Document(text=text, source="x.txt", path="/x.txt")
    chunks = chunk_document(doc, chunk_size=120, overlap=1)
    assert all(c.end - c.start <= 120 for c in chunks)
    for a, b in zip(chunks, chunks[1:]):
        assert a.sentences[-1] == b.sentences[0]


def test_pages_follow_offsets():
    doc = Document(text="Page one text.\n\nPage two text.", source="x.pdf", path="/x.pdf",
                   page_starts=[0, 16])
    assert [c.page for c in chunk_document(doc, chunk_size=10, overlap=0)] == [1, 2]


def test_terms_are_stemmed_content_words():
    assert terms("Why did NATO bomb in 1999?") == terms("NATO bombing 1999")
    assert "the" not in terms("the bombing")


def test_scripts_without_spaces_give_character_pairs_as_terms():
    # A Chinese question and passage share terms only if the run is cut up.
    assert words("俄罗斯警告美国") == ["俄罗", "罗斯", "斯警", "警告", "告美", "美国"]
    assert set(terms("俄罗斯警告谁？")) & set(terms("俄罗斯警告美国和欧盟。"))
    assert words("AI模型 U.S. Kosovo-based") == ["ai", "模型", "u.s", "kosovo-based"]
    assert terms("Russia warns the U.S.") == terms("russia warned the u.s.")


def test_sentence_ends_of_other_scripts_end_sentences():
    text = ("俄罗斯警告美国和欧盟。科索沃独立将导致灾难！他说：“不行。”然后离开。 "
            "यह एक वाक्य है। यह दूसरा है। Russia warns U.S. and EU over Kosovo.")
    assert [text[s.start:s.end] for s in split_sentences(text)] == [
        "俄罗斯警告美国和欧盟。", "科索沃独立将导致灾难！", "他说：“不行。”", "然后离开。",
        "यह एक वाक्य है।", "यह दूसरा है।", "Russia warns U.S. and EU over Kosovo."]


def test_english_is_told_from_other_languages():
    from qa.chunking import looks_english

    assert looks_english(BUNDLED.read_text())
    german = ("Die Verwaltung des Kosovo liegt seit dem Jahr 1999 bei den Vereinten Nationen, "
              "nachdem die NATO das Land bombardiert hatte, um die Tötungen und die ethnische "
              "Säuberung durch serbische Truppen zu beenden. Russland warnt nun die USA und "
              "die Europäische Union vor einer Anerkennung der Unabhängigkeit der Provinz.")
    assert not looks_english(german)
    assert not looks_english("俄罗斯警告美国和欧盟不要承认科索沃独立。" * 5)
    assert looks_english("Kosovo")  # too short to tell


def test_other_letters_above_the_cjk_block_stay_words():
    # Math italic letters (U+1D400...) and Hangul are not cut into pairs.
    assert words("𝑧𝑡 and 한국어 text") == ["𝑧𝑡", "and", "한국어", "text"]


def test_terms_use_the_stemmer_of_the_text_language():
    from qa.chunking import language

    # German inflections meet only under the German stemmer ("Regierungen" and
    # "Regierung", "Einwohnern" and "Einwohner"); the English one leaves them apart.
    question = "Wie viele Einwohner hatte die Stadt, als die Regierungen wechselten?"
    sentence = "Unter der neuen Regierung zählte die Stadt zwei Millionen Einwohnern."
    assert language(words(question)) == language(words(sentence)) == "de"
    assert {"regier", "einwohn"} <= set(terms(question)) & set(terms(sentence))
    assert language(words("¿Cuántas personas viven en Berlín?")) == "es"
    assert language(words("Сколько людей живет в Берлине?")) == "ru"
    assert language(words("Kaç kişi Berlin'de yaşıyor?")) == "tr"  # by its letters
    assert set(terms("Сколько людей живет в Берлине?")) & set(terms("В Берлине живут люди."))
    # English stays English, names and foreign words in it too.
    for text in ("Who founded the Hochschule für Musik in Berlin?", "Super Bowl 50", "Berlin"):
        assert language(words(text)) == "en"
    assert terms("Why did NATO bomb in 1999?") == ["nato", "bomb", "1999"]


def test_hindi_words_keep_their_vowel_signs():
    # Python's \w does not match combining marks: every Hindi word fell apart.
    assert words("बर्लिन में कितने लोग रहते हैं?") == ["बर्लिन", "में", "कितने", "लोग", "रहते", "हैं"]


def test_text_without_sentence_marks_is_cut_into_bounded_sentences():
    """A log is one line a sentence; a Chinese run without 。 is cut by length."""
    from qa.chunking import MAX_SENTENCE

    log = "\n".join(f"2026-12-03 10:{i:02d} worker-{i} restarted after timeout code {i * 7}"
                    for i in range(112))
    spans = split_sentences(log)
    assert len(spans) == 112
    assert log[spans[80].start:spans[80].end] == \
        "2026-12-03 10:80 worker-80 restarted after timeout code 560"
    chinese = "北京是中国的首都城市人口众多" * 400
    spans = split_sentences(chinese)
    assert max(s.end - s.start for s in spans) <= MAX_SENTENCE
    assert "".join(chinese[s.start:s.end] for s in spans) == chinese
    chunks = chunk_document(Document(text=chinese, source="zh.txt", path="/zh.txt"))
    assert max(len(c.text) for c in chunks) <= 600 and len(chunks) >= 10


def test_thai_is_cut_at_spaces_into_sentences_no_longer_than_an_answer():
    """Thai has no sentence marks: a run is cut at a space into pieces of at
    most THAI_SENTENCE characters, and "พ.ศ. 2488" (B.E. 2488) is not an end."""
    from qa.chunking import THAI_SENTENCE

    text = ("วันสันติภาพไทย คือ วันที่ 16 สิงหาคม ของทุกปี ซึ่งเป็นวันที่ระลึกถึงการสิ้นสุดสงคราม "
            "เมื่อวันที่ 16 สิงหาคม พ.ศ. 2488 ประเทศไทยโดยนายปรีดี พนมยงค์ หัวหน้าขบวนการเสรีไทย ") * 6
    spans = split_sentences(text)
    pieces = [text[s.start:s.end] for s in spans]
    assert len(text) > 3 * THAI_SENTENCE and max(map(len, pieces)) <= THAI_SENTENCE
    assert all(text[s.end:s.end + 1] in (" ", "") for s in spans)  # cut at a space
    assert " ".join(pieces) == text.strip()
    assert not any(p.endswith("พ.ศ.") for p in pieces)
    # English keeps its sentences up to the general bound
    english = "word " * 100 + "end."
    assert [english[s.start:s.end] for s in split_sentences(english)] == [english]


def test_a_line_of_a_log_is_the_answer(tmp_path, settings, embedder):
    from qa import Assistant

    log = tmp_path / "service-log.txt"
    log.write_text("\n".join(
        f"2026-12-03 10:{i:02d} worker-{i} restarted after timeout code {i * 7}"
        for i in range(112)) + "\n2026-12-03 11:55 the backup of the billing database "
                               "finished in 14 minutes\n")
    bot = Assistant.from_paths([log], tmp_path / "index", settings, embedder)
    answer = bot.ask("How long did the backup of the billing database take?")
    assert answer.found and answer.text.endswith("finished in 14 minutes")
    assert len(answer.text) < 200


def test_ordinals_and_dates_do_not_end_a_sentence():
    # Issue 27 section 4: German (and Danish, Polish, ...) write "14." for 14th.
    # XQuAD de: 37 breaks after an ordinal before, 1 after (benchmarks/splitting.py).
    whole = ["Die Jahresversammlung fand am 14. März in Bonn statt.",
             "Tesla starb am 7. Januar 1943 in einem Hotel.",
             "Die 2., 3. und 4. Zeitachsen sind Teilabschnitte der ersten.",
             "Sie spielen nun in der vierten Liga (5. Rang in Polen).",
             "Durch Fresno verläuft die California State Route 99.",  # a number that ends one
             "Sie ist die wichtigste Nord-Süd-Autobahn."]
    text = " ".join(whole)
    assert [text[s.start:s.end] for s in split_sentences(text)] == whole
    english = "We counted 14. Then we stopped. It opened on 14. March 2020 in Oslo."
    assert [english[s.start:s.end] for s in split_sentences(english)] == \
        ["We counted 14.", "Then we stopped.", "It opened on 14. March 2020 in Oslo."]


def test_a_heading_never_shares_a_sentence_with_the_text_under_it():
    from qa.documents.structure import boundaries, markdown_blocks

    text = "# Opening hours\nThe museum opens at nine. It closes at five.\n"
    blocks = markdown_blocks(text)
    assert [(b.kind, b.title) for b in blocks] == [("heading", "Opening hours")]
    assert [text[s.start:s.end] for s in split_sentences(text)][0] == \
        "# Opening hours The museum opens at nine." .replace(" The", "\nThe")
    assert [text[s.start:s.end] for s in split_sentences(text, boundaries(blocks))] == \
        ["# Opening hours", "The museum opens at nine.", "It closes at five."]


def test_splitting_is_linear_in_a_paragraph_and_a_line():
    """Issue 35 item 1: a log whose lines are one paragraph (141 kB took 32 s),
    and a long line of Chinese (80,000 characters took 51 s)."""
    from conftest import grows_linearly

    def log(n: int) -> str:
        return "".join(f"Item {i}. User {i} logged in from host {i % 7}.\n" for i in range(n))

    def chinese(n: int) -> str:
        return "我们今天讨论了项目的进展情况并且决定下周继续" * (n // 22)

    grows_linearly(split_sentences, log, 6_000)
    grows_linearly(split_sentences, chinese, 40_000)
    assert len(split_sentences(log(100))) == 200  # "Item 7." and its line are sentences
