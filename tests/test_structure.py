"""Documents read as a person reads them (issue 27): headings, FAQ question
lines, tables of contents, navigation and figure text are never the answer,
the text under them is; a table row answers with its header row; the kinds
and section paths are kept in the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import pdf_file

from qa import Assistant
from qa.chunking import Span
from qa.documents import load
from qa.documents.structure import NOT_ANSWERS, Block, kinds, sections

FAQ_HTML = """<html><head><title>Clinic FAQ</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/faq">FAQ</a></li>
<li><a href="/contact">How does the virus spread? Contact us</a></li></ul></nav>
<h1>Questions about the clinic</h1>
<h2>How does the virus spread?</h2>
<p>It passes from person to person in small droplets when people cough or sneeze.</p>
<p><strong>Can I bring my dog to the clinic?</strong></p>
<p>Dogs on a lead are welcome in the waiting garden, but not inside.</p>
<table><tr><th>Ward</th><th>Head nurse</th></tr>
<tr><td>Ward 7</td><td>Ana Silva</td></tr><tr><td>Ward 9</td><td>Pedro Costa</td></tr></table>
</body></html>"""

HELP_MD = """# Help centre

- [Getting started](#getting-started)
- [How do I reset my password?](#reset)
- [Billing](#billing)

## How do I reset my password?
Open Settings, choose Security and press the orange Reset button; a link arrives by e-mail.

## Billing
Invoices are sent on the first working day of each month.

| Plan | Price |
|------|-------|
| Basic | 4 euros a month |
| Team | 12 euros a month |
"""


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Who leads which team", level=1)
    document.add_paragraph("Each team has one lead, chosen every spring by its members.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Team", "Lead"), ("Support", "Tomas Brandt"),
                                       ("Sales", "Ines Maier")]):
        row.cells[0].text, row.cells[1].text = cells
    document.save(path)


def make_xlsx(path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Rooms"
    for row in (["Room", "Floor", "Capacity"], ["Quarry", 2, 22], ["Harbour", 5, 8]):
        book.active.append(row)
    book.save(path)


def pdf_bytes(stream: str) -> bytes:
    """A one-page PDF with the given content stream (Helvetica as F1, bold as F2)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
               "<< /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>",
               f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>"]
    return pdf_file(objects)


def text_at(font: str, size: float, x: float, y: float, line: str) -> str:
    return f"BT /{font} {size} Tf {x} {y} Td ({line}) Tj ET"


def table_pdf() -> bytes:
    """A ruled table under a "Table 1." caption, between two paragraphs."""
    cells = [("Ship", "Captain", "Home port"), ("Fram", "Otto Sverdrup", "Christiania"),
             ("Gjoa", "Roald Amundsen", "Kristiansand")]
    shown = [text_at("F1", 11, 72, 720, "The fleet sails the coast all year round."),
             text_at("F1", 11, 72, 690, "Table 1. Ships and their captains.")]
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            x, y = 72 + 150 * c, 640 - 25 * r
            shown.append(f"{x} {y - 8} 150 25 re S")
            shown.append(text_at("F2" if r == 0 else "F1", 11, x + 5, y, cell))
    shown.append(text_at("F1", 11, 72, 540, "Every ship carries a doctor on long voyages."))
    return pdf_bytes(" ".join(shown))


def structured_pdf() -> bytes:
    """A page with a 20 pt title, a numbered 12 pt bold heading, body text in
    11 pt, and a bar chart (a drawn frame) whose labels are 8 pt text."""
    text = [("F1", 20, 72, 720, "Harbour Lighthouse Report"),
            ("F2", 12, 72, 690, "2.1 History of the lighthouse"),
            ("F1", 11, 72, 670, "The lighthouse was built in 1911 by the harbour board."),
            ("F1", 11, 72, 655, "Its lamp burned whale oil until the station was electrified."),
            ("F1", 11, 72, 640, "The keeper lived in the cottage beside the tower."),
            ("F1", 8, 110, 420, "1911"), ("F1", 8, 160, 420, "1920"),
            ("F1", 8, 210, 420, "1950"), ("F1", 8, 90, 450, "12"),
            ("F1", 8, 90, 500, "24"), ("F1", 8, 90, 550, "36"),
            ("F1", 11, 72, 380, "Fig. 1. Ships counted by the keeper each year.")]
    shown = [text_at(*item) for item in text]
    return pdf_bytes("q 100 410 200 170 re S Q " + " ".join(shown))


FILES = {
    "clinic.html": lambda p: p.write_text(FAQ_HTML, encoding="utf-8"),
    "help.md": lambda p: p.write_text(HELP_MD, encoding="utf-8"),
    "teams.docx": make_docx,
    "rooms.xlsx": make_xlsx,
    "vessels.csv": lambda p: p.write_text("Vessel,Captain\nNordlys,Kari Holm\nPolarlys,"
                                          "Ivar Berg\n", encoding="utf-8"),
    "lighthouse.pdf": lambda p: p.write_bytes(structured_pdf()),
    "fleet.pdf": lambda p: p.write_bytes(table_pdf()),
}


@pytest.fixture(scope="module")
def library(tmp_path_factory, settings, embedder):
    folder = tmp_path_factory.mktemp("structure")
    for name, build in FILES.items():
        build(folder / name)
    return Assistant.from_paths([folder], folder.parent / "structure-index", settings, embedder)


def kind_of(bot: Assistant, answer) -> str:  # type: ignore[no-untyped-def]
    """The block kind of the answer's first sentence, as stored in the index."""
    store = bot.store.latest()
    source = answer.sources[0]
    rows = [i for i, (doc, span) in enumerate(zip(store.sentence_doc, store.sentence_spans))
            if doc == source.path and span.start <= source.start < span.end]
    return store.sentence_kind[rows[0]]


# question, file, text the answer holds, text it must not be
ANSWERS = [
    ("How does the virus spread?", "clinic.html", "droplets", "How does the virus spread?"),
    ("Can I bring my dog to the clinic?", "clinic.html", "on a lead", "Can I bring"),
    ("How do I reset my password?", "help.md", "orange Reset button", "How do I reset"),
    ("When was the lighthouse built?", "lighthouse.pdf", "built in 1911", "1920"),
]


@pytest.mark.parametrize("question, name, expected, heading", ANSWERS,
                         ids=[a[1] + ":" + a[0] for a in ANSWERS])
def test_the_text_under_a_heading_answers_not_the_heading(library, question, name, expected,
                                                          heading):
    answer = library.ask(question)
    assert answer.found and answer.sources[0].source == name, answer.text
    assert expected in answer.text and heading not in answer.text, answer.text
    assert kind_of(library, answer) not in NOT_ANSWERS


# question, file, the row as answered (with its header row)
ROWS = [
    ("Who leads the Support team?", "teams.docx", "Team: Support; Lead: Tomas Brandt."),
    ("Which floor is the Quarry room on?", "rooms.xlsx", "Room: Quarry; Floor: 2; Capacity: 22."),
    ("Who is the captain of the Nordlys?", "vessels.csv", "Vessel: Nordlys; Captain: Kari Holm."),
    ("Who is the head nurse of Ward 7?", "clinic.html", "Ward: Ward 7; Head nurse: Ana Silva."),
    ("How much does the Team plan cost?", "help.md", "Plan: Team; Price: 12 euros a month."),
    ("Who is the captain of the Gjoa?", "fleet.pdf",
     "Ship: Gjoa; Captain: Roald Amundsen; Home port: Kristiansand."),
]


@pytest.mark.parametrize("question, name, row", ROWS, ids=[r[1] for r in ROWS])
def test_a_table_row_answers_with_its_header_row(library, question, name, row):
    answer = library.ask(question)
    assert answer.found and answer.sources[0].source == name, answer.text
    assert answer.text == row
    assert kind_of(library, answer) == "row"


def test_kinds_are_counted_per_document_and_kept_when_the_index_is_loaded(library, settings,
                                                                          embedder):
    counts = {d["source"]: d["sentences"] for d in library.documents()}
    assert counts["clinic.html"]["nav"] >= 1 and counts["clinic.html"]["question"] == 2
    assert counts["clinic.html"]["heading"] == 1 and counts["clinic.html"]["row"] == 2
    assert counts["help.md"]["toc"] >= 1 and counts["help.md"]["question"] == 1
    assert counts["teams.docx"]["heading"] == 1 and counts["teams.docx"]["row"] == 2
    assert counts["lighthouse.pdf"]["heading"] == 2 and counts["lighthouse.pdf"]["figure"] >= 1
    assert counts["lighthouse.pdf"]["caption"] == 1
    again = Assistant.load(library.index_dir, settings, embedder)
    assert {d["source"]: d["sentences"] for d in again.documents()} == counts
    store = again.store.latest()
    kinds_loaded = dict(zip((store.document(d).text[s.start:s.end] for d, s in
                             zip(store.sentence_doc, store.sentence_spans)), store.sentence_kind))
    assert kinds_loaded["2.1 History of the lighthouse"] == "heading"


def test_pdf_figure_labels_are_figure_text_and_sentences_know_their_section(tmp_path):
    path = tmp_path / "lighthouse.pdf"
    path.write_bytes(structured_pdf())
    doc = load(path)
    text = {b.kind: [] for b in doc.blocks}
    for b in doc.blocks:
        text[b.kind].append(doc.text[b.start:b.end])
    assert text["heading"] == ["Harbour Lighthouse Report", "2.1 History of the lighthouse"]
    assert all(label in " ".join(text["figure"]) for label in ("1911", "1920", "1950", "36"))
    assert text["caption"] == ["Fig. 1. Ships counted by the keeper each year."]
    at = doc.text.index("The keeper lived")
    assert sections(doc.blocks, [Span(at, at + 5)]) == \
        ["Harbour Lighthouse Report > 2.1 History of the lighthouse"]


def test_section_paths_nest_by_level_and_question_lines_head_their_answers():
    blocks = [Block(0, 5, "heading", 1, "Guide"), Block(10, 15, "heading", 2, "Setup"),
              Block(30, 35, "question", 7, "Why?"), Block(50, 55, "heading", 2, "Use")]
    spans = [Span(6, 9), Span(20, 25), Span(40, 45), Span(60, 65)]
    assert sections(blocks, spans) == ["Guide", "Guide > Setup", "Guide > Setup > Why?",
                                       "Guide > Use"]
    assert kinds(blocks, [Span(0, 5), Span(31, 33), Span(60, 65)]) == \
        ["heading", "question", "body"]


def test_a_question_that_names_a_document_is_answered_from_it(tmp_path, settings, embedder):
    """Two filings that say the same thing of different companies: "NVIDIA's
    tax rate" comes from NVIDIA's file, "the Apple 10-Q" from Apple's, and a
    question naming neither is answered from either."""
    filing = ("Quarterly report on form 10-Q.\n\nRevenue grew in the quarter as data centres "
              "bought more chips.\n\nThe effective tax rate was {rate} for the quarter.\n")
    (tmp_path / "nvidia-10q.txt").write_text(filing.format(rate="11.9%"), encoding="utf-8")
    (tmp_path / "AppleQ3_10-Q.txt").write_text(filing.format(rate="16.2%"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("Jensen Huang is NVIDIA's chief executive and one of "
                                        "its founders.\n", encoding="utf-8")
    bot = Assistant.from_paths([tmp_path], tmp_path / "index", settings, embedder)
    nvidia = bot.ask("What was NVIDIA's effective tax rate?")
    apple = bot.ask("What was the effective tax rate in the Apple 10-Q?")
    assert "11.9%" in nvidia.text and nvidia.sources[0].source == "nvidia-10q.txt"
    assert "16.2%" in apple.text and apple.sources[0].source == "AppleQ3_10-Q.txt"
    # A named document without the answer does not stop an answer from the others.
    chief = bot.ask("Who is NVIDIA's chief executive?")
    assert "Jensen Huang" in chief.text and chief.sources[0].source == "notes.txt"


def test_names_are_file_name_and_title_words_few_documents_share():
    from qa.naming import name_terms, named

    assert {"appl", "q3", "10"} <= name_terms("AppleQ3_10-Q.pdf")
    files = {"/a": {"source": "apple-10q.pdf"}, "/n": {"source": "nvidia-10q.pdf"},
             "/k": {"source": "news.txt", "title": "Russia warns U.S. and EU over Kosovo"}}
    assert named("What was NVIDIA's tax rate?", files) == {"/n"}
    assert named("What does the 10-Q say?", files) == set()  # two of three: not distinctive
    assert named("Why did Russia warn the EU over Kosovo?", files) == {"/k"}
    assert named("Why did Russia warn the EU?", files) == set()  # 2 of its 6 title words
    assert named("What was NVIDIA's tax rate?", {"/n": files["/n"]}) == set()


def test_a_table_is_not_taken_for_another_language(tmp_path, settings, embedder):
    """Issue 29 item 4: rows of field names hold no English function words; an
    English question about them was told it is "in another language"."""
    (tmp_path / "rooms.csv").write_text("room,floor,capacity,projector\nQuarry,2,22,yes\n"
                                        "Harbour,5,8,no\nLoft,3,12,yes\n", encoding="utf-8")
    (tmp_path / "crew.txt").write_text("Crew\n\nKari Holm, Ivar Berg, Otto Sverdrup, Roald "
                                       "Amundsen, Hjalmar Johansen\n", encoding="utf-8")
    bot = Assistant.from_paths([tmp_path], tmp_path / "index", settings, embedder)
    assert "another language" not in bot.ask("Which sailors are in the ship's crew?").note
    for question in ("How many people fit in the Harbour room?", "Does the Loft have a projector?",
                     "Which floor is the Quarry room on?"):
        assert "another language" not in bot.ask(question).note
    assert bot.ask("Which floor is the Quarry room on?").text == \
        "room: Quarry; floor: 2; capacity: 22; projector: yes."
    german = bot.ask("Wie viele Personen passen in den Raum Harbour?")  # still told apart
    assert german.found or "another language" in german.note


def test_readers_are_linear_in_long_lines_paragraphs_and_nesting():
    """Issue 35 items 2 and 3: "# a", 2,000 spaces and "b" took 23 s (a heading
    pattern backtracked cubically); <p>a</p> x 100,000 took 141 s and 20,000
    nested <h2> 46 s (the HTML reader joined its text and scanned its open
    tags per paragraph)."""
    from conftest import grows_linearly

    from qa.documents.structure import markdown_blocks
    from qa.documents.text import html_text, markdown

    def heading(n: int) -> str:
        return "# a" + " " * n + "b\n" + ("# Title ##\n" if n else "")

    grows_linearly(markdown_blocks, heading, 1_000)
    grows_linearly(markdown, heading, 100_000)  # the pipe-table check reads every line too
    assert [b.title for b in markdown_blocks(heading(3))] == ["a b", "Title"]
    grows_linearly(html_text, lambda n: "<p>a</p>" * n, 40_000)
    grows_linearly(html_text, lambda n: "<h2>x" * n, 10_000)
    text, blocks = html_text("<nav><a href=1>A</a></nav><h2>T<h3>U</h3></h2><p>Body.</p>")
    assert [(b.kind, text[b.start:b.end]) for b in blocks] == [
        ("nav", "A"), ("heading", "T"), ("heading", "U")]


def test_the_table_finder_is_bounded(tmp_path, monkeypatch):
    """Issue 35 item 8: a 7 kB page ruled as a 120 x 120 grid under a "Table 1"
    caption took 5-18 s in pdfplumber's table finder. Such a page keeps its
    plain lines; a real table is still read with its header row."""
    import pdfplumber

    from qa.documents import layout

    calls = []
    real = pdfplumber.page.Page.find_tables
    monkeypatch.setattr(pdfplumber.page.Page, "find_tables",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    lines = []
    for i in range(121):
        lines.append(f"{50 + 4 * i} 100 m {50 + 4 * i} 580 l S 50 {100 + 4 * i} m 530 "
                     f"{100 + 4 * i} l S")
    grid = tmp_path / "grid.pdf"
    grid.write_bytes(pdf_bytes(text_at("F1", 11, 72, 700, "Table 1. A ruled grid.")
                               + " " + " ".join(lines)))
    assert "Table 1. A ruled grid." in load(grid).text and calls == []
    ships = tmp_path / "ships.pdf"
    ships.write_bytes(table_pdf())
    assert "Captain: Otto Sverdrup" in load(ships).text and calls == [1]
    monkeypatch.setattr(layout, "MAX_TABLE_SECONDS", -1.0)  # past the time bound: plain lines
    assert "Captain: Otto Sverdrup" not in load(ships).text and calls == [1]


def test_a_page_whose_drawing_the_table_finder_cannot_read_keeps_its_text(tmp_path):
    """05-lion-ancient-dna.pdf (a curve drawn on a page with a "Table 1"
    caption) could not be read at all: merge_edges raised KeyError on the
    curve's edges. The page's tables are skipped; the document is read, and a
    page whose table finder fails on anything keeps its plain lines."""
    from unittest import mock

    curve = "q 100 300 m 150 420 220 250 300 380 c S Q"
    drawn = tmp_path / "drawn.pdf"
    drawn.write_bytes(pdf_bytes(text_at("F1", 11, 72, 700, "Table 1. Lions sampled by age.")
                                + " " + curve + " " +
                                text_at("F1", 11, 72, 200, "The cave lion lived in Europe.")))
    assert "The cave lion lived in Europe." in load(drawn).text
    ships = tmp_path / "ships.pdf"
    ships.write_bytes(table_pdf())
    with mock.patch("pdfplumber.page.Page.find_tables", side_effect=ValueError("bad drawing")):
        assert "Every ship carries a doctor" in load(ships).text


NUMBERED_LINES = [
    "The first network was small and fast, with few weights in all, respectively. ",
    "3) ZFNet / Clarifai (2013)",
    "In 2013, Matthew Zeiler won the contest with a deeper network. ",
    "It used smaller filters in its first layer.",
    "5) VGGNET (2014) ",
    "The Visual Geometry Group was the runner up of the 2014 contest.",
    "A. Review on GAN",
    "The concept of generative models started a long time before.",
    "C. When and where to apply deep learning",
    "Deep learning is used where machine intelligence would be useful.",
    "IV. ADVANCED TRAINING TECHNIQUES",
    "Training deep networks needs careful initialization.",
    "B. Variational auto encoders (VAEs) ",  # wraps, in sentence case: shorter than the next
    "There are some limitations of using simple generative adversarial networks for images.",
    "The shopping list for the lab party:",
    "1. Apples",
    "2. Pears",
    "3. Plums",
]
HEADINGS = ["3) ZFNet / Clarifai (2013)", "5) VGGNET (2014)", "A. Review on GAN",
            "C. When and where to apply deep learning", "IV. ADVANCED TRAINING TECHNIQUES",
            "B. Variational auto encoders (VAEs)"]


@pytest.mark.parametrize("suffix", [".txt", ".md", ".pdf"])
def test_numbered_and_lettered_headings_on_their_own_line_are_headings(tmp_path, suffix):
    """Issue 37 item 5: "5) VGGNET (2014)" on its own line heads the text
    under it, in PDF, text and Markdown, and is never the start of the next
    sentence; a numbered list stays a list."""
    from conftest import make_pdf

    path = tmp_path / f"nets{suffix}"
    if suffix == ".pdf":
        path.write_bytes(make_pdf([NUMBERED_LINES]))
    else:
        path.write_text("\n".join(line.rstrip() for line in NUMBERED_LINES) + "\n")
    doc = load(path)
    headings = [" ".join(doc.text[b.start:b.end].split()) for b in doc.blocks
                if b.kind == "heading"]
    if suffix != ".pdf":  # a PDF's plain numbered lines in the body's font are for the
        # PDF rules below; only "IV." (roman) is always a heading there
        assert headings == HEADINGS
    from qa.chunking import chunk_document

    sentences = list(dict.fromkeys(" ".join(doc.text[s.start:s.end].split())
                                   for chunk in chunk_document(doc) for s in chunk.sentences))
    for heading in HEADINGS:
        assert heading in sentences, (heading, sentences)
    assert not any(s.startswith(("3)", "5)", "A.", "B.", "C.", "IV.")) and s not in HEADINGS
                   for s in sentences)
    assert "1. Apples" not in headings and "3. Plums" not in headings


ROOMS = [("Room", "Floor", "Capacity", "Projector"), ("Lighthouse", "3", "12", "yes"),
         ("Quarry", "2", "8", "no"), ("Harbour", "1", "20", "yes"), ("Orchard", "4", "6", "yes"),
         ("Summit", "5", "30", "no")]
TEAMS = [("Team", "Lead", "City", "Size"), ("Support", "Tomas Brandt", "Porto", "9"),
         ("Sales", "Ines Maier", "Lyon", "14"), ("Research", "Kofi Mensah", "Accra", "5"),
         ("Legal", "Sara Lind", "Porto", "3")]
PRODUCTS = [("Product", "Price", "Colour"), ("Kettle", "39 euros", "red"),
            ("Toaster", "25 euros", "white"), ("Blender", "59 euros", "black"),
            ("Grinder", "45 euros", "white")]


def write_tables(folder: Path) -> None:
    import docx
    import openpyxl

    (folder / "rooms.csv").write_text("\n".join(",".join(r) for r in ROOMS) + "\n")
    book = openpyxl.Workbook()
    for row in TEAMS:
        book.active.append([int(c) if c.isdigit() else c for c in row])
    book.save(folder / "teams.xlsx")
    document = docx.Document()
    document.add_paragraph("The shop's small kitchen machines, with their prices this winter.")
    table = document.add_table(rows=len(PRODUCTS), cols=3)
    for row, cells in zip(table.rows, PRODUCTS):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    document.save(folder / "products.docx")
    annex = [ROOMS[0], ("Belfry", "3", "16", "yes"), ("Granary", "2", "8", "no"),
             ("Cellar", "0", "40", "no")]
    html = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in annex[1:])
    head = "".join(f"<th>{c}</th>" for c in annex[0])
    (folder / "annex.html").write_text(
        f"<html><body><h1>Annex rooms</h1><p>The annex has its own rooms.</p><table><tr>{head}"
        f"</tr>{html}</table></body></html>")


# question, file, the row's key, the short answer
LOOKUPS = [
    ("What is the capacity of the Quarry room?", "rooms.csv", "Quarry", "8"),
    ("Which floor is the Orchard room on?", "rooms.csv", "Orchard", "4"),
    ("Does the Summit room have a projector?", "rooms.csv", "Summit", "no"),
    ("Which room is on floor 1?", "rooms.csv", "Harbour", "Harbour"),
    ("Who is the lead of the Research team?", "teams.xlsx", "Research", "Kofi Mensah"),
    ("In which city is the Legal team?", "teams.xlsx", "Legal", "Porto"),
    ("What is the price of the Blender?", "products.docx", "Blender", "59 euros"),
    ("What colour is the Kettle?", "products.docx", "Kettle", "red"),
    ("What is the capacity of the Granary room?", "annex.html", "Granary", "8"),
    ("Which floor is the Belfry on?", "annex.html", "Belfry", "3"),
]


@pytest.fixture(scope="module")
def tables(tmp_path_factory, settings, embedder):
    folder = tmp_path_factory.mktemp("tables")
    write_tables(folder)
    return Assistant.from_paths([folder], folder.parent / "tables-index", settings, embedder)


@pytest.mark.parametrize("question, name, key, short", LOOKUPS, ids=[q for q, *_ in LOOKUPS])
def test_a_question_that_names_a_rows_key_is_answered_from_that_row(tables, question, name,
                                                                     key, short):
    """Issue 37 item 6: over CSV, xlsx, docx and HTML tables, the row whose
    key the question names answers, its named column's cell marked."""
    answer = tables.ask(question)
    assert answer.found and answer.sources[0].source == name, answer.text
    cells = dict(part.split(": ", 1) for part in answer.text.rstrip(".").split("; "))
    assert key in cells.values(), answer.text
    assert answer.span and answer.text[answer.span[0]:answer.span[1]] == short


def test_a_key_two_rows_share_is_no_lookup(tables):
    """"Porto" is the city of two teams: no row is named, so no cell is marked
    as if one were."""
    answer = tables.ask("What is the size of the Porto team?")
    assert not (answer.found and answer.span and answer.text[slice(*answer.span)] in ("9", "3"))


def test_a_pdfs_title_is_its_first_pages_top_heading(tmp_path):
    """HistoryOfAlexnet.pdf gives its abstract before its title, and its
    digest was titled "A. Types of DL approaches:" (the first heading in
    reading order). The title is the first page's largest heading."""
    from qa.naming import title

    page = [("F1", 10, 72, 740, "Abstract. We survey the tidal mills of the Velde estuary."),
            ("F2", 12, 72, 700, "A. Types of mills"),
            ("F1", 10, 72, 680, "Some mills store the tide behind a dam and grind as it falls."),
            ("F1", 20, 72, 640, "The Tidal Mills of Velde"),
            ("F1", 10, 72, 610, "The estuary has a tidal range of five metres, among the largest."),
            ("F1", 10, 72, 595, "Its eleven mills were built between 1620 and 1780 for grain.")]
    path = tmp_path / "mills.pdf"
    path.write_bytes(pdf_bytes(" ".join(text_at(*line) for line in page)))
    assert title(load(path)) == "The Tidal Mills of Velde"


def test_a_pdfs_title_set_large_by_its_text_matrix_and_wrapped_is_read_whole(tmp_path):
    """Issue 38 item 1: some PDFs set every font at 1 pt and scale it by the
    text matrix (papers 02, 05 and 08 of the tuning set), so their 24 pt
    title read as body text; a title wrapped over three lines was cut to its
    first, and a banner in the same type above it ("Research Article") was
    taken for it. The byline under it gives the authors."""
    from qa.documents.structure import heading_title
    from qa.naming import title
    from qa.overview import authors

    def scaled(size: float, y: float, line: str) -> str:  # a 1 pt font, scaled by the page
        return f"q {size} 0 0 {size} 72 {y} cm BT /F1 1 Tf 0 0 Td ({line}) Tj ET Q"

    page = [scaled(24, 760, "Research Article"),
            scaled(24, 700, "The tidal mills of the Velde estuary and"),
            scaled(24, 672, "the sandbanks they shaped over three"),
            scaled(24, 644, "centuries of grinding grain"),
            scaled(11, 610, "Ana Silva1*, Tom van Berg2"),
            scaled(11, 596, "and Kari Holm1"),
            scaled(9, 580, "1 Harbour University, Velde; 2 Estuary Institute, Nordby"),
            scaled(10, 560, "The estuary has a tidal range of five metres, among the largest."),
            scaled(10, 545, "Its eleven mills were built between 1620 and 1780 for grain."),
            scaled(10, 530, "Each mill stored the rising tide behind a dam and a gate."),
            scaled(10, 515, "As the tide fell, the water turned a wheel that drove the stones."),
            scaled(10, 500, "The last of the mills stopped grinding grain for sale in 1956.")]
    path = tmp_path / "mills.pdf"
    path.write_bytes(pdf_bytes(" ".join(page)))
    doc = load(path)
    assert title(doc) == ("The tidal mills of the Velde estuary and the sandbanks they "
                          "shaped over three centuries of grinding grain")
    assert authors(doc) == ["Ana Silva", "Tom van Berg", "Kari Holm"]
    assert len(heading_title("word " * 100)) <= 300 and heading_title("a  b") == "a b"


def test_a_page_wrapped_in_one_form_is_text_not_a_figure(tmp_path):
    """LongEval (paper 10) draws each page's whole content inside one form
    XObject, and every line of it was taken for figure text: its digest was
    empty. A form that covers most of the page is not a drawing."""
    body = [("F1", 20, 72, 720, "Harbour Lighthouse Report"),
            ("F1", 11, 72, 690, "The lighthouse was built in 1911 by the harbour board."),
            ("F1", 11, 72, 675, "Its lamp burned whale oil until the station was electrified."),
            ("F1", 11, 72, 660, "It still stands today.")]
    stream = " ".join(text_at(*line) for line in body)
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << "
               "/XObject << /Fm1 5 0 R >> >> /Contents 4 0 R >>",
               "<< /Length 8 >>\nstream\n/Fm1 Do\nendstream",
               f"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font "
               f"<< /F1 6 0 R >> >> /Length {len(stream)} >>\nstream\n{stream}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    path = tmp_path / "lighthouse.pdf"
    path.write_bytes(pdf_file(objects))
    doc = load(path)
    assert not any(b.kind == "figure" for b in doc.blocks), doc.blocks
    assert [b.kind for b in doc.blocks] == ["heading"]
    from qa.naming import title

    assert title(doc) == "Harbour Lighthouse Report"
