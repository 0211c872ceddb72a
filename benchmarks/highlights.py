"""Page highlights: does "see it on page N" mark exactly the cited sentence?

    python benchmarks/highlights.py PATH/HistoryOfAlexnet.pdf PATH/BlockchainSolana.pdf

Every sentence qa stores for a PDF is looked up on its page as the page view
does (qa/documents/pages.py); the characters PDFium holds between the first
and the last marked index must read as the sentence (letters and digits,
lower case). A sentence that runs onto the next page is counted apart: only
its part on the first page can be marked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def check(pdf: Path) -> tuple[int, int, int, list[str]]:
    """(sentences, marked exactly, across a page end, examples of misses)."""
    import pypdfium2 as pdfium

    from qa.chunking import split_sentences
    from qa.documents import load
    from qa.documents.pages import _letters
    from qa.documents.structure import boundaries

    doc = load(pdf)
    document = pdfium.PdfDocument(str(pdf))
    pages = []
    for page in document:
        textpage = page.get_textpage()
        raw = textpage.get_text_range()
        pages.append((raw, *_letters(raw)))
        textpage.close()
    total = exact = across = 0
    misses: list[str] = []
    for span in split_sentences(doc.text, boundaries(doc.blocks)):
        number = doc.page_at(span.start)
        if number is None or number != doc.page_at(span.end - 1):
            across += 1
            continue
        wanted, _ = _letters(doc.text[span.start:span.end])
        if not wanted:
            continue
        total += 1
        raw, letters, where = pages[number - 1]
        at = letters.find(wanted)
        if at < 0:
            misses.append(f"p{number} not found: {doc.text[span.start:span.end][:60]!r}")
            continue
        first, last = where[at], where[at + len(wanted) - 1]
        # PDFium indexes count UTF-16 units: read the marked stretch back from them
        units = raw.encode("utf-16-le")
        end = (last + 1) * 2
        end += 2 if 0xD800 <= int.from_bytes(units[end - 2:end], "little") < 0xDC00 else 0
        marked = units[first * 2:end].decode("utf-16-le", "replace")
        if _letters(marked)[0] == wanted:
            exact += 1
        else:
            misses.append(f"p{number} marked {marked[:60]!r}")
    document.close()
    return total, exact, across, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdfs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| PDF | sentences on one page | marked exactly | across a page end |")
    print("|---|---|---|---|")
    for pdf in args.pdfs:
        total, exact, across, misses = check(pdf)
        print(f"| {pdf.name} | {total} | {exact} ({exact / max(1, total):.1%}) | {across} |")
        for miss in misses[:5]:
            print(f"  {miss}", file=sys.stderr)


if __name__ == "__main__":
    main()
