import pytest

from qa import Assistant
from qa.answering.extractive import answer_type, has_type
from qa.answering.span import short_answer
from qa.evaluation import contains_gold


def test_dev_set(bot, dev_set):
    wrong = []
    for item in dev_set:
        answer = bot.ask(item["question"], history=item.get("history"))
        if item["answers"]:
            ok = answer.found and contains_gold(answer.text, item["answers"])
        else:
            ok = not answer.found
        if not ok:
            wrong.append((item["id"], answer.text[:80]))
    assert wrong == []


def test_answer_cites_the_exact_source_sentence(bot):
    answer = bot.ask("What did Botsan-Kharchenko warn?")
    assert answer.found and "humanitarian catastrophe" in answer.text
    source = answer.sources[0]
    doc = bot.store.document(source.path).text
    assert doc[source.start:source.end] == source.text == answer.text
    assert source.source == "russia-warns-kosovo.txt" and source.page is None
    assert source.text in source.context
    assert len(answer.text) <= 300


@pytest.mark.parametrize("question", [
    "What is the capital of France?",
    "What did Vladimir Putin say about the United Nations budget?",
    "How many NATO troops are stationed in Kosovo?",
])
def test_abstains_when_documents_do_not_say(bot, question):
    answer = bot.ask(question)
    assert not answer.found and answer.sources == []
    assert "do not contain" in answer.text


def history_of(bot, question):
    return [{"role": "user", "content": question},
            {"role": "assistant", "content": bot.ask(question).text}]


def test_follow_up_uses_history(bot):
    history = history_of(bot, "Who has administered Kosovo since 1999?")
    assert "United Nations" in history[1]["content"]
    answer = bot.ask("Why?", history=history)
    assert answer.found and "halt killings and ethnic cleansing" in answer.text
    assert not bot.ask("Why?").found  # the question alone holds nothing to answer


def test_follow_up_stays_with_the_previous_answers_document(tmp_path, settings, embedder):
    from qa import Assistant

    (tmp_path / "ferry.txt").write_text("The night ferry to Kelby is run by Captain Ingrid "
                                        "Dahl. The crossing has been run by her family since 1931.")
    (tmp_path / "train.txt").write_text("The mountain train to Ostby is run by driver Paul "
                                        "Berg. The line has been run by the state since 1952.")
    bot = Assistant.from_paths([tmp_path / "ferry.txt", tmp_path / "train.txt"],
                               tmp_path / "ix", settings, embedder)
    ferry = history_of(bot, "Who runs the night ferry to Kelby?")
    assert "Ingrid Dahl" in ferry[1]["content"]
    assert "1931" in bot.ask("Since when?", history=ferry).text
    assert "1931" not in bot.ask("Since when?").text  # drifts without the history
    train = history_of(bot, "Who drives the mountain train to Ostby?")
    assert "1952" in bot.ask("Since when?", history=train).text


@pytest.mark.parametrize("question, kind", [
    ("How many people live in Kosovo?", "number"),
    ("When did NATO bomb?", "date"),
    ("Where would refugees flow?", "place"),
    ("Who is the negotiator?", "name"),
    ("What did he warn?", None),
    # the languages with native questions to fit their rankers (qa_train/)
    ("广茂铁路全长多少公里？", "number"), ("广三铁路在哪年建成？", "date"),
    ("Сколько книг написал Вулф?", "number"), ("В каком году умер Робеспьер?", "date"),
    ("كم سنة استمرت الدولة العثمانية؟", "number"), ("متى غادر خاشقجي السعودية؟", "date"),
    ("ประเทศออสเตรเลียใหญ่เป็นอันดับที่เท่าไหร่ของโลก", "number"),
    ("มีทหารนาโต้กี่นาย", "number"), ("เขาเกิดวันที่เท่าไร", "date"),
    ("من حكم مصر؟", None),  # "كم" inside a word ("حكم", ruled) asks for no number
    ("《鳄鱼泪》主要内容是什么？", None),
])
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def test_has_type_needs_something_new():
    assert has_type("number", "It has 2 million people.", {"people"})
    assert not has_type("number", "It has many people.", {"people"})
    assert has_type("date", "Bombing began in 1999.", set())
    assert not has_type("date", "Bombing began in 1999.", {"1999"})
    assert has_type("name", "The talks were led by Alexander Botsan-Kharchenko.", {"talks"})
    # years written against the characters around them, Thai years in the Buddhist era
    assert has_type("date", "广三铁路于1903年建成。", set())
    assert has_type("date", "เกิดวันที่ 3 ธันวาคม พ.ศ. 2533", set())
    assert not has_type("date", "广三铁路于1903年建成。", {"1903"})


def test_sentence_that_leans_on_the_answer_joins_it(tmp_path, settings, embedder):
    from qa import Assistant

    doc = tmp_path / "voyage.txt"
    doc.write_text("In April 1191 Richard left Messina with a large fleet in order to reach "
                   "Acre. But a storm dispersed the fleet. Months later the king landed in "
                   "Cyprus.\n\nThe island had fertile plains and old harbours.")
    bot = Assistant.from_paths([doc], tmp_path / "ix", settings, embedder)
    answer = bot.ask("What dispersed Richard's fleet?")
    assert answer.found and "But a storm dispersed the fleet." in answer.text
    assert answer.text.startswith("In April 1191") and len(answer.text) <= 300


@pytest.mark.parametrize("question, sentence, short", [
    ("When did NATO bomb Serbia?", "NATO bombed Serbia in March 1999 to halt killings.",
     "March 1999"),
    ("In what year did the war end?", "The war ended on 10 June 1999, after 78 days.",
     "10 June 1999"),
    ("How many people live in Kosovo?", "Kosovo has 2 million people, 90 percent Albanian.",
     "2 million"),
    ("How long did the bombing last?", "The bombing lasted 78 days in all.", "78 days"),
    ("Who is Russia's Kosovo negotiator?",
     "Russia’s Kosovo negotiator, Alexander Botsan-Kharchenko, declined.",
     "Alexander Botsan-Kharchenko"),
    ("Which organisation runs Kosovo?", "Since 1999 the United Nations has run Kosovo.",
     "United Nations"),
    ("Where would Serb refugees flow?", "Refugees would flow into Montenegro, he said.",
     "Montenegro"),
    # the number followed by what "how many" counts; in Chinese and Thai with its unit
    ("How many days did the siege last?", "The 120 ships came back after 33 days.", "33"),
    ("Сколько дней длилась осада?", "120 кораблей вернулись через 33 дня.", "33"),
    ("围城持续了多少天？", "围城于6月16日开始，共有120人参战，持续了33天。", "33天"),
    ("ทหารประจำการอยู่กี่วัน", "ทหาร 120 นาย ประจำการอยู่ที่นั่น 33 วัน", "33 วัน"),
    # dates written the Chinese and the Thai way
    ("围城是哪一年开始的？", "围城于1913年6月16日开始。", "1913年6月16日"),
    ("เขาเกิดวันที่เท่าไร", "เขาเกิดเมื่อ 3 ธันวาคม พ.ศ. 2533 ที่กรุงเทพ", "3 ธันวาคม พ.ศ. 2533"),
    # issue 36 item 4: a scale written against the digits stays; a citation
    # mark and a figure's number are never the answer
    ("How many weights did AlexNet have?",
     "The total number of weights and MACs for the whole network are 61M and 724M.", "61M"),
    ("How many layers did the network have?", "The network of [12] had eight layers (Fig. 3).",
     "eight"),
])
def test_the_short_answer_is_the_value_of_the_asked_type(question, sentence, short):
    span = short_answer(question, sentence)
    assert span is not None and sentence[span[0]:span[1]] == short


@pytest.mark.parametrize("question, sentence", [
    ("Why did NATO bomb Serbia?", "NATO bombed Serbia in 1999 to halt killings."),
    ("How many GPUs were used?", "The network was trained on GPUs for days."),
    ("Who warned the West?", "The West was warned again."),  # its only name is in the question
    ("Who created AlexNet?", "The architecture of AlexNet is shown in Fig. 14."),  # a label
    ("How many papers cite it?", "It is cited widely [61], [62]; see Table 4."),
])
def test_no_short_answer_without_a_value_the_question_lacks(question, sentence):
    assert short_answer(question, sentence) is None


def _at(sentence: str, piece: str) -> tuple[int, int]:
    start = sentence.index(piece)
    return start, start + len(piece)


@pytest.mark.parametrize("question, sentence, head, kept", [
    # kept as the span head marks it, or with its scale
    ("Who designed the network?", "The network of Krizhevsky and Hinton won.", "Krizhevsky",
     "Krizhevsky"),
    ("How many weights did AlexNet have?", "The network has 61M weights and 724M MACs.", "61",
     "61M"),
    ("How many people live there?", "About 2 million people live there.", "2", "2 million"),
    # a digit inside a question's word is not the question's value: "25" of "1080p25"
    ("The 1080p25 notion means how many frames per second?", "It scans 25 frames a second.",
     "25", "25"),
    # never a citation mark, a figure's number, a label word or the question's own value
    ("How many papers cite it?", "It is cited widely [61], as Table 4 shows.", "[61]", None),
    ("How many layers did it have?", "The network had eight layers (Fig. 3).", "3", None),
    ("Who created AlexNet?", "The architecture of AlexNet is shown in Fig. 14.", "Fig.", None),
    ("Who warned the West?", "The West was warned again by Lavrov.", "West", None),
])
def test_the_span_heads_short_answer_is_kept_only_where_a_reader_can_trust_it(
        question, sentence, head, kept):
    """Issue 36 item 4: the span head first (held-out training articles'
    typed questions: exact match 0.672 against the rules' 0.425), checked."""
    from qa.answering.span import checked

    span = checked(question, sentence, _at(sentence, head))
    assert (sentence[span[0]:span[1]] if span else None) == kept


def test_the_short_answer_is_marked_in_python_json_and_chat(bot):
    from qa.chat import answer_markdown

    answer = bot.ask("Who is Russia's Kosovo negotiator?")
    assert answer.span and answer.text[answer.span[0]:answer.span[1]] == \
        "Alexander Botsan-Kharchenko"
    assert answer.to_dict()["span"] == {"start": answer.span[0], "end": answer.span[1],
                                        "text": "Alexander Botsan-Kharchenko"}
    assert "**Alexander Botsan-Kharchenko**" in answer_markdown(answer)
    why = bot.ask("Why does Russia oppose Kosovo's independence?")
    assert why.span is None and why.to_dict()["span"] is None


LIGHTHOUSE = ("# The lighthouse\n\n"
              "The keeper lights the lamp an hour before sunset. "
              "A clockwork drive turns the lens once every ten seconds. "
              "Its beam reaches ships forty kilometres out at sea. "
              "In fog the keeper also sounds the horn every minute.\n\n"
              "# The harbour\n\n"
              "The harbour master assigns berths to arriving ships. "
              "Fishing boats dock at the inner quay.\n")


def test_explain_and_describe_questions_get_the_passage(tmp_path, settings, embedder):
    """Issue 36 item 3: a question that asks to explain or describe gets the
    sentences around the best one in its paragraph, not one sentence; a
    factoid question keeps its sentence; and one about nothing in the
    documents is still refused."""
    doc = tmp_path / "station.md"
    doc.write_text(LIGHTHOUSE)
    bot = Assistant.from_paths([doc], tmp_path / "ix", settings, embedder)
    answer = bot.ask("Explain how the lighthouse lens and its beam work.")
    assert answer.found and "clockwork drive turns the lens" in answer.text
    assert answer.text.count(". ") >= 2 and "harbour master" not in answer.text
    assert len(answer.sources) == 1 and answer.sources[0].text == answer.text  # one highlight
    factoid = bot.ask("How often does the lens turn?")
    assert factoid.found and "every ten seconds" in factoid.text
    assert "sounds the horn" not in factoid.text  # not the paragraph
    assert not bot.ask("Explain how photosynthesis works in desert plants.").found


SURVEY = ("# A short survey of generative models\n\n"
          "Generative models learn the distribution of their training data. "
          "Adversarial networks pit a generator against a discriminator [2]. "
          "Moment matching networks compare the statistics of real and generated samples [1].\n\n"
          "## References\n\n"
          "[1] Y. Li, K. Swersky and R. Zemel. Generative moment matching networks. "
          "In International Conference on Machine Learning, 2015.\n\n"
          "[2] I. Goodfellow et al. Generative adversarial nets. In Advances in Neural "
          "Information Processing Systems, 2014.\n")


def test_a_question_about_a_cited_work_is_answered_from_its_reference_entry(
        tmp_path, settings, embedder):
    """Issue 36 item 5: "which conference", "who wrote", "when was it published"
    may be answered from a reference entry; other questions never are."""
    doc = tmp_path / "survey.md"
    doc.write_text(SURVEY)
    bot = Assistant.from_paths([doc], tmp_path / "ix", settings, embedder)
    cited = bot.ask("Which conference did the paper on generative moment matching networks "
                    "appear in?")
    assert cited.found and "International Conference on Machine Learning" in cited.text
    assert "Zemel" in bot.ask(
        "Who wrote the paper on generative moment matching networks?").text
    about = bot.ask("What do moment matching networks compare?")
    assert "statistics of real and generated samples" in about.text
    assert "Zemel" not in about.text and "2015" not in about.text  # never the entry
    gan = bot.ask("What are generative adversarial nets?")
    assert "Goodfellow" not in gan.text and "Generative adversarial nets." not in gan.text
    assert "Swersky" not in bot.ask("What did Swersky and Zemel find?").text
    itself = bot.ask("What does this paper survey?")
    assert "Zemel" not in itself.text and "Goodfellow" not in itself.text
