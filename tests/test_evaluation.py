import json

from qa.evaluation import contains_gold, exact_match, f1, load_eval


def test_accuracy_rule():
    assert contains_gold("It would lead to a humanitarian catastrophe.", ["humanitarian catastrophe"])
    assert not contains_gold("x" * 301 + " humanitarian catastrophe", ["humanitarian catastrophe"])
    assert contains_gold("Russia\u2019s ally", ["Russia's ally"])
    assert not contains_gold("Russian", ["Russia"])


def test_accuracy_rule_in_languages_written_without_spaces():
    # Chinese and Thai answers hold their gold without spaces around it (MLQA's rule)
    assert contains_gold("黑豹队的防守只丢了 308分，在联赛中排名第六。", ["排名第六"])
    assert contains_gold("ทีมรับของแพนเธอร์สถอดใจที่คะแนน 308 ได้อันดับที่หก", ["อันดับที่หก"])
    assert not contains_gold("黑豹队的防守只丢了 308分。", ["排名第六"])
    assert f1("北京是首都", ["北京"]) == 2 * (2 / 5) * 1 / (2 / 5 + 1)  # characters are tokens


def test_accuracy_rule_drops_every_script_s_punctuation():
    # the Arabic comma and Russian quotes are punctuation as "," and '"' are (MLQA's rule)
    assert contains_gold("تبعد 1420 كم عن العاصمة موسكو، من أجل تسهيل", ["العاصمة موسكو"])
    assert contains_gold("Его прозвали «Чернушкой» крестьяне.", ["Чернушкой"])
    assert exact_match("«Чернушкой»", ["Чернушкой"]) == 1.0


def test_squad_metrics():
    assert exact_match("the United Nations", ["United Nations"]) == 1.0
    assert exact_match("", []) == 1.0 and exact_match("x", []) == 0.0
    assert 0.0 < f1("the United Nations since 1999", ["United Nations"]) < 1.0


def test_loads_jsonl_and_squad(tmp_path):
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text('{"question": "Q1?", "answers": ["a"]}\n\n'
                     '{"question": "Q2?", "answers": [], "history": [{"role": "user", "content": "x"}]}\n')
    items = load_eval(jsonl).items
    assert [i.question for i in items] == ["Q1?", "Q2?"] and items[1].history
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"version": "v2.0", "data": [{"title": "T", "paragraphs": [
        {"context": "Para one.", "qas": [{"id": "1", "question": "Q?", "is_impossible": True,
                                          "answers": []}]},
        {"context": "Para two.", "qas": [{"id": "2", "question": "R?",
                                          "answers": [{"text": "two", "answer_start": 5}]}]}]}]}))
    loaded = load_eval(squad)
    assert loaded.documents == {"T": "Para one.\n\nPara two."}
    assert [i.answers for i in loaded.items] == [[], ["two"]]


def test_jsonl_that_mentions_data_is_still_jsonl(tmp_path):
    jsonl = tmp_path / "set.jsonl"
    jsonl.write_text('{"question": "What does the \\"data\\" field hold?", "answers": ["x"]}\n'
                     '{"question": "Q2?", "answers": []}\n')
    assert [i.question for i in load_eval(jsonl).items][1] == "Q2?"
