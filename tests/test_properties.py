"""Property tests: the splitter never loses text, loaders never crash."""

import tempfile
from pathlib import Path

from conftest import make_pdf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.chunking import chunk_document, split_sentences
from qa.documents import Document, load
from qa.errors import DocumentError

WORDS = st.sampled_from(["U.S.", "Dr.", "Kosovo", "said", "3.5", "e.g.", "\u201cYes.\u201d",
                         "Botsan-Kharchenko", "!", "?", ".", "...", "\n", "\n\n", " ", "\u00a0",
                         "\u05e9\u05dc\u05d5\u05dd", "\U0001f600", "a", "(b)", "c;"])
TEXTS = st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=80).map(" ".join))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_sentences_map_back_and_lose_nothing(text):
    spans = split_sentences(text)
    covered = set()
    previous_end = 0
    for span in spans:
        piece = text[span.start:span.end]
        assert piece and piece == piece.strip()
        assert span.start >= previous_end  # in order, no overlap
        previous_end = span.end
        covered.update(range(span.start, span.end))
    lost = [ch for i, ch in enumerate(text) if i not in covered and not ch.isspace()]
    assert lost == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS, st.integers(min_value=20, max_value=400), st.integers(min_value=0, max_value=2))
def test_chunks_are_exact_slices(text, size, overlap):
    doc = Document(text=text, source="x.txt", path="/x.txt")
    for chunk in chunk_document(doc, size, overlap):
        assert chunk.text == text[chunk.start:chunk.end]
        assert all(chunk.start <= s.start < s.end <= chunk.end for s in chunk.sentences)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from([".txt", ".md", ".html", ".pdf"]))
def test_loaders_never_crash_on_arbitrary_bytes(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"f{suffix}"
        path.write_bytes(data)
        try:
            doc = load(path)
        except DocumentError as exc:
            assert path.name in str(exc) and "\n" not in str(exc)
        else:
            assert doc.text.strip()


PDF = make_pdf(["The bakery sold 18,000 croissants in March.", "Second page text."])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.integers(0, 255)), max_size=12),
       st.integers(min_value=20, max_value=len(PDF)))
def test_pdf_loader_never_crashes_on_damaged_pdfs(flips, cut):
    """Real PDFs with bytes flipped and the end cut off, so the damage reaches
    pypdf's parser (random bytes alone stop at the missing %PDF header)."""
    data = bytearray(PDF[:cut])
    for at, value in flips:
        if at < len(data):
            data[at] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.pdf"
        path.write_bytes(bytes(data))
        try:
            doc = load(path)
        except DocumentError as exc:
            assert "damaged.pdf" in str(exc) and "\n" not in str(exc)
        else:
            assert doc.text.strip() and doc.page_starts


# Patterns used only at one position (`match`), each after a bounded check.
_MATCHED_AT = {"qa.answering.quantities._AFTER", "qa.chunking._LABEL", "qa.chunking._MONTH_START"}
# Patterns over a question, which is at most 2,000 characters with every run
# of spaces made one (Assistant._clean), or over a bounded slice.
_QUESTIONS_ONLY = ("qa.answering.intent.", "qa.naming.")
_SLICED = {"qa.documents.layout._DOT_LEADERS"}  # a line's last 120 characters


def test_no_pattern_backtracks_worse_than_linearly_over_document_text():
    """Issue 35 item 2's review: every module-level pattern in qa, on runs of
    spaces, dots, digits, letters and marks, costs at most ~2x when its input
    doubles (searched; or matched at the start where it is only matched)."""
    import gc
    import importlib
    import pkgutil
    import re
    import time

    import qa

    gc.disable()  # collections land at random in the timings
    units = [" ", "a", "A", "1", ".", ". ", "1.", "1,", "a ", "A. ", "-", "#", "|", "*", "\n",
             " \n", "\u4e2d", "(", "[", ":", "x@", "a'"]
    slow = []
    for info in pkgutil.walk_packages(qa.__path__, "qa."):
        module = importlib.import_module(info.name)
        for name, pattern in vars(module).items():
            full = f"{info.name}.{name}"
            if not isinstance(pattern, re.Pattern) or full in _SLICED \
                    or full.startswith(_QUESTIONS_ONLY) or pattern.pattern.__class__ is not str:
                continue
            use = pattern.match if full in _MATCHED_AT else \
                (lambda s, p=pattern: sum(1 for _ in p.finditer(s)))
            for unit in units:
                for tail in ("", "!"):
                    def cost(n: int) -> float:
                        text = unit * (n // len(unit)) + tail
                        started = time.perf_counter()
                        use(text)
                        return time.perf_counter() - started
                    small = cost(2_000)
                    if small < 0.002:
                        continue  # too fast to tell from noise
                    small = min(small, *(cost(2_000) for _ in range(2)))
                    big = min(cost(4_000) for _ in range(3))
                    for _ in range(5):  # a noisy sample is measured again, in alternation
                        if big <= 3 * small:
                            break
                        small, big = min(small, cost(2_000)), min(big, cost(4_000))
                    if big > 3 * small:
                        slow.append((full, unit, tail, round(small, 4), round(big, 4)))
    gc.enable()
    assert not slow
