"""Office files, tables, e-mail and e-books: each built here, each answering a
question only it holds, with the right page (slide, sheet, chapter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import Assistant


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Harbour handbook")
    document.add_paragraph("The lighthouse keeper of Vardø is Marguerite Olsen.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Boat", "Nordlys"
    document.save(path)


def make_pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    for title in ("Welcome to the quarterly review.",
                  "Revenue of the ferry company grew by 12 percent in the third quarter.",
                  "Questions and answers."):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        slide.shapes.title.text = title
    deck.save(path)


def make_xlsx(path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Stock"
    book.active.append(["Item", "Count"])
    book.active.append(["Brass anchors", 42])
    crew = book.create_sheet("Crew")
    crew.append(["Name", "Role"])
    crew.append(["Ola Nordmann", "ship's cook"])
    book.save(path)


def make_epub(path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("qa-test")
    book.set_title("Tales")
    book.set_language("en")
    chapters = []
    for n, body in enumerate(["The dragon sleeps in the northern cave.",
                              "The knight rides a grey horse named Ash."], 1):
        chapter = epub.EpubHtml(title=f"Chapter {n}", file_name=f"c{n}.xhtml")
        chapter.content = f"<h1>Chapter {n}</h1><p>{body}</p>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.spine = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)


EML = ("From: ana@example.com\nTo: bo@example.com\nSubject: Ferry times\n"
       "Date: Mon, 2 Feb 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
       "Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
       "The night ferry to Kelby leaves from pier seven.\n--XX\n"
       "Content-Type: application/octet-stream\n"
       "Content-Disposition: attachment; filename=timetable.bin\n\nAAAA\n--XX--\n")

# file, builder, question, text the answer holds, page (None: not paged)
CASES = [
    ("handbook.docx", make_docx, "Who is the lighthouse keeper of Vardø?", "Marguerite Olsen",
     None),
    ("review.pptx", make_pptx, "How much did the ferry company's revenue grow?", "12 percent", 2),
    ("stock.xlsx", make_xlsx, "Who is the ship's cook?", "Ola Nordmann", 2),
    ("ports.csv", lambda p: p.write_text("port,depth\nKelby,14 metres\nOstby,9 metres\n"),
     "How deep is the port of Ostby?", "9 metres", None),
    ("tales.epub", make_epub, "What is the name of the knight's horse?", "Ash", 2),
    ("ferry.eml", lambda p: p.write_text(EML), "Where does the night ferry to Kelby leave from?",
     "pier seven", None),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory, settings, embedder):
    folder = tmp_path_factory.mktemp("formats")
    for name, build, *_ in CASES:
        build(folder / name)
    return Assistant.from_paths([folder], folder.parent / "formats-index", settings, embedder)


@pytest.mark.parametrize("name, build, question, expected, page", CASES,
                         ids=[c[0] for c in CASES])
def test_each_format_answers_its_own_question(library, name, build, question, expected, page):
    assert library.last_report.errors == []
    answer = library.ask(question)
    assert answer.found and expected in answer.text, answer.text
    source = answer.sources[0]
    assert source.source == name and source.page == page
    doc = library.store.document(source.path).text
    assert doc[source.start:source.end] == source.text


def test_mail_lists_attachments_and_keeps_headers(library):
    doc = next(e.doc for e in library.store.entries.values() if e.doc.source == "ferry.eml")
    assert "Subject: Ferry times" in doc.text and "Attachments: timetable.bin" in doc.text


def mail_with(attachment: str | None) -> str:
    parts = ["--XX\nContent-Type: text/plain\n\nMinutes of the harbour board are attached.\n"]
    if attachment:
        parts.append("--XX\nContent-Type: text/plain\nContent-Disposition: attachment; "
                     f"filename=minutes.txt\n\n{attachment}\n")
    return ("From: ana@example.com\nSubject: Board minutes\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=XX\n\n" + "".join(parts) + "--XX--\n")


def test_mail_attachments_are_documents_of_their_own(tmp_path, settings, embedder):
    mail = tmp_path / "board.eml"
    mail.write_text(mail_with("The harbour board voted to dredge the north basin in May."))
    bot = Assistant.from_paths([mail], tmp_path / "ix", settings, embedder)
    assert bot.last_report.added == 2
    answer = bot.ask("What did the harbour board vote to do?")
    assert "dredge the north basin" in answer.text
    assert answer.sources[0].source == "board.eml::minutes.txt"
    mail.write_text(mail_with(None))  # the attachment is gone from the mail
    report = bot.add([mail])
    assert (report.updated, report.removed) == (1, 1)
    assert [d["source"] for d in bot.documents()] == ["board.eml"]
    mail.write_text(mail_with("The board meets again on 4 June."))
    bot.add([mail])
    assert bot.remove(["board.eml"]).removed == 2 and bot.documents() == []


LONG_HEADERS = [f"measurement number {i} taken with the long-named instrument" for i in range(100)]


@pytest.mark.parametrize("suffix", [".md", ".csv", ".html", ".docx", ".xlsx"])
def test_a_table_of_long_headers_reads_within_a_bound(tmp_path, suffix):
    """Issue 35 item 4: "header: cell" per row made a 493 kB Markdown table
    with 100 long headers 201 million characters. Long headers are cut where
    they repeat, and a table's rows stop repeating them past a multiple of
    the table's own text; every cell is kept."""
    from qa.documents import load

    rows = [[f"v{r}c{c}" for c in range(100)] for r in range(300)]
    path = tmp_path / f"wide{suffix}"
    if suffix == ".md":
        path.write_text("\n".join(["| " + " | ".join(LONG_HEADERS) + " |", "|---" * 100 + "|"]
                                  + ["| " + " | ".join(r) + " |" for r in rows]))
    elif suffix == ".csv":
        path.write_text("\n".join(",".join(r) for r in [LONG_HEADERS, *rows]))
    elif suffix == ".html":
        path.write_text("<table><tr>" + "".join(f"<th>{h}</th>" for h in LONG_HEADERS) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
                                  for r in rows) + "</table>")
    elif suffix == ".docx":
        import docx

        document = docx.Document()
        table = document.add_table(rows=len(rows) + 1, cols=100)
        for row, values in zip(table.rows, [LONG_HEADERS, *rows]):
            for cell, value in zip(row.cells, values):
                cell.text = value
        document.save(path)
    else:
        import openpyxl

        book = openpyxl.Workbook()
        for values in [LONG_HEADERS, *rows]:
            book.active.append(values)
        book.save(path)
    doc = load(path)
    cells = sum(len(c) + 1 for r in rows for c in r)
    assert len(doc.text) < 12 * (cells + 10_000), len(doc.text)
    assert "v299c99" in doc.text and LONG_HEADERS[7] in doc.text  # nothing is lost
    assert doc.text.count(LONG_HEADERS[7]) < 5  # a long header is not repeated whole


def test_a_reader_returning_too_much_text_is_refused_in_one_line(tmp_path, monkeypatch):
    import qa.documents as documents

    path = tmp_path / "notes.txt"
    path.write_text("A short note. " * 100)
    monkeypatch.setattr(documents, "MIN_TEXT_BOUND", 100)
    monkeypatch.setattr(documents, "TEXT_GROWTH", 0)
    with pytest.raises(documents.DocumentError, match=r"^notes\.txt: its text .* split it") as err:
        documents.load(path)
    assert "\n" not in str(err.value)
