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
