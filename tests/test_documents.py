import pytest
from conftest import make_pdf

from qa.documents import iter_files, load, normalize
from qa.errors import DocumentError


def test_normalize_keeps_length():
    text = "Russia\u2019s \u201cplan\u201d \u2013 MOSCOW\u00a0now"
    assert normalize(text) == "Russia's \"plan\" - MOSCOW now"
    assert len(normalize(text)) == len(text)


def test_html_keeps_visible_text_only(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>T</title><style>p{color:red}</style>"
                    "<script>alert('x')</script></head><body><p>Hello <b>world</b>.</p>"
                    "<img src='http://example.com/x.png'><p>Second para.</p></body></html>")
    doc = load(page)
    assert doc.text == "Hello world.\n\nSecond para."


def test_pdf_pages_are_kept(tmp_path):
    pdf = tmp_path / "two.pdf"
    pdf.write_bytes(make_pdf(["The first page talks about apples.",
                              "The second page says the vault code is 4417."]))
    doc = load(pdf)
    at = doc.text.index("vault code")
    assert doc.page_at(at) == 2 and doc.page_at(0) == 1


def test_legacy_encoding_is_decoded(tmp_path):
    file = tmp_path / "old.txt"
    file.write_bytes("Caf\u00e9 cr\u00e8me \u2013 \u201cquoted\u201d".encode("cp1252"))
    assert load(file).text == "Caf\u00e9 cr\u00e8me \u2013 \u201cquoted\u201d"


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n ", "empty"),
    ("binary.txt", bytes(range(256)) * 8, "binary"),
    ("notes.docx", b"PK\x03\x04", "not a valid Office file"),
    ("broken.pdf", b"%PDF-1.4 garbage", "cannot read this PDF"),
    ("scan.pdf", make_pdf([""]), "no text layer"),
])
def test_bad_files_get_a_clear_error(tmp_path, name, content, message):
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(DocumentError, match=message) as info:
        load(file)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_folder_walk_reports_missing_and_survives_symlink_loop(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("A.")
    (tmp_path / "docs" / "b.bin").write_text("skip")
    (tmp_path / "docs" / "loop").symlink_to(tmp_path / "docs")
    found = list(iter_files([tmp_path / "docs", tmp_path / "missing.txt"]))
    assert found[0] == (tmp_path / "docs" / "a.txt").resolve()
    assert isinstance(found[1], DocumentError) and "1 .bin not read" in str(found[1])
    assert isinstance(found[2], DocumentError) and "no such file" in str(found[2])
    assert len(found) == 3


def test_pdf_running_headers_and_page_numbers_are_dropped(tmp_path):
    from conftest import make_pdf

    pages = [["ACME Annual Report 2025 - Confidential", f"Body text of page {n} says "
              f"the warehouse in Lyon holds {n * 10} crates.", f"Page {n} of 4"]
             for n in range(1, 5)]
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(pages))
    doc = load(path)
    assert "Confidential" not in doc.text and "of 4" not in doc.text
    assert doc.text.count("warehouse in Lyon") == 4
    third = doc.text.index("holds 30 crates")
    assert doc.page_at(third) == 3


def test_pdf_soft_hyphens_wraps_and_ligatures_are_joined():
    from qa.documents.pdf import _join, _lines

    raw = "A block\ufffe\r\nchain keeps a ledger that is \r\nshared.\r\nThe \ufb01le is signed."
    lines = _lines(raw)
    assert _join([text for text, _, _ in lines]) == \
        "A blockchain keeps a ledger that is shared.\nThe file is signed."
    # each line's first PDFium index and its length in PDFium indexes (the "\\r\\n" between
    # lines takes two indexes, the ligature one)
    assert [(start, count) for _, start, count in lines] == [(0, 8), (10, 29), (41, 7), (50, 18)]


def test_invisible_characters_and_decomposed_letters_do_not_cut_words(tmp_path, settings,
                                                                       embedder, dev_set):
    """Soft hyphens (as browsers and e-books hyphenate), zero-width spaces and
    NFD letters: the article reads as itself and the dev set is answered."""
    import re
    import unicodedata

    from qa import Assistant
    from qa.assistant import BUNDLED

    original = BUNDLED.read_text(encoding="utf-8")
    soft = re.sub(r"\w{7,}", lambda m: m.group(0)[:3] + "\u00ad" + m.group(0)[3:], original)
    soft = soft.replace(" the ", " the\u200b ")
    path = tmp_path / "soft.txt"
    path.write_text(soft, encoding="utf-8")
    assert load(path).text == original
    nfd = tmp_path / "ecole.txt"
    nfd.write_text(unicodedata.normalize("NFD", "L'école de Pristina a rouvert en mars."),
                   encoding="utf-8")
    assert load(nfd).text == "L'école de Pristina a rouvert en mars."
    bot = Assistant.from_paths([path], tmp_path / "index", settings, embedder)
    right = 0
    for item in dev_set:
        answer = bot.ask(item["question"])
        gold = item.get("answers") or []
        right += (answer.found == bool(gold)) and (not gold or any(
            g.lower() in answer.text.lower() for g in gold))
    assert right >= 15
    asked = bot.ask("What did Botsan\u00ad-Khar\u00adchenko warn?")
    assert "humanitarian catastrophe" in asked.text
