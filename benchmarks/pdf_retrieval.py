"""Long-PDF retrieval: qa against the LangChain tutorial pipeline, same run.

    pip install -e ".[bench]"
    python benchmarks/pdf_retrieval.py PATH/history_of_alexnet PATH/blockchain_solana [--k 5]

Each folder is a LlamaIndex labelled RAG dataset: source_files/ (one PDF, or
several PDF or text files, indexed together) and rag_dataset.json (query,
reference_contexts); the LangChain baseline runs on a one-PDF set only. A retrieved passage is a hit
when it lies inside a reference context: at least half of its 24-character
pieces (letters and digits only) occur in it. The reference text came from an
older PDF extractor, so exact matching is impossible, and comparing letters
only keeps line breaks and hyphenation from deciding the score. hit@k: some passage of the top k is a hit.
Baseline: pypdf pages -> RecursiveCharacterTextSplitter(1000, 200) ->
HuggingFaceEmbeddings (the same packaged model) -> FAISS similarity_search(k).
It also counts retrieved passages that contain a page header repeated across
pages, and for qa's answers (`ask`) the share whose sentence lies inside a
reference context (the same test), and the share abstained. These sets are held out: measure on them, never tune to them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from results import Table  # noqa: E402


def shingles(text: str, step: int = 1, n: int = 24) -> set[str]:
    """Character n-grams of the text's letters and digits only, so that line
    breaks, hyphenation and spacing (which differ between extractors) do not count."""
    letters = re.sub(r"[^a-z0-9]+", "", text.lower())
    return {letters[i:i + n] for i in range(0, max(0, len(letters) - n + 1), step)}


def inside(passage: str, contexts: list[set]) -> bool:
    mine = shingles(passage, step=8)
    return bool(mine) and any(len(mine & c) >= 0.5 * len(mine) for c in contexts)


def dataset(folder: Path) -> tuple[list[Path], list[tuple[str, list[set]]]]:
    """The set's source files (one PDF, or several PDF or text files) and its
    questions with their reference contexts as shingles."""
    files = sorted(f for f in (folder / "source_files").iterdir()
                   if f.suffix.lower() in (".pdf", ".txt", ".md"))
    examples = json.loads((folder / "rag_dataset.json").read_text())["examples"]
    return files, [(e["query"], [shingles(c) for c in e["reference_contexts"]])
                   for e in examples]


def headers(pdf: Path) -> set[str]:
    """Lines (digits masked) that start or end at least half of the pages (pypdf);
    none for a text file."""
    from pypdf import PdfReader

    if pdf.suffix.lower() != ".pdf":
        return set()

    pages = [p.extract_text() or "" for p in PdfReader(pdf).pages]
    edges: Counter[str] = Counter()
    for page in pages:
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        edges.update({re.sub(r"\d+", "#", line) for line in lines[:2] + lines[-2:]})
    return {line for line, n in edges.items() if n >= max(3, len(pages) // 2) and len(line) > 12}


def has_header(passage: str, repeated: set[str]) -> bool:
    masked = re.sub(r"\d+", "#", passage)
    return any(line in masked for line in repeated)


def score(questions, search, repeated: set[str]) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """hit@k over the questions, and how many passages held a repeated page header."""
    hits = dirty = 0
    for query, contexts in questions:
        found = search(query)
        hits += any(inside(text, contexts) for text in found)
        dirty += sum(has_header(text, repeated) for text in found)
    return hits / len(questions), dirty


def qa_hits(files: list[Path], questions, k: int, repeated: set[str], dump: Path | None = None
            ) -> tuple[float, int, float, float]:
    """hit@k, passages with a header, and of the answers `ask` gives: the share
    whose sentence lies in a reference context, and the share abstained."""
    from qa import Assistant

    with tempfile.TemporaryDirectory() as scratch:
        bot = Assistant.from_paths(files, Path(scratch) / "index", progress=False)
        hit, dirty = score(questions, lambda q: [s.text for s in bot.retrieve(q, k=k)],
                           repeated)
        answers = [(bot.ask(query), contexts) for query, contexts in questions]
        inside_context = sum(a.found and inside(a.text, c) for a, c in answers)
        abstained = sum(not a.found for a, _ in answers)
        if dump is not None:  # one line per question, to read the answers given
            with dump.open("a", encoding="utf-8") as out:
                for (query, _), (a, contexts) in zip(questions, answers):
                    out.write(json.dumps({"set": files[0].parent.parent.name, "question": query, "found": a.found,
                                          "sentence": a.text,
                                          "page": a.sources[0].page if a.sources else None, "in_context": a.found and
                                          inside(a.text, contexts)}, ensure_ascii=False) + "\n")
        return hit, dirty, inside_context / len(answers), abstained / len(answers)


def baseline_hits(pdf: Path, questions, k: int, repeated: set[str]) -> tuple[float, int]:
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pypdf import PdfReader

    from qa.embeddings import go_offline, packaged_model_path

    go_offline()
    pages = [Document(page_content=p.extract_text() or "", metadata={"page": i})
             for i, p in enumerate(PdfReader(pdf).pages)]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200) \
        .split_documents(pages)
    store = FAISS.from_documents(chunks, HuggingFaceEmbeddings(
        model_name=str(packaged_model_path())))
    return score(questions, lambda q: [d.page_content for d in store.similarity_search(q, k=k)],
                 repeated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    parser.add_argument("--qa-only", action="store_true", help="skip the LangChain baseline")
    parser.add_argument("--answers", type=Path, help="append qa's answers here (JSON lines)")
    parser.add_argument("--record", metavar="NAME", help="save the table as results/NAME.json")
    args = parser.parse_args()
    table = Table(args.record or "pdf", ["set", "questions", f"LangChain hit@{args.k}",
                                         f"qa hit@{args.k}", "passages with a page header "
                                         "(LangChain / qa)", "qa answer from a reference context",
                                         "qa abstained"])
    for folder in args.folders:
        files, questions = dataset(folder)
        questions = questions[:args.limit] if args.limit else questions
        repeated = set().union(*(headers(f) for f in files))
        one_pdf = len(files) == 1 and files[0].suffix.lower() == ".pdf"
        baseline = not args.qa_only and one_pdf  # the baseline reads one PDF
        base, base_dirty = baseline_hits(files[0], questions, args.k, repeated) if baseline \
            else (float("nan"), 0)
        ours, our_dirty, answered, abstained = qa_hits(files, questions, args.k, repeated,
                                                       args.answers)
        name = files[0].name if len(files) == 1 else f"{folder.name} ({len(files)} files)"
        table.add(name, len(questions), base if baseline else "not run", ours,
                  f"{base_dirty if baseline else '–'} / {our_dirty}", answered, abstained)
    if args.record:
        print(f"recorded {table.save()}")


if __name__ == "__main__":
    main()
