"""Claim verification: support-score calibration, the fake-model target, overhead.

    python benchmarks/verification.py PATH/squad_v2_dev_sample/small.json

Tuning data: the bundled dev set and the SQuAD 2.0 sample ONLY. For every
answerable question the passages are retrieved as `Assistant.stream` would
show them; the sentence holding the gold answer is a copied claim (must be
supported); the same sentence with one detail swapped (a number or a name),
and a sentence from another article, are invented claims (must not be).
Then a fake chat model that answers each dev question with one copied and one
invented sentence runs through the real pipeline.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa import Assistant  # noqa: E402
from qa.answering import generative  # noqa: E402
from qa.answering.verify import split_claims, verify  # noqa: E402
from qa.assistant import BUNDLED  # noqa: E402
from qa.chunking import terms  # noqa: E402
from qa.evaluation import contains_gold, load_eval, write_documents  # noqa: E402

DEV = ROOT / "tests" / "data" / "russia-warns-kosovo.dev.jsonl"


def swapped(sentence: str) -> str | None:
    """The sentence with one detail changed: a number, else a name."""
    number = re.search(r"\b\d+\b", sentence)
    if number:
        return sentence[:number.start()] + str(int(number.group()) + 7) + sentence[number.end():]
    name = re.search(r"(?<=\s)[A-Z][a-z]{3,}", sentence)
    if name:
        return sentence[:name.start()] + "Zanzibar" + sentence[name.end():]
    return None


def cases(bot: Assistant, items, others: list[str]):
    """(claims text, passages, store, label) triples for one index."""
    s = bot.settings
    for n, item in enumerate(items):
        if not item.answers:
            continue
        vector = bot.embedder.encode([item.question])[0]
        store, found, _ = bot.store.search([(vector, terms(item.question))], s.k, s.candidates,
                                           s.rrf_k)
        hits = found[0]
        shown = generative.passages(store, hits, s.llm_passages)
        rows = [r for p in shown for r in p.rows]
        gold = next((r for r in rows if contains_gold(_text(store, r), item.answers, 10**9)),
                    None)
        if gold is None:
            continue
        copied = " ".join(_text(store, gold).split())
        yield copied, shown, store, True
        clause = next((c.strip() for c in re.split(r"[,;:]\s+", copied)
                       if contains_gold(c, item.answers, 10**9) and len(c.split()) >= 4), None)
        if clause and clause != copied:  # a shorter claim, as a model writes one
            yield clause, shown, store, True
        changed = swapped(copied)
        if changed:
            yield changed, shown, store, False
        yield others[n % len(others)], shown, store, False
        # A true sentence of the same document that the model was not shown:
        # the passages shown do not support it.
        unseen = [r for r in range(len(store.sentence_spans))
                  if store.sentence_doc[r] == store.sentence_doc[gold] and r not in rows
                  and len(_text(store, r).split()) >= 6]
        if unseen:
            yield " ".join(_text(store, unseen[n % len(unseen)]).split()), shown, store, False


def _text(store, row: int) -> str:
    span = store.sentence_spans[row]
    return store.document(store.sentence_doc[row]).text[span.start:span.end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", help="the SQuAD 2.0 sample (small.json)")
    parser.add_argument("--limit", type=int, default=300, help="SQuAD questions to use")
    args = parser.parse_args()
    squad = load_eval(args.squad)
    dev = load_eval(DEV)
    # Invented sentences from elsewhere: the other set's text.
    from qa.chunking import split_sentences

    bundled_text = BUNDLED.read_text()
    squad_text = "\n\n".join(squad.documents.values())
    foreign_for_dev = [squad_text[s.start:s.end] for s in split_sentences(squad_text)[:400]]
    foreign_for_squad = [bundled_text[s.start:s.end] for s in split_sentences(bundled_text)]
    scores: list[tuple[float, bool, bool]] = []  # score, label, hard rule passed
    overhead: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        dev_bot = Assistant.from_paths([BUNDLED], Path(scratch) / "dev", progress=False)
        docs = write_documents(squad.documents, Path(scratch) / "squad-docs")
        squad_bot = Assistant.from_paths([docs], Path(scratch) / "squad", progress=False)
        all_cases = list(cases(dev_bot, dev.items, foreign_for_dev)) + \
            list(cases(squad_bot, squad.items[:args.limit], foreign_for_squad))
        for claim, shown, store, label in all_cases:
            started = time.perf_counter()
            checked = verify(f"{claim} [1]", shown, store, dev_bot.embedder, -1.0)
            overhead.append(1000 * (time.perf_counter() - started))
            c = checked.claims[0]
            scores.append((c.score, label, c.supported))
        print(f"{len(scores)} claims ({sum(s[1] for s in scores)} copied), "
              f"verify p50 {statistics.median(overhead):.1f} ms, "
              f"p95 {sorted(overhead)[int(0.95 * (len(overhead) - 1))]:.1f} ms")
        table = []
        for threshold in np.arange(0.30, 0.86, 0.05):
            pos = [ok and sc >= threshold for sc, lab, ok in scores if lab]
            neg = [ok and sc >= threshold for sc, lab, ok in scores if not lab]
            table.append((threshold, float(np.mean(pos)), 1 - float(np.mean(neg))))
            print(f"threshold {threshold:.2f}: copied supported {np.mean(pos):.3f}, "
                  f"invented unsupported {1 - np.mean(neg):.3f}")
        fake_model_target(dev_bot, dev, foreign_for_dev)


def fake_model_target(bot: Assistant, dev, foreign: list[str]) -> None:
    """A fake model answers every answerable dev question with one copied and
    one invented sentence, through Assistant.stream."""
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    copied_ok = invented_ok = total = 0
    for n, item in enumerate(i for i in dev.items if i.answers):
        extractive = bot.ask(item.question).text.strip()
        invented = swapped(extractive) or foreign[n]
        model = GenericFakeChatModel(messages=iter([AIMessage(
            content=f"{extractive} [1] {invented} [2]")]))
        fake = Assistant(bot.store, bot.settings, bot.embedder, llm=model)
        answer = fake.ask(item.question)
        claims = answer.claims
        # The copy can be several sentences, and a swap changes one of them:
        # the copy's claims must all hold, and some claim of the invention fail.
        copied = len(split_claims(extractive))
        total += 1
        copied_ok += len(claims) >= copied and all(c.supported for c in claims[:copied])
        invented_ok += len(claims) > copied and not all(c.supported for c in claims[copied:])
    print(json.dumps({"fake_model_questions": total,
                      "copied_marked_supported": round(copied_ok / total, 3),
                      "invented_marked_unsupported": round(invented_ok / total, 3)}))


if __name__ == "__main__":
    main()
