"""Train qa's answer model: a MiniLM-L6 cross-encoder that scores whether a
sentence answers a question, with a span head that marks the short answer.

    pip install -e ".[bench]"
    python benchmarks/train_answer_model.py train PATH/qa_train --work DIR [--minutes 150] [--steps N]
    python benchmarks/train_answer_model.py export --work DIR     # int8 ONNX into qa/answering/models/

Data (all from `qa_train/`, licences in its SOURCE.md): the SQuAD v1.1
training set (87,516 questions) and the 348 unanswerable questions of the
SQuAD 2.0 training part. Validation and early stopping use held-out TRAINING
articles only (VAL_ARTICLES, chosen by a fixed seed); XQuAD, the SQuAD 2.0
sample, the dev set and the PDF sets stay tests and are never read here.

Each training question is a group of (question, sentence) pairs: the
sentence holding the answer, other sentences of its paragraph, and sentences
of other paragraphs of the same article that share the most terms with the
question (hard negatives). An unanswerable question, or a question paired
with a paragraph of another article, is a group with no answer. The loss is
a listwise softmax over each answerable group (the choice `ask` makes), a
pointwise logistic loss over every pair (a calibrated "this sentence answers"
probability, for abstention), and start/end cross-entropy on the answer
sentence's tokens (the span head).

Checkpoints go to --work every CHECKPOINT_STEPS steps (model, optimiser,
position in the shuffled data, the curve so far); `train` resumes from the
last one. The curve (held-out figure against pairs seen) is in
DIR/curve.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 13
VAL_ARTICLES = 16  # SQuAD v1.1 training articles held out for validation
MAX_TOKENS = 128  # question + sentence; longer sentences are cut (1.6% of SQuAD's)
GROUP = 6  # candidates per question: the answer sentence and five others
BATCH_QUESTIONS = 8
LR = 4e-5
CHECKPOINT_STEPS = 250
VAL_QUESTIONS = 400
WRONG_ARTICLE_SHARE = 0.08  # groups whose paragraph comes from another article
OUT = ROOT / "qa" / "answering" / "models"

_WORD = re.compile(r"\w+")
_STOP = frozenset("""a an the of in on at to for by with from and or is are was were be been
what which who whom whose when where why how did does do that this these those as it its
""".split())


@dataclass
class Item:
    question: str
    sentences: list[str]  # candidates, answer first when there is one
    answerable: bool
    start: int = -1  # answer char offsets in sentences[0]
    end: int = -1


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def _article_sentences(article: dict) -> list[list[tuple[int, int, str]]]:
    from qa.chunking import split_sentences

    out = []
    for para in article["paragraphs"]:
        ctx = para["context"]
        out.append([(s.start, s.end, ctx[s.start:s.end]) for s in split_sentences(ctx)])
    return out


def build_items(articles: list[dict], rng: random.Random, wrong_pool: list[dict]) -> list[Item]:
    """One group per question (see the module docstring)."""
    items: list[Item] = []
    for article in articles:
        paras = _article_sentences(article)
        flat = [(pi, s) for pi, sents in enumerate(paras) for s in sents]
        flat_terms = [_terms(s[2]) for _, s in flat]
        for pi, para in enumerate(article["paragraphs"]):
            sents = paras[pi]
            for qa in para["qas"]:
                q = qa["question"].strip()
                qt = _terms(q)
                # hard negatives: other paragraphs' sentences sharing the most terms
                scored = sorted(((len(qt & flat_terms[i]), i) for i, (p, _) in enumerate(flat)
                                 if p != pi), reverse=True)[:4]
                hard = [flat[i][1][2] for _, i in scored]
                if qa.get("is_impossible") or not qa.get("answers"):
                    cands = [s[2] for s in sents]
                    rng.shuffle(cands)
                    items.append(Item(q, (cands[:GROUP - 2] + hard[:2])[:GROUP], False))
                    continue
                ans = qa["answers"][0]
                a0, a1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
                gold = next((s for s in sents if s[0] <= a0 < s[1]), None)
                if gold is None or a1 > gold[1]:
                    continue  # the answer crosses a sentence break: no single answer sentence
                if rng.random() < WRONG_ARTICLE_SHARE and wrong_pool:
                    other = rng.choice(wrong_pool)
                    op = rng.choice(other["paragraphs"])["context"]
                    from qa.chunking import split_sentences

                    cands = [op[s.start:s.end] for s in split_sentences(op)]
                    rng.shuffle(cands)
                    items.append(Item(q, cands[:GROUP], False))
                    continue
                same = [s[2] for s in sents if s is not gold]
                rng.shuffle(same)
                negs = same[:GROUP - 1 - 2] + hard
                negs = list(dict.fromkeys(n for n in negs if n != gold[2]))[:GROUP - 1]
                items.append(Item(q, [gold[2], *negs], True, a0 - gold[0], a1 - gold[0]))
    return items


def load_data(train_dir: Path) -> tuple[list[Item], list[dict], list[dict]]:
    """Training groups, plus the held-out articles (raw) for validation."""
    rng = random.Random(SEED)
    v1 = json.loads((train_dir / "squad_v1.1_train.json").read_text())["data"]
    v2 = json.loads((train_dir / "squad_v2.0_train_part.json").read_text())["data"]
    order = list(range(len(v1)))
    rng.shuffle(order)
    val_titles = {v1[i]["title"] for i in order[:VAL_ARTICLES]}
    train = [a for a in v1 if a["title"] not in val_titles]
    val = [a for a in v1 if a["title"] in val_titles]
    # SQuAD 2.0's part: only its unanswerable questions (its answerable ones are v1.1's)
    unans = []
    for a in v2:
        paras = [{"context": p["context"], "qas": [q for q in p["qas"] if q.get("is_impossible")]}
                 for p in a["paragraphs"]]
        if a["title"] not in val_titles:
            unans.append({"title": a["title"], "paragraphs": [p for p in paras if p["qas"]]})
    t0 = time.time()
    items = build_items(train + unans, rng, wrong_pool=train)
    rng.shuffle(items)
    print(f"{len(items)} training groups from {len(train)} articles "
          f"(+{sum(not i.answerable for i in items)} without an answer) in {time.time() - t0:.0f} s",
          flush=True)
    return items, val, train


# -- the model -----------------------------------------------------------------------
def make_model():  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModel

    from qa.embeddings import packaged_model_path

    class AnswerModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(packaged_model_path()))
            hidden = self.encoder.config.hidden_size
            self.score = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            h = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            score = self.score(h[:, 0]).squeeze(-1)
            start, end = self.span(h).unbind(-1)
            return score, start, end

    return AnswerModel()


def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from qa.embeddings import packaged_model_path

    return AutoTokenizer.from_pretrained(str(packaged_model_path()))


def encode(tok, questions: list[str], sentences: list[str]):  # type: ignore[no-untyped-def]
    return tok(questions, sentences, truncation="only_second", max_length=MAX_TOKENS,
               padding=True, return_tensors="pt", return_offsets_mapping=True)


def span_labels(batch, rows: list[tuple[int, int, int]]):  # type: ignore[no-untyped-def]
    """Token start/end for (row, char start, char end) in the sentence segment; -100 if cut."""
    import torch

    n = batch["input_ids"].shape[0]
    starts = torch.full((n,), -100, dtype=torch.long)
    ends = torch.full((n,), -100, dtype=torch.long)
    offsets, types = batch["offset_mapping"], batch["token_type_ids"]
    for row, c0, c1 in rows:
        s = e = None
        for t in range(offsets.shape[1]):
            if types[row, t] != 1 or batch["attention_mask"][row, t] == 0:
                continue
            a, b = int(offsets[row, t, 0]), int(offsets[row, t, 1])
            if a == b:
                continue
            if s is None and b > c0:
                s = t
            if a < c1:
                e = t
        if s is not None and e is not None and e >= s:
            starts[row], ends[row] = s, e
    return starts, ends


def losses(model, tok, items: list[Item]):  # type: ignore[no-untyped-def]
    import torch
    import torch.nn.functional as F

    qs, ss, owner, span_rows = [], [], [], []
    for gi, it in enumerate(items):
        for si, s in enumerate(it.sentences):
            if si == 0 and it.answerable:
                span_rows.append((len(ss), it.start, it.end))
            qs.append(it.question)
            ss.append(s)
            owner.append(gi)
    batch = encode(tok, qs, ss)
    starts, ends = span_labels(batch, span_rows)
    score, st, en = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    labels = torch.zeros(len(ss))
    for row, _, _ in span_rows:
        labels[row] = 1.0
    pointwise = F.binary_cross_entropy_with_logits(score, labels)
    listwise, groups = score.new_zeros(()), 0
    owner_t = torch.tensor(owner)
    for gi, it in enumerate(items):
        if it.answerable and len(it.sentences) > 1:
            idx = (owner_t == gi).nonzero().squeeze(-1)
            listwise = listwise + F.cross_entropy(score[idx][None], torch.zeros(1, dtype=torch.long))
            groups += 1
    listwise = listwise / max(groups, 1)
    mask = batch["attention_mask"].bool()
    st = st.masked_fill(~mask, -1e4)
    en = en.masked_fill(~mask, -1e4)
    span = (F.cross_entropy(st, starts, ignore_index=-100)
            + F.cross_entropy(en, ends, ignore_index=-100)) / 2 if (starts >= 0).any() else 0.0
    return (pointwise + listwise + 0.5 * span, float(pointwise), float(listwise),
            float(span))


# -- validation on held-out training articles ----------------------------------------
def val_items(val: list[dict]) -> tuple[list[Item], list[Item]]:
    """(answerable questions with all their paragraph's sentences, answer first;
    the same questions over a paragraph of another held-out article)."""
    rng = random.Random(SEED + 1)
    from qa.chunking import split_sentences

    good, wrong = [], []
    paras = [p for a in val for p in a["paragraphs"]]
    for a in val:
        for p in a["paragraphs"]:
            ctx = p["context"]
            sents = [(s.start, s.end) for s in split_sentences(ctx)]
            for qa in p["qas"]:
                ans = qa["answers"][0]
                a0, a1 = ans["answer_start"], ans["answer_start"] + len(ans["text"])
                gold = next((s for s in sents if s[0] <= a0 < s[1]), None)
                if gold is None or a1 > gold[1]:
                    continue
                others = [ctx[s:e] for s, e in sents if (s, e) != gold]
                good.append(Item(qa["question"], [ctx[gold[0]:gold[1]], *others], True,
                                 a0 - gold[0], a1 - gold[0]))
                other = rng.choice([q for q in paras if q is not p])["context"]
                wrong.append(Item(qa["question"],
                                  [other[s.start:s.end] for s in split_sentences(other)], False))
    order = list(range(len(good)))
    rng.shuffle(order)
    keep = order[:VAL_QUESTIONS]
    return [good[i] for i in keep], [wrong[i] for i in keep]


def validate(model, tok, good: list[Item], wrong: list[Item]) -> dict[str, float]:
    """Top-1 sentence accuracy, span exact match on the answer sentence, and
    the abstention trade-off at probability 0.5."""
    import torch

    model.eval()
    top1 = span_em = answered_right = abstain_wrong = 0
    with torch.no_grad():
        for g, w in zip(good, wrong):
            b = encode(tok, [g.question] * len(g.sentences), g.sentences)
            sc, st, en = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
            best = int(sc.argmax())
            top1 += best == 0
            p = float(torch.sigmoid(sc.max()))
            answered_right += best == 0 and p >= 0.5
            text = _best_span(g.sentences[0], b, st[0], en[0], 0)
            span_em += _norm(text) == _norm(g.sentences[0][g.start:g.end])
            b = encode(tok, [w.question] * len(w.sentences), w.sentences)
            sw, _, _ = model(b["input_ids"], b["attention_mask"], b["token_type_ids"])
            abstain_wrong += float(torch.sigmoid(sw.max())) < 0.5
    model.train()
    n = len(good)
    return {"top1": top1 / n, "span_em": span_em / n, "answered_right@0.5": answered_right / n,
            "abstain_other_article@0.5": abstain_wrong / n}


def _best_span(sentence: str, b, st, en, row: int, longest: int = 30) -> str:  # type: ignore[no-untyped-def]
    """The best (start, end) with end - start < longest inside the sentence's tokens."""
    import torch

    types, offsets = b["token_type_ids"][row], b["offset_mapping"][row]
    ok = (types == 1) & (offsets[:, 1] > offsets[:, 0])
    n = len(types)
    pair = st[:n, None] + en[None, :n]
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    allowed = ok[:, None] & ok[None, :] & (j >= i) & (j < i + longest)
    if not bool(allowed.any()):
        return ""
    flat = int(pair.masked_fill(~allowed, -1e9).argmax())
    s, e = divmod(flat, n)
    return sentence[int(offsets[s, 0]):int(offsets[e, 1])]


def _norm(text: str) -> str:
    text = re.sub(r"\b(a|an|the)\b", " ", text.lower())
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


# -- the loop ------------------------------------------------------------------------
def train(train_dir: Path, work: Path, minutes: float, threads: int, steps: int | None = None) -> None:
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    work.mkdir(parents=True, exist_ok=True)
    items, val, _ = load_data(train_dir)
    good, wrong = val_items(val)
    tok = tokenizer()
    model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    # --steps sets the learning-rate horizon: a run that cannot finish an epoch
    # on 2 cores still decays to the end instead of stopping at full rate
    total_steps = min(math.ceil(len(items) / BATCH_QUESTIONS), steps or 10**9)
    step, best = 0, -1.0
    ckpt = work / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best = state["step"], state["best"]
        print(f"resumed at step {step} (best top1 {best:.3f})", flush=True)
    warmup = 200
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / total_steps), last_epoch=step - 1)
    model.train()
    started, seen_run = time.time(), 0
    while step < total_steps and time.time() - started < minutes * 60:
        chunk = items[step * BATCH_QUESTIONS:(step + 1) * BATCH_QUESTIONS]
        loss, pw, lw, sp = losses(model, tok, chunk)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seen_run += sum(len(i.sentences) for i in chunk)
        if step % 50 == 0:
            rate = seen_run / (time.time() - started)
            print(f"step {step}/{total_steps} loss {float(loss):.3f} (pw {pw:.3f} lw {lw:.3f} "
                  f"span {sp:.3f}) {rate:.1f} pairs/s", flush=True)
        if step % CHECKPOINT_STEPS == 0:
            best = _checkpoint(model, opt, tok, good, wrong, items, step, best, work)
    _checkpoint(model, opt, tok, good, wrong, items, step, best, work)


def _checkpoint(model, opt, tok, good, wrong, items, step, best, work: Path) -> float:  # type: ignore[no-untyped-def]
    import torch

    t0 = time.time()
    figures = validate(model, tok, good, wrong)
    pairs = sum(len(i.sentences) for i in items[:step * BATCH_QUESTIONS])
    row = {"step": step, "questions": step * BATCH_QUESTIONS, "pairs": pairs, **figures,
           "validate_s": round(time.time() - t0, 1), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with (work / "curve.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    print("VAL", json.dumps(row), flush=True)
    score = figures["top1"] + figures["span_em"] * 0.5
    if score > best:
        best = score
        torch.save(model.state_dict(), work / "best.tmp")
        Path(work / "best.tmp").replace(work / "best.pt")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best},
               work / "last.tmp")
    Path(work / "last.tmp").replace(work / "last.pt")
    return best


# -- export --------------------------------------------------------------------------
def export(work: Path, train_dir: Path | None = None) -> None:
    """The best checkpoint as int8 ONNX (outputs: score, start, end logits)."""
    import os
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = make_model()
    model.load_state_dict(torch.load(work / "best.pt"))
    model.eval()
    tok = tokenizer()
    sample = tok(["a question"], ["a sentence that answers"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    OUT.mkdir(parents=True, exist_ok=True)
    full = work / "answer.fp32.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(sample[n] for n in names), str(full), input_names=names,
                          output_names=["score", "start", "end"],
                          dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names},
                                        "score": {0: "batch"}, "start": {0: "batch", 1: "seq"},
                                        "end": {0: "batch", 1: "seq"}},
                          opset_version=17, dynamo=False)
    tmp = OUT / "answer-minilm.int8.onnx.tmp"
    quantize_dynamic(str(full), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
    full.unlink()
    os.replace(tmp, OUT / "answer-minilm.int8.onnx")
    curve = [json.loads(line) for line in (work / "curve.jsonl").read_text().splitlines()
             if line.strip()]
    best = max(curve, key=lambda r: r["top1"] + 0.5 * r["span_em"])
    items = write_slice(train_dir) if train_dir else \
        [json.loads(line) for line in SLICE.read_text(encoding="utf-8").splitlines()]
    (OUT / "answer-minilm.json").write_text(json.dumps({
        "slice": {"file": "tests/data/answer-model-slice.jsonl", "questions": len(items),
                  **slice_figures(OUT / "answer-minilm.int8.onnx", items)},
        "max_tokens": MAX_TOKENS, "longest_span": 30, "base": "all-MiniLM-L6-v2 (packaged)",
        "seed": SEED, "steps": best["step"], "questions": best["questions"],
        "pairs": best["pairs"], "validation": {k: best[k] for k in (
            "top1", "span_em", "answered_right@0.5", "abstain_other_article@0.5")},
        "validation_questions": VAL_QUESTIONS, "validation_articles": VAL_ARTICLES,
    }, indent=1) + "\n")
    print(f"wrote {OUT / 'answer-minilm.int8.onnx'} "
          f"({(OUT / 'answer-minilm.int8.onnx').stat().st_size / 1e6:.1f} MB)")


SLICE = ROOT / "tests" / "data" / "answer-model-slice.jsonl"
SLICE_QUESTIONS = 60


def slice_figures(path: Path, items: list[dict]) -> dict[str, float]:
    """The ONNX model's top-1 sentence accuracy and span exact match on the slice."""
    from qa.answering.reader import AnswerModel

    model = AnswerModel(path)
    top1 = span = 0
    for item in items:
        reading = model.read(item["question"], item["sentences"])
        top1 += int(reading.logits.argmax()) == 0
        found = reading.spans[0]
        text = item["sentences"][0][found[0]:found[1]] if found else ""
        span += _norm(text) == _norm(item["answer"])
    return {"top1": round(top1 / len(items), 4), "span_em": round(span / len(items), 4)}


def write_slice(train_dir: Path) -> list[dict]:
    """A fixed slice of the held-out validation questions (SQuAD v1.1 training
    articles the model never saw, CC BY-SA 4.0), shipped with the tests."""
    good, _ = val_items(_val_articles(train_dir))
    items = [{"question": g.question, "sentences": g.sentences,
              "answer": g.sentences[0][g.start:g.end]} for g in good[:SLICE_QUESTIONS]]
    SLICE.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                     encoding="utf-8")
    return items


def _val_articles(train_dir: Path) -> list[dict]:
    rng = random.Random(SEED)
    v1 = json.loads((train_dir / "squad_v1.1_train.json").read_text())["data"]
    order = list(range(len(v1)))
    rng.shuffle(order)
    return [v1[i] for i in sorted(order[:VAL_ARTICLES])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["train", "export"])
    p.add_argument("train_dir", nargs="?", type=Path)
    p.add_argument("--work", type=Path, required=True, help="checkpoints and the curve")
    p.add_argument("--minutes", type=float, default=150.0, help="stop (and checkpoint) after")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, help="train this many steps (8 questions each), "
                   "decaying the learning rate over them; default one epoch")
    a = p.parse_args()
    if a.command == "train":
        if a.train_dir is None:
            p.error("train needs the qa_train folder")
        train(a.train_dir, a.work, a.minutes, a.threads, a.steps)
    else:
        export(a.work, a.train_dir)


if __name__ == "__main__":
    main()
