"""Fit the answer ranker: a conditional logit over the sentence features.

    pip install -e ".[bench]"
    python benchmarks/fit_ranker.py PATH/squad_v2_dev_sample/small.json [--model multilingual]
    python benchmarks/fit_ranker.py --model multilingual --native PATH/qa_train

Fitting data: the SQuAD 2.0 sample and the bundled dev set ONLY (the
project's tuning data). XQuAD and the PDF sets are held-out tests: never pass
them here. For every question, every candidate sentence of the retrieved
chunks (exactly what `qa ask` scores) is one row, labelled by whether it holds
a gold answer; an unanswerable question's right choice is "not in the
documents".

Writes, per embedding model:
    qa/answering/rankers/NAME.json      the shipped model: weights on the raw
                                        features, the "none" utility, the
                                        abstention threshold (JSON, no pickle)
    benchmarks/rankers/NAME.npz         the feature table it was fitted on
                                        (numbers only), so a test can refit it

With --native, the multilingual model also gets a ranker per language from
the native (not translated) question sets in qa_train/: Chinese, Arabic,
Russian and Thai, about 400 questions each (training data; XQuAD stays a test).

Prints the cross-validated figures (5 folds by question, and by article), the
fold spread, the threshold sweep and the calibration (expected calibration
error and a reliability table). Re-run whenever the vectors or the features
change: tests/test_ranker.py fails when the table no longer matches them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))
from results import Table  # noqa: E402

from qa import assistant as facade  # noqa: E402
from qa.answering import NOT_FOUND, Answer, extractive, pipeline  # noqa: E402
from qa.config import PACKAGED_MODEL, Settings  # noqa: E402
from qa.evaluation import contains_gold, load_eval, write_documents  # noqa: E402

DEV = ROOT / "tests" / "data" / "russia-warns-kosovo.dev.jsonl"
TABLES = ROOT / "benchmarks" / "rankers"
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)  # on the standardised weights
# The threshold keeps this share of the right answers given without one. On
# the SQuAD sample the overall score only rises with the threshold, towards
# answering nothing (0.532): its unanswerable questions are written to match
# their paragraph, and these features cannot tell them apart. So the floor,
# not the overall score, sets the threshold: a user loses at most a tenth of
# the right answers to abstention.
MIN_ANSWERED = 0.90
# The native rankers' threshold (and the printed sweep of the answer model's
# probability) may cost at most 2% of the right answers. With the answer
# model, abstention is joint (joint_thresholds): the base ranker at its own
# threshold AND the model unsure. Measured 2026-12-07 (QA_ANSWER_MODEL=1,
# SQuAD sample overall / XQuAD en): the earlier rule, the combined ranker's
# probability with a 2% floor, 0.414 / 0.865; at a 10% floor 0.438; the
# ranker alone 0.443.
READER_ANSWERED = 0.98
OUT_OF_FOLD: dict = {}  # the last reading fit's per-question figures (joint_thresholds)
FOLDS = 5


# -- the feature table ---------------------------------------------------------------
def collect(bot: facade.Assistant, items: list, reading: extractive.Ranker | None = None
            ) -> dict[str, list]:
    """Every question's candidate rows, as `ask` computes them (follow-ups
    included); with `reading` (a ranker that reads), the answer model's
    log-odds as the READER column, and its probability in "read"."""
    seen: list = []
    original = pipeline.select

    def recording(question, vector, store, hits, idf, ranker, min_score, max_chars=300,
                  context_terms=None, ranker_k=0):
        found = extractive.candidates(question, vector, store, hits, idf,
                                      reading or ranker.base or ranker, context_terms)
        read = [found.read.get(row, (0.0, None))[0] for row in found.rows]
        near = extractive.near(store, hits, found.rows, ranker_k).tolist()
        seen.append((store, found.rows, found.matrix, read, near))
        return Answer(NOT_FOUND, False)  # only the features count here

    pipeline.select = recording
    width = len(extractive.FEATURES) + (1 if reading else 0)
    table: dict[str, list] = {"x": [], "y": [], "question": [], "article": [], "read": [],
                              "near": []}
    try:
        for number, item in enumerate(items):
            seen.clear()
            bot.ask(item.question, history=item.history or None)
            if not seen:  # taken for a whole-document question: no sentence was chosen
                print(f"  not a sentence question (intent.py): {item.question}", flush=True)
                continue
            store, rows, matrix, read, near = seen[-1]
            if not rows:  # nothing retrieved: a row of zeros keeps the question counted
                rows, matrix, read, near = [None], np.zeros((1, width), np.float32), [0.0], \
                    [True]
            table["read"].extend(read)
            table["near"].extend(near)
            for row, features in zip(rows, matrix):
                text = "" if row is None else store.document(store.sentence_doc[row]).text[
                    store.sentence_spans[row].start:store.sentence_spans[row].end]
                table["x"].append(features)
                table["y"].append(bool(item.answers) and contains_gold(text, item.answers, 10**9))
                table["question"].append(number)
                # The question's article: the document of its first candidate.
                table["article"].append(
                    "none" if rows[0] is None else
                    store.document(store.sentence_doc[rows[0]]).source)
    finally:
        pipeline.select = original
    return table


def build_table(squad_path: str, scratch: Path, model: str,
                reading: extractive.Ranker | None = None) -> dict[str, np.ndarray]:
    squad = load_eval(squad_path)
    settings = Settings.from_env(model=model)
    docs = write_documents(squad.documents, scratch / "squad-docs")
    squad_bot = facade.Assistant.from_paths([docs], scratch / "squad-index", settings,
                                            progress=False)
    dev_bot = facade.Assistant.bundled(scratch / "dev-index", settings)
    dev = load_eval(DEV).items
    parts = [collect(squad_bot, squad.items, reading), collect(dev_bot, dev, reading)]
    parts[1]["question"] = [q + len(squad.items) for q in parts[1]["question"]]
    names = sorted({a for p in parts for a in p["article"]})
    answerable = [bool(i.answers) for i in squad.items] + [bool(i.answers) for i in dev]
    questions = np.array([q for p in parts for q in p["question"]], np.int64)
    return {"x": np.array([r for p in parts for r in p["x"]], np.float32),
            "y": np.array([r for p in parts for r in p["y"]], bool),
            "read": np.array([r for p in parts for r in p["read"]], np.float32),
            "near": np.array([r for p in parts for r in p["near"]], bool),
            "question": questions,
            "article": np.array([names.index(a) for p in parts for a in p["article"]], np.int64),
            "answerable": np.array(answerable, bool)[questions],
            "dev": questions >= len(squad.items)}


def other_documents_table(squad_path: str, scratch: Path, model: str,
                          reading: extractive.Ranker) -> dict[str, np.ndarray]:
    """The SQuAD sample's answerable questions over an index of the OTHER half
    of its articles (nothing there answers them): where abstaining is right."""
    squad = load_eval(squad_path)
    titles = sorted(squad.documents)
    title_of = {qa["id"]: article["title"] for article in
                json.loads(Path(squad_path).read_text(encoding="utf-8"))["data"]
                for paragraph in article["paragraphs"] for qa in paragraph["qas"]}
    settings = Settings.from_env(model=model)
    parts = []
    for half in (0, 1):
        held = {t: squad.documents[t] for t in titles[half::2]}
        docs = write_documents(held, scratch / f"half{half}-docs")
        bot = facade.Assistant.from_paths([docs], scratch / f"half{half}-index", settings,
                                          progress=False)
        asked = [i for i in squad.items if i.answers and title_of[i.id] not in held]
        parts.append(collect(bot, asked, reading))
    offset = 1 + max(parts[0]["question"], default=0)
    parts[1]["question"] = [q + offset for q in parts[1]["question"]]
    return {"x": np.array([r for p in parts for r in p["x"]], np.float32),
            "read": np.array([r for p in parts for r in p["read"]], np.float32),
            "near": np.array([r for p in parts for r in p["near"]], bool),
            "question": np.array([q for p in parts for q in p["question"]], np.int64)}


def joint_thresholds(own: dict, other: dict[str, np.ndarray], table: dict[str, np.ndarray],
                     base: dict, model: dict) -> tuple:
    """(reader threshold, ranker threshold): abstain when BOTH the answer model
    is unsure of the chosen sentence and the base ranker (the ranker without
    the model) is unsure of its best, at its own threshold: the model only
    adds answers the ranker alone would refuse. The reader threshold is the
    one with the best overall accuracy on the tuning questions (out of fold),
    then the most questions about other documents abstained on."""
    ranker = extractive.Ranker(np.array(base["weights"]), base["none"], 0.0)
    tk = float(base["threshold"])

    def base_best(t: dict[str, np.ndarray]) -> np.ndarray:
        """Per question, the ranker alone's best probability over the
        candidates of its own k chunks (as `extractive.unsure_of`)."""
        best = []
        for rows in groups_of(t["question"]):
            own = rows[t["near"][rows]] if "near" in t else rows
            best.append(ranker.probabilities(t["x"][own][:, :-1]).max() if len(own) else 0.0)
        return np.array(best)

    mine, theirs = base_best(table), base_best(other)
    # the answer model's reading of the sentence the reading ranker chooses
    reading = extractive.Ranker(np.array(model["weights"]), model["none"], 0.0)
    o_read = np.array([other["read"][rows][int(np.argmax(reading.probabilities(
        other["x"][rows])))] for rows in groups_of(other["question"])])
    answerable = own["answerable"]
    right = own["right"] & answerable
    best, best_key = (0.0, 0.0, 0.0, 0.0), (-1.0, -1.0)
    for tr in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98]:
        kept = ~((own["read"] < tr) & (mine < tk))
        overall = float(((kept & right) | (~kept & ~answerable)).mean())
        abstained = float(((o_read < tr) & (theirs < tk)).mean())
        key = (round(overall, 3), round(abstained, 3))
        if key > best_key:
            lost = 1 - (kept & right).sum() / max(1, right.sum())
            best, best_key = (tr, overall, abstained, lost), key
    print(f"\njoint abstention (answer model AND base ranker unsure): reader < {best[0]}, "
          f"base ranker < {tk}: tuning questions right {best[1]:.3f}, other-document "
          f"questions abstained {best[2]:.3f} ({len(theirs)}), right answers lost "
          f"{best[3]:.3f} (5-fold CV)")
    return best[0], tk


# -- native questions (a multilingual model's per-language rankers) --------------------
# The question sets in qa_train/ written in their own language (not translated
# from SQuAD; none shares an article with XQuAD). Each language's weights and
# threshold rest on its own questions: terms there are character pairs (zh,
# th) or another stemmer's stems (ar, ru), so the English weights fit them badly.
NATIVE = {"zh": ("cmrc2018_zh.json", "drcd_zh_hant.json"),
          "ar": ("arcd_ar.json", "tydiqa_goldp_ar.json"),
          "ru": ("tydiqa_goldp_ru.json",),
          "th": ("iapp_wiki_qa_th.json",)}
NATIVE_QUESTIONS = 400  # per language, from whole articles drawn with a fixed seed
NATIVE_SEED = 13


def native_sample(folder: Path, files: tuple[str, ...]) -> tuple[dict[str, str], list, dict]:
    """About NATIVE_QUESTIONS questions of one language, from whole articles
    drawn at random (fixed seed) from its files: (documents, items, article of
    each question id)."""
    import random

    from qa.evaluation import Item

    documents: dict[str, str] = {}
    items: list = []
    article_of: dict[str, str] = {}
    for name in files:
        articles = json.loads((folder / name).read_text(encoding="utf-8"))["data"]
        random.Random(NATIVE_SEED).shuffle(articles)
        quota = len(items) + NATIVE_QUESTIONS // len(files)
        for number, article in enumerate(articles):
            if len(items) >= quota:
                break
            title = f"{Path(name).stem}-{number:04d}"
            documents[title] = "\n\n".join(p["context"] for p in article["paragraphs"])
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    items.append(Item(qa["question"], [a["text"] for a in qa["answers"]],
                                      [], str(qa["id"])))
                    article_of[str(qa["id"])] = title
    return documents, items, article_of


def native_tables(folder: Path, scratch: Path, model: str) -> tuple[dict, dict]:
    """Per language, the candidate rows of its questions over an index of half
    its sampled articles (the half holding the answer), and of the same
    questions over the other half (nothing there answers: where abstaining is
    right). A "lang" column tells the languages apart."""
    settings = Settings.from_env(model=model)
    own_parts, other_parts = [], []
    offset = 0
    for lang, files in NATIVE.items():
        documents, items, article_of = native_sample(folder, files)
        titles = sorted(documents)
        print(f"{lang}: {len(items)} questions on {len(titles)} articles from {', '.join(files)}",
              flush=True)
        for half in (0, 1):
            held = {t: documents[t] for t in titles[half::2]}
            docs = write_documents(held, scratch / f"{lang}{half}-docs")
            bot = facade.Assistant.from_paths([docs], scratch / f"{lang}{half}-index", settings,
                                              progress=False)
            for part, asked in ((own_parts, [i for i in items if article_of[i.id] in held]),
                                (other_parts, [i for i in items if article_of[i.id] not in held])):
                table = collect(bot, asked)
                # the same question in both halves keeps one number
                number = {n: offset + items.index(item) for n, item in enumerate(asked)}
                table["question"] = [number[q] for q in table["question"]]
                table["lang"] = [lang] * len(table["y"])
                part.append(table)
        offset += len(items)

    def join(parts: list) -> dict[str, np.ndarray]:
        return {"x": np.array([r for p in parts for r in p["x"]], np.float32),
                "y": np.array([r for p in parts for r in p["y"]], bool),
                "question": np.array([q for p in parts for q in p["question"]], np.int64),
                "lang": np.array([r for p in parts for r in p["lang"]])}

    return join(own_parts), join(other_parts)


def fit_native(own: dict[str, np.ndarray], other: dict[str, np.ndarray], english: dict,
               record: bool = False) -> dict:
    """Each language's ranker: L2 by 5-fold CV, and the threshold that abstains
    most on questions about other documents while losing at most
    1 - READER_ANSWERED of the right answers (out of fold). Prints the
    figures against the English-fitted weights on the same rows."""
    fitted = {}
    table = Table("ranker-native", [
        "language", "questions", "right sentence first: English-fitted weights",
        "native weights (5-fold CV)", "L2", "threshold",
        "questions about other documents abstained", "right answers lost (CV)"])
    ranker_en = extractive.Ranker(np.array(english["weights"]), english["none"], 0.0)
    for lang in NATIVE:
        t = {k: v[own["lang"] == lang] for k, v in own.items() if k != "lang"}
        o = {k: v[other["lang"] == lang] for k, v in other.items() if k != "lang"}
        t["answerable"] = np.ones(len(t["y"]), bool)
        before = np.mean([t["y"][rows[int(np.argmax(ranker_en.probabilities(t["x"][rows])))]]
                          for rows in groups_of(t["question"])])
        fold = t["question"] % FOLDS
        chosen: dict = {}
        for l2 in L2_GRID:
            r = out_of_fold(t, fold, l2)
            asked = np.unique(t["question"])
            first = float(r["right"][asked].mean())
            if first > chosen.get("first", -1):
                chosen = {"l2": l2, "first": first, "p": r["p"][asked], "right": r["right"][asked]}
        model = fit(t, np.ones(len(t["y"]), bool), chosen["l2"])
        ranker = extractive.Ranker(np.array(model["weights"]), model["none"], 0.0)
        o_p = np.array([ranker.probabilities(o["x"][rows]).max()
                        for rows in groups_of(o["question"])])
        p, right = chosen["p"], chosen["right"]
        threshold = 0.0
        for th in np.round(np.arange(0.0, 0.51, 0.01), 2):
            if (right & (p >= th)).sum() >= READER_ANSWERED * right.sum():
                threshold = float(th)
        lost = 1 - (right & (p >= threshold)).sum() / max(1, right.sum())
        table.add(lang, len(p), float(before), chosen["first"], f"{chosen['l2']:g}", threshold,
                  f"{(o_p < threshold).mean():.3f} of {len(o_p)}", float(lost))
        fitted[lang] = {**model, "threshold": threshold, "l2": chosen["l2"]}
    if record:
        print(f"recorded {table.save()}")
    return fitted


# -- the model ------------------------------------------------------------------------
def groups_of(questions: np.ndarray) -> list[np.ndarray]:
    """Row indexes of each question, in question order."""
    order = np.argsort(questions, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(questions[order])) + 1)


def fit(t: dict[str, np.ndarray], keep: np.ndarray, l2: float) -> dict:
    """The conditional logit: maximise the log-probability of the right choice
    (any candidate holding the answer, or "none" for an unanswerable question)
    with an L2 pull on the standardised weights. Deterministic (L-BFGS from
    zeros). Returns weights on the raw features."""
    from scipy.optimize import minimize

    x, y = t["x"][keep].astype(np.float64), t["y"][keep]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    groups = groups_of(t["question"][keep])
    d = z.shape[1]

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:d], params[d]
        total, grad = 0.5 * l2 * w @ w, np.concatenate([l2 * w, [0.0]])
        for rows in groups:
            s = z[rows] @ w
            top = max(s.max(), b)
            e, none = np.exp(s - top), np.exp(b - top)
            norm = e.sum() + none
            right = y[rows]
            hit = e[right].sum() if right.any() else none
            total -= np.log(hit / norm)
            target = e * right / hit if right.any() else np.zeros_like(e)
            grad[:d] += z[rows].T @ (e / norm - target)
            grad[d] += none / norm - (0.0 if right.any() else 1.0)
        return float(total), grad

    params = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B").x
    weights = params[:d] / scale
    return {"weights": weights.tolist(), "none": float(params[d] + mean @ weights)}


def out_of_fold(t: dict[str, np.ndarray], fold: np.ndarray, l2: float
                ) -> dict[str, np.ndarray]:
    """Per question, under the model fitted without its fold: the best
    candidate's probability and whether it holds the answer."""
    best_p = np.zeros(t["question"].max() + 1)
    best_read = np.zeros_like(best_p)
    right = np.zeros_like(best_p, dtype=bool)
    for held in np.unique(fold):
        model = fit(t, fold != held, l2)
        ranker = extractive.Ranker(np.array(model["weights"]), model["none"], 0.0)
        for rows in groups_of(t["question"][fold == held]):
            rows = np.flatnonzero(fold == held)[rows]
            p = ranker.probabilities(t["x"][rows])
            q = t["question"][rows[0]]
            best_p[q], right[q] = p.max(), t["y"][rows[int(np.argmax(p))]]
            if "read" in t:
                best_read[q] = t["read"][rows[int(np.argmax(p))]]
    return {"p": best_p, "right": right, "read": best_read}


def accuracy(p, right, answerable, threshold) -> tuple[float, float, float]:
    """(answerable accuracy, abstention accuracy, overall) at a threshold."""
    answered = p >= threshold
    ans = float((answered & right)[answerable].mean()) if answerable.any() else 0.0
    abstained = float((~answered)[~answerable].mean()) if (~answerable).any() else 0.0
    overall = float(((answered & right & answerable) | (~answered & ~answerable)).mean())
    return ans, abstained, overall


def calibration(p: np.ndarray, right: np.ndarray, bins: int = 10) -> tuple[float, list]:
    """Expected calibration error and the reliability table of P(best is right)."""
    edges = np.linspace(0, 1, bins + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if inside.any():
            ece += inside.mean() * abs(p[inside].mean() - right[inside].mean())
            table.append((lo, hi, int(inside.sum()), float(p[inside].mean()),
                          float(right[inside].mean())))
    return float(ece), table


def per_question(t: dict[str, np.ndarray], name: str) -> np.ndarray:
    first = np.array([rows[0] for rows in groups_of(t["question"])])
    return t[name][first]


def fit_and_report(t: dict[str, np.ndarray]) -> dict:
    """Choose L2 and the threshold by cross-validation, print the figures,
    and fit the shipped model on everything."""
    fold = t["question"] % FOLDS
    answerable, dev = per_question(t, "answerable"), per_question(t, "dev")
    sq = ~dev
    print(f"{len(t['y'])} candidate rows, {len(answerable)} questions "
          f"({int(sq.sum())} SQuAD, {int(dev.sum())} dev), {int(t['y'].sum())} positive rows; "
          f"{len(extractive.FEATURES) + 1} parameters")
    chosen: dict = {}
    for l2 in L2_GRID:
        r = out_of_fold(t, fold, l2)
        first = float(r["right"][answerable].mean())
        print(f"L2 {l2:>5}: right sentence first (5-fold CV) SQuAD "
              f"{r['right'][sq & answerable].mean():.3f}, dev {r['right'][dev & answerable].mean():.3f}")
        if first > chosen.get("first", -1):
            chosen = {"l2": l2, "first": first, **r}
    reads = t["x"].shape[1] == len(extractive.FEATURES) + 1
    # With the answer model, abstention compares ITS probability of the chosen
    # sentence (calibrated by its training), not the ranker's.
    p, right = (chosen["read"] if reads else chosen["p"]), chosen["right"]
    sweep = [(th, *accuracy(p, right, answerable, th)) for th in np.round(np.arange(0, 0.51, 0.01), 2)]
    plateau = sweep[0][1]
    # The threshold: the best overall accuracy on all tuning questions that keeps
    # MIN_ANSWERED of the right answers (abstaining on everything scores 0.532).
    floor = READER_ANSWERED if reads else MIN_ANSWERED
    threshold = max((row for row in sweep if row[1] >= floor * plateau),
                    key=lambda row: (row[3], -row[0]))[0]
    print(f"\nchosen L2 {chosen['l2']}, threshold {threshold:.2f} (5-fold CV):")
    print("| set | answerable | abstention | overall |\n|---|---|---|---|")
    for label, mask in (("SQuAD 2.0 sample", sq), ("dev set", dev)):
        a, b, o = accuracy(p[mask], right[mask], answerable[mask], threshold)
        print(f"| {label} | {a:.3f} | {b:.3f} | {o:.3f} |")
    article = per_question(t, "article")
    fold_of = per_question(t, "question") % FOLDS
    spread = [accuracy(p[fold_of == f], right[fold_of == f], answerable[fold_of == f],
                       threshold)[2] for f in range(FOLDS)]
    print(f"overall per fold: {', '.join(f'{v:.3f}' for v in spread)}")
    by_article = out_of_fold(t, t["article"], chosen["l2"])
    for a in np.unique(article):
        m = (article == a) & answerable
        print(f"held-out article {a}: right sentence first {by_article['right'][m].mean():.3f} "
              f"({int(m.sum())} answerable)")
    print("\nthreshold sweep (5-fold CV, SQuAD sample): threshold answerable abstention overall")
    for th in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
        a, b, o = accuracy(p[sq], right[sq], answerable[sq], th)
        print(f"  {th:.2f}  {a:.3f}  {b:.3f}  {o:.3f}")
    ece, table = calibration(p, right & answerable)
    print(f"\ncalibration of P(best sentence answers), 5-fold CV, all {len(p)} questions: "
          f"ECE {ece:.3f}")
    print("| probability | questions | mean predicted | share right |\n|---|---|---|---|")
    for lo, hi, n, mean, share in table:
        print(f"| {lo:.1f}–{hi:.1f} | {n} | {mean:.2f} | {share:.2f} |")
    model = fit(t, np.ones(len(t["y"]), bool), chosen["l2"])
    names = [*extractive.FEATURES, extractive.READER] if reads else list(extractive.FEATURES)
    if reads:
        OUT_OF_FOLD.update(p=chosen["p"], read=chosen["read"], right=chosen["right"],
                           answerable=answerable)
    return {"features": names, **model, "threshold": float(threshold), "l2": chosen["l2"],
            "fitted_on": "the SQuAD 2.0 sample and the dev set (benchmarks/fit_ranker.py)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("squad", nargs="?", help="the SQuAD 2.0 sample (tuning data)")
    parser.add_argument("--model", default=PACKAGED_MODEL,
                        help="embedding model (QA_MODEL names); default: the packaged one")
    parser.add_argument("--reuse", action="store_true", help="refit from the saved table")
    parser.add_argument("--reader", action="store_true",
                        help="add the answer model's score (qa/answering/models/) as a feature; "
                             "the ranker shipped now stays as its prefilter")
    parser.add_argument("--native", type=Path, metavar="QA_TRAIN",
                        help="with --model multilingual: fit each language's ranker on the "
                             "native question sets in PATH/qa_train (zh, ar, ru, th)")
    parser.add_argument("--record", action="store_true",
                        help="with --native: save its table for the benchmark page")
    args = parser.parse_args()
    if args.native:
        return native(args)
    base_name = extractive.ranker_name(args.model)
    # the ranker without the answer model is the base (and prefilter) of the one with it
    base = json.loads((extractive.RANKERS / f"{base_name}.json").read_text())
    name = f"{base_name}-reader" if args.reader else base_name
    table = TABLES / f"{name}.npz"
    reading = None
    if args.reader:
        if extractive.reader_model() is None:
            parser.error("no answer model in qa/answering/models/; export one with "
                         "benchmarks/train_answer_model.py export")
        reading = extractive.Ranker(np.zeros(len(extractive.FEATURES) + 1, np.float32), 0.0,
                                    0.0, base=extractive.Ranker._parse(base))
    other_table = TABLES / f"{name}-other.npz"
    if args.reuse:
        t = dict(np.load(table))
        other = dict(np.load(other_table)) if reading else {}
    else:
        if not args.squad:
            parser.error("give the SQuAD 2.0 sample, or --reuse")
        with tempfile.TemporaryDirectory() as scratch:
            t = build_table(args.squad, Path(scratch), args.model, reading)
            other = other_documents_table(args.squad, Path(scratch), args.model, reading) \
                if reading else {}
        TABLES.mkdir(exist_ok=True)
        np.savez_compressed(table, **t)
        if reading:
            np.savez_compressed(other_table, **other)
    shipped = fit_and_report(t)
    if shipped["features"][-1] == extractive.READER:
        shipped["reader_threshold"], shipped["threshold"] = joint_thresholds(
            OUT_OF_FOLD, other, t, base, shipped)
        shipped["base"] = {k: base[k] for k in ("features", "weights", "none", "threshold",
                                                "l2", "fitted_on") if k in base}
    if base_name != "default" and not args.reader:  # a multilingual model: across languages
        # Such a question shares no terms with the passages: the same data, with
        # the term features blanked, fits its ranker. Its threshold is 0: the
        # tuning data holds no question in another language to set one.
        print(f"\n-- across languages: {', '.join(extractive.ACROSS)} only --")
        blank = [i for i, f in enumerate(extractive.FEATURES) if f not in extractive.ACROSS]
        across = dict(t, x=t["x"].copy())
        across["x"][:, blank] = 0.0
        shipped["across"] = {k: v for k, v in fit_and_report(across).items()
                             if k in ("weights", "none", "l2")} | {"threshold": 0.0}
    out = extractive.RANKERS / f"{name}.json"
    out.write_text(json.dumps(shipped) + "\n", encoding="utf-8")
    print(f"\nwrote {out.relative_to(ROOT)}:")
    for i, feature in enumerate(shipped["features"]):
        print(f"  {feature:<8} {shipped['weights'][i]:+8.3f}")
    print(f"  none     {shipped['none']:+8.3f}   threshold {shipped['threshold']:.2f}")

def native(args: argparse.Namespace) -> None:
    """Add per-language rankers, fitted on native questions, to the multilingual
    model's ranker file (its English weights and `across` stay)."""
    name = extractive.ranker_name(args.model)
    if name == "default":
        raise SystemExit("--native fits a multilingual model's rankers: add --model multilingual")
    path = extractive.RANKERS / f"{name}.json"
    shipped = json.loads(path.read_text(encoding="utf-8"))
    own_path, other_path = TABLES / f"{name}-native.npz", TABLES / f"{name}-native-other.npz"
    if args.reuse:
        own, other = dict(np.load(own_path)), dict(np.load(other_path))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            own, other = native_tables(args.native, Path(scratch), args.model)
        np.savez_compressed(own_path, **own)
        np.savez_compressed(other_path, **other)
    shipped["languages"] = fit_native(own, other, shipped, args.record)
    path.write_text(json.dumps(shipped) + "\n", encoding="utf-8")
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
