"""Metrics and the eval runner behind `qa eval`.

Reads JSON lines ({"question", "answers": [...], "history"?}; `answers: []`
means not answerable) or SQuAD-format JSON (each article one document, all in
one index).
"""

from __future__ import annotations

import collections
import json
import re
import string
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answering.span import kind_of
from .chunking import UNSPACED_CHAR
from .documents import normalize
from .errors import QAError


@dataclass
class Item:
    question: str
    answers: list[str]
    history: list[dict[str, Any]] = field(default_factory=list)
    id: str = ""


@dataclass
class EvalSet:
    items: list[Item]
    documents: dict[str, str] = field(default_factory=dict)  # name -> text (SQuAD only)


def load_eval(path: str | Path) -> EvalSet:
    """Read a JSONL or SQuAD-format eval file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QAError(f"{path}: cannot read the eval file ({exc.strerror or exc})") from None
    try:  # one JSON document: SQuAD format; otherwise JSON lines
        whole = json.loads(raw)
    except ValueError:
        whole = None
    if isinstance(whole, dict) and "data" in whole:
        try:
            return _squad(whole)
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(f"{path}: not valid SQuAD JSON ({exc})") from None
    items = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            items.append(Item(record["question"], list(record.get("answers", [])),
                              list(record.get("history") or []), str(record.get("id", number))))
        except (ValueError, KeyError, TypeError) as exc:
            raise QAError(f"{path}:{number}: not an eval record ({exc})") from None
    return EvalSet(items)


def _squad(data: dict[str, Any]) -> EvalSet:
    items: list[Item] = []
    docs: dict[str, str] = {}
    for article in data["data"]:
        title = article.get("title") or f"article-{len(docs) + 1}"
        docs[title] = "\n\n".join(p["context"] for p in article["paragraphs"])
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                golds = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
                items.append(Item(qa["question"], golds, [], qa.get("id", "")))
    return EvalSet(items, docs)


# -- metrics (SQuAD's official normalisation) -------------------------------------
def normalize_answer(text: str) -> str:
    """SQuAD's normalisation, with every Unicode punctuation mark dropped as
    MLQA's does ("،", "«»", "。"), not ASCII's alone."""
    text = normalize(text).lower()
    text = "".join(ch for ch in text if not _punctuation(ch))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _punctuation(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def contains_gold(answer: str, golds: list[str], max_chars: int = 300) -> bool:
    """The accuracy rule: a gold string inside an answer of at most `max_chars`."""
    if len(answer) > max_chars:
        return False
    said = f" {normalize_answer(answer)} "
    bare = said.replace(" ", "")
    return any(
        # Chinese, Japanese and Thai write no spaces between words: there the
        # gold only has to appear in the answer (spaces aside), as MLQA scores them.
        (g.replace(" ", "") in bare) if UNSPACED_CHAR.search(g) else (f" {g} " in said)
        for g in map(normalize_answer, golds) if g)


def _tokens(text: str) -> list[str]:
    """SQuAD's tokens, with Chinese, Japanese and Thai runs split into
    characters (MLQA's mixed segmentation: they write no spaces between words)."""
    return [piece for token in normalize_answer(text).split()
            for piece in (list(token) if UNSPACED_CHAR.search(token) else [token])]


def exact_match(prediction: str, golds: list[str]) -> float:
    if not golds:
        return float(prediction == "")
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1(prediction: str, golds: list[str]) -> float:
    if not golds:
        return float(prediction == "")
    best = 0.0
    said = _tokens(prediction)
    for gold in golds:
        truth = _tokens(gold)
        common = sum((collections.Counter(said) & collections.Counter(truth)).values())
        if common:
            precision, recall = common / len(said), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass
class Report:
    total: int
    answerable: int
    answer_correct: int
    unanswerable: int
    abstain_correct: int
    hits: int
    k: int
    em: float
    f1: float
    latencies_ms: list[float]
    failures: list[dict[str, Any]] = field(default_factory=list)
    # With a chat model: claims, supported claims, corrections, fallbacks,
    # time to first token.
    claims: int = 0
    supported: int = 0
    corrections: int = 0
    fallbacks: int = 0
    first_token_ms: list[float] = field(default_factory=list)
    # Short answers: answerable questions asking for a date, number, name or
    # place; how many got a marked span; how many spans match a gold exactly.
    typed: int = 0
    spans: int = 0
    span_exact: int = 0
    note: str = ""  # why the scores may mislead (the index holds other documents)

    def summary(self) -> dict[str, Any]:
        summary = {
            "questions": self.total,
            "answer_accuracy": _ratio(self.answer_correct, self.answerable),
            "abstention_accuracy": _ratio(self.abstain_correct, self.unanswerable),
            "overall_accuracy": _ratio(self.answer_correct + self.abstain_correct, self.total),
            f"hit@{self.k}": _ratio(self.hits, self.answerable),
            "squad_em": round(100 * self.em / max(1, self.total), 2),
            "squad_f1": round(100 * self.f1 / max(1, self.total), 2),
            "latency_p50_ms": _percentile(self.latencies_ms, 0.50),
            "latency_p95_ms": _percentile(self.latencies_ms, 0.95),
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            # of the answerable questions asking for a date, number, name or place:
            "span_questions": self.typed,
            "span_marked": _ratio(self.spans, self.typed),
            "span_em": _ratio(self.span_exact, self.typed),
        }
        if self.first_token_ms:
            summary.update({
                "claims_supported": _ratio(self.supported, self.claims),
                "citation_corrections": self.corrections,
                "fallback_rate": _ratio(self.fallbacks, self.total),
                "first_token_p50_ms": _percentile(self.first_token_ms, 0.50),
                "first_token_p95_ms": _percentile(self.first_token_ms, 0.95),
            })
        return summary


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values) or [0.0]
    return round(ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))], 2)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def run(eval_set: EvalSet, assistant: Any, k: int | None = None) -> Report:
    """Ask every question and score the answers."""
    k = k or assistant.settings.k
    report = Report(len(eval_set.items), 0, 0, 0, 0, 0, k, 0.0, 0.0, [])
    max_chars = assistant.settings.max_answer_chars
    generating = assistant.chat_model() is not None
    for item in eval_set.items:
        started = time.perf_counter()
        answer = None
        for piece in assistant.stream(item.question, history=item.history or None):
            if not isinstance(piece, str):
                answer = piece
            elif generating and len(report.first_token_ms) < len(report.latencies_ms) + 1:
                report.first_token_ms.append(1000 * (time.perf_counter() - started))
        report.latencies_ms.append(1000 * (time.perf_counter() - started))
        assert answer is not None  # stream always ends with the Answer
        if generating:
            report.claims += len(answer.claims)
            report.supported += sum(c.supported for c in answer.claims)
            report.corrections += answer.corrections
            report.fallbacks += answer.mode == "fallback"
        short = answer.text[answer.span[0]:answer.span[1]] if answer.span else ""
        prediction = (short or answer.text) if answer.found else ""
        report.em += exact_match(prediction, item.answers)
        report.f1 += f1(prediction, item.answers)
        if item.answers:
            report.answerable += 1
            ok = answer.found and contains_gold(answer.text, item.answers, max_chars)
            report.answer_correct += ok
            retrieved = assistant.retrieve(item.question, k=k)
            report.hits += any(contains_gold(s.text, item.answers, 10**9) for s in retrieved)
            if kind_of(item.question):
                report.typed += 1
                report.spans += bool(short)
                report.span_exact += bool(short) and exact_match(short, item.answers) == 1
        else:
            report.unanswerable += 1
            ok = not answer.found
            report.abstain_correct += ok
        if not ok:
            report.failures.append({"id": item.id, "question": item.question,
                                    "gold": item.answers[:2], "answer": prediction[:300]})
    return report


def write_documents(documents: dict[str, str], folder: Path) -> Path:
    """A SQuAD set's articles as .txt files in `folder` (unchanged files are left alone)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, (title, text) in enumerate(documents.items()):
        name = re.sub(r"[^\w.-]+", "_", title)[:80] or "article"
        target = folder / f"{number:03d}-{name}.txt"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return folder


def evaluate(path: str | Path, index_dir: str | Path | None = None,
             settings: Any = None, progress: bool = False, llm: Any = None) -> Report:
    """Build or open the index the eval set needs, then run it.

    JSONL sets run against `index_dir` (default: the bundled article's index).
    SQuAD sets index their articles into `index_dir` (default: a temporary folder).
    """
    from .assistant import BUNDLED, Assistant
    from .config import default_index_dir

    eval_set = load_eval(path)
    if not eval_set.documents:
        bot = Assistant.open(index_dir, settings, llm=llm)
        report = run(eval_set, bot)
        bundled = str(BUNDLED.resolve())
        default = index_dir is None or \
            Path(index_dir).resolve() == default_index_dir().resolve()
        if default and bundled not in {d["path"] for d in bot.documents()}:
            report.note = (f"the default index no longer holds the bundled article (the "
                           f"first files added replace it), so questions about it go "
                           f"unanswered; score them on the article's own index: qa index "
                           f"{bundled} -d /tmp/kosovo && qa eval {path} -d /tmp/kosovo")
        return report
    with tempfile.TemporaryDirectory(prefix="qa-eval-") as scratch:
        folder = Path(index_dir) if index_dir else Path(scratch) / "index"
        docs = write_documents(eval_set.documents,
                               Path(folder).parent / f"{Path(folder).name}-docs")
        bot = Assistant.from_paths([docs], folder, settings, progress=progress, llm=llm)
        return run(eval_set, bot)
