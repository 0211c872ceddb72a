"""Train qa's answer model: a MiniLM-L6 cross-encoder that scores whether a
sentence answers a question, with a span head that marks the short answer.

    pip install -e ".[bench]"
    python benchmarks/train_answer_model.py train PATH/qa_train --work DIR [--minutes 150]
        [--epochs 1] [--steps N] [--precision bf16] [--device cuda]
    python benchmarks/train_answer_model.py export --work DIR [--parts 16]
        # int8 ONNX into qa/answering/models/ (and in parts of at most 16 MB into DIR)
    python benchmarks/train_answer_model.py pack PATH/qa_train --work data.jsonl.gz
        # all the data in one file, to carry to a machine with a GPU
    python benchmarks/train_answer_model.py train --packed data.jsonl.gz --work DIR --device cuda
    python benchmarks/train_answer_model.py join --work DIR     # the parts back into one model file

Data (all from `qa_train/`, licences in its SOURCE.md): the SQuAD v1.1
training set (87,516 questions), the 348 unanswerable questions of the
SQuAD 2.0 training part, and English from outside SQuAD: SQuADShifts' new
Wikipedia articles (7,738) and TyDi QA's English questions (4,100).
Validation and early stopping use held-out SQuAD TRAINING articles only
(VAL_ARTICLES, chosen by a fixed seed); XQuAD, the SQuAD 2.0 sample, the dev
set and the PDF sets stay tests and are never read here.

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
import signal
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
CHECKPOINT_STEPS = 500  # validation (800 forward passes) costs about 50 steps' time
VAL_QUESTIONS = 400
WRONG_ARTICLE_SHARE = 0.08  # groups whose paragraph comes from another article
OUT = ROOT / "qa" / "answering" / "models"
EXTRA_ENGLISH = ("squadshifts_new_wiki_en.json", "tydiqa_goldp_en.json")
SUB_BATCH = 16  # pairs per forward pass, grouped by length (less padding)

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
    # English from outside SQuAD, for variety (new Wikipedia articles; TyDi's
    # information-seeking questions); validation stays on SQuAD's held-out articles
    extra = [a for name in EXTRA_ENGLISH if (train_dir / name).exists()
             for a in json.loads((train_dir / name).read_text())["data"]]
    t0 = time.time()
    items = build_items(train + unans + extra, rng, wrong_pool=train)
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


def losses(model, tok, items: list[Item], device: str = "cpu",
           precision: str = "fp32"):  # type: ignore[no-untyped-def]
    """The loss over a batch of groups. Pairs are run in sub-batches of
    similar length (padding to each sub-batch's longest, not the batch's),
    under bf16 autocast when asked."""
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
    lengths = [len(ids) for ids in tok(qs, ss, truncation="only_second",
                                       max_length=MAX_TOKENS)["input_ids"]]
    order = sorted(range(len(ss)), key=lengths.__getitem__)
    spans_of = {row: (c0, c1) for row, c0, c1 in span_rows}
    scores, span_sum, span_n = [], None, 0
    for at in range(0, len(order), SUB_BATCH):
        rows = order[at:at + SUB_BATCH]
        batch = encode(tok, [qs[r] for r in rows], [ss[r] for r in rows])
        labelled = [(i, *spans_of[r]) for i, r in enumerate(rows) if r in spans_of]
        starts, ends = span_labels(batch, labelled)
        inputs = [batch[n].to(device) for n in ("input_ids", "attention_mask", "token_type_ids")]
        with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
            score, st, en = model(*inputs)
        score, st, en = score.float(), st.float(), en.float()
        scores.append(score)
        if (starts >= 0).any():
            mask = inputs[1].bool()
            st, en = st.masked_fill(~mask, -1e4), en.masked_fill(~mask, -1e4)
            part = F.cross_entropy(st, starts.to(device), ignore_index=-100, reduction="sum") \
                + F.cross_entropy(en, ends.to(device), ignore_index=-100, reduction="sum")
            span_sum = part if span_sum is None else span_sum + part
            span_n += int((starts >= 0).sum())
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    score = torch.cat(scores)[inverse.to(device)]
    labels = torch.zeros(len(ss), device=device)
    for row, _, _ in span_rows:
        labels[row] = 1.0
    pointwise = F.binary_cross_entropy_with_logits(score, labels)
    listwise, groups = score.new_zeros(()), 0
    owner_t = torch.tensor(owner, device=device)
    for gi, it in enumerate(items):
        if it.answerable and len(it.sentences) > 1:
            idx = (owner_t == gi).nonzero().squeeze(-1)
            listwise = listwise + F.cross_entropy(score[idx][None],
                                                  torch.zeros(1, dtype=torch.long, device=device))
            groups += 1
    listwise = listwise / max(groups, 1)
    span = span_sum / (2 * span_n) if span_sum is not None else 0.0
    return (pointwise + listwise + 0.5 * span, float(pointwise.detach()),
            float(listwise.detach()), float(span.detach()) if span_n else 0.0)


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


def validate(model, tok, good: list[Item], wrong: list[Item], device: str = "cpu",
             precision: str = "fp32") -> dict[str, float]:
    """Top-1 sentence accuracy, span exact match on the answer sentence, and
    the abstention trade-off at probability 0.5."""
    import torch

    model.eval()
    top1 = span_em = answered_right = abstain_wrong = 0
    with torch.no_grad(), torch.autocast(device, dtype=torch.bfloat16,
                                         enabled=precision == "bf16"):
        for g, w in zip(good, wrong):
            b = encode(tok, [g.question] * len(g.sentences), g.sentences)
            sc, st, en = (t.float().cpu() for t in model(*_inputs(b, device)))
            best = int(sc.argmax())
            top1 += best == 0
            p = float(torch.sigmoid(sc.max()))
            answered_right += best == 0 and p >= 0.5
            text = _best_span(g.sentences[0], b, st[0], en[0], 0)
            span_em += _norm(text) == _norm(g.sentences[0][g.start:g.end])
            b = encode(tok, [w.question] * len(w.sentences), w.sentences)
            sw = model(*_inputs(b, device))[0].float().cpu()
            abstain_wrong += float(torch.sigmoid(sw.max())) < 0.5
    model.train()
    n = len(good)
    return {"top1": top1 / n, "span_em": span_em / n, "answered_right@0.5": answered_right / n,
            "abstain_other_article@0.5": abstain_wrong / n}


def _inputs(batch, device: str):  # type: ignore[no-untyped-def]
    return [batch[n].to(device) for n in ("input_ids", "attention_mask", "token_type_ids")]


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
def train(train_dir: Path | None, work: Path, minutes: float, threads: int,
          steps: int | None = None, device: str = "cpu", precision: str = "fp32",
          packed: Path | None = None, epochs: float = 1.0) -> None:
    """Train (or resume) until `minutes` pass, `steps` are done, or `epochs`
    passes over the training groups; checkpoints and the held-out curve go to
    `work`. The data comes from `train_dir`, or from a file `pack` wrote."""
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(threads)
    work.mkdir(parents=True, exist_ok=True)
    if packed is not None:
        items, good, wrong = read_packed(packed)
    else:
        assert train_dir is not None
        items, val, _ = load_data(train_dir)
        good, wrong = val_items(val)
    tok = tokenizer()
    model = make_model().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    per_epoch = math.ceil(len(items) / BATCH_QUESTIONS)
    # --steps sets the learning-rate horizon: a run that cannot finish its
    # epochs on 2 cores still decays to the end instead of stopping at full rate
    total_steps = min(math.ceil(per_epoch * epochs), steps or 10**9)
    step, best = 0, -1.0
    ckpt = work / "last.pt"
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best = state["step"], state["best"]
        print(f"resumed at step {step} of {total_steps} ({step * BATCH_QUESTIONS:,} questions "
              f"seen, epoch {step / per_epoch:.2f}; best held-out score {best:.3f})", flush=True)
    warmup = 200
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / total_steps), last_epoch=step - 1)
    model.train()
    started, seen_run = time.time(), 0
    stop = []  # SIGTERM or SIGINT: finish the step, checkpoint, and end (a run resumes)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.append(True))
    while step < total_steps and time.time() - started < minutes * 60 and not stop:
        at = step % per_epoch  # a second epoch goes over the same shuffled order
        chunk = items[at * BATCH_QUESTIONS:(at + 1) * BATCH_QUESTIONS]
        loss, pw, lw, sp = losses(model, tok, chunk, device, precision)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seen_run += sum(len(i.sentences) for i in chunk)
        if step % 50 == 0:
            rate = seen_run / (time.time() - started)
            print(f"step {step}/{total_steps} (epoch {step / per_epoch:.3f}) "
                  f"loss {float(loss):.3f} (pw {pw:.3f} lw {lw:.3f} span {sp:.3f}) "
                  f"{rate:.1f} pairs/s", flush=True)
        if step % CHECKPOINT_STEPS == 0:
            best = _checkpoint(model, opt, tok, good, wrong, items, step, best, work, device,
                               precision)
    _checkpoint(model, opt, tok, good, wrong, items, step, best, work, device, precision)


def _checkpoint(model, opt, tok, good, wrong, items, step, best, work: Path,  # type: ignore[no-untyped-def]
                device: str = "cpu", precision: str = "fp32") -> float:
    import torch

    t0 = time.time()
    figures = validate(model, tok, good, wrong, device, precision)
    per_epoch = sum(len(i.sentences) for i in items)
    done = step * BATCH_QUESTIONS
    pairs = (done // len(items)) * per_epoch + \
        sum(len(i.sentences) for i in items[:done % len(items)])
    row = {"step": step, "questions": done, "epoch": round(done / len(items), 4),
           "pairs": pairs, **figures,
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
def export(work: Path, train_dir: Path | None = None, parts_mb: float = 0) -> None:
    """The best checkpoint as int8 ONNX (outputs: score, start, end logits)."""
    import os
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = make_model()
    model.load_state_dict(torch.load(work / "best.pt", map_location="cpu"))
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
    if parts_mb:
        split(OUT / "answer-minilm.int8.onnx", work, parts_mb)


# -- moving data and the model between machines --------------------------------------
def pack(train_dir: Path, out: Path) -> None:
    """The training groups and the held-out validation questions in one
    gzipped JSON-lines file (to train where qa_train/ is not). Each sentence
    is written once (a paragraph's sentences recur across its questions)."""
    import gzip

    items, val, _ = load_data(train_dir)
    good, wrong = val_items(val)
    ids: dict[str, int] = {}
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        for part, rows in (("train", items), ("good", good), ("wrong", wrong)):
            for it in rows:
                refs = []
                for sentence in it.sentences:
                    if sentence not in ids:
                        ids[sentence] = len(ids)
                        f.write(json.dumps(sentence, ensure_ascii=False) + "\n")
                    refs.append(ids[sentence])
                f.write(json.dumps([part, it.question, refs, it.answerable, it.start, it.end],
                                   ensure_ascii=False) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB: {len(items):,} groups, "
          f"{len(ids):,} sentences, {len(good)} held-out questions)")


def read_packed(path: Path) -> tuple[list[Item], list[Item], list[Item]]:
    import gzip

    parts: dict[str, list[Item]] = {"train": [], "good": [], "wrong": []}
    sentences: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if isinstance(row, str):
                sentences.append(row)
                continue
            part, question, refs, answerable, start, end = row
            parts[part].append(Item(question, [sentences[i] for i in refs], answerable,
                                    start, end))
    return parts["train"], parts["good"], parts["wrong"]


def split(path: Path, folder: Path, mb: float) -> None:
    """`path` as parts of at most `mb` MB in `folder` (NAME.part00, ...)."""
    data, size = path.read_bytes(), int(mb * 1_000_000)
    for n, at in enumerate(range(0, len(data), size)):
        (folder / f"{path.name}.part{n:02d}").write_bytes(data[at:at + size])
    print(f"wrote {math.ceil(len(data) / size)} parts of at most {mb} MB to {folder}")


def join(folder: Path) -> None:
    """The model from the parts `split` wrote, into qa/answering/models/."""
    name = "answer-minilm.int8.onnx"
    parts = sorted(folder.glob(f"{name}.part*"))
    if not parts:
        raise SystemExit(f"no {name}.partNN files in {folder}")
    tmp = OUT / f"{name}.tmp"
    tmp.write_bytes(b"".join(p.read_bytes() for p in parts))
    tmp.replace(OUT / name)
    print(f"joined {len(parts)} parts into {OUT / name}")


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
    p.add_argument("command", choices=["train", "export", "pack", "join"])
    p.add_argument("train_dir", nargs="?", type=Path)
    p.add_argument("--work", type=Path, required=True,
                   help="checkpoints and the curve (pack: the file to write; join: the parts)")
    p.add_argument("--minutes", type=float, default=150.0, help="stop (and checkpoint) after")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, help="train this many steps (8 questions each), "
                   "decaying the learning rate over them; default --epochs")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the training groups")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16 autocast (AVX512-BF16 CPUs, GPUs)")
    p.add_argument("--packed", type=Path, help="train from a file `pack` wrote")
    p.add_argument("--parts", type=float, default=0,
                   help="export: also write the model in parts of at most this many MB")
    a = p.parse_args()
    if a.command == "train":
        if a.train_dir is None and a.packed is None:
            p.error("train needs the qa_train folder or --packed FILE")
        train(a.train_dir, a.work, a.minutes, a.threads, a.steps, a.device, a.precision,
              a.packed, a.epochs)
    elif a.command == "pack":
        if a.train_dir is None:
            p.error("pack needs the qa_train folder")
        pack(a.train_dir, a.work)
    elif a.command == "join":
        join(a.work)
    else:
        export(a.work, a.train_dir, a.parts)


if __name__ == "__main__":
    main()
