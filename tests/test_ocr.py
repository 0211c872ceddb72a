"""OCR: a scanned PDF made by rendering the bundled article to images, and a
photo of text. Offline: rapidocr-onnxruntime ships its models in its wheel."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qa import Assistant
from qa.assistant import BUNDLED


def render(lines: list[str], size=(1700, 2200), per_page: int = 40):
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=28)
    pages = []
    for first in range(0, len(lines), per_page):
        page = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(page)
        for n, line in enumerate(lines[first:first + per_page]):
            draw.text((100, 100 + 50 * n), line, fill="black", font=font)
        pages.append(page)
    return pages


@pytest.fixture(scope="module")
def scanned(tmp_path_factory) -> Path:
    """The bundled article as a 2-page PDF of images: no text layer at all."""
    lines: list[str] = []
    for paragraph in BUNDLED.read_text().split("\n\n"):
        lines += textwrap.wrap(paragraph, 70) + [""]
    pages = render(lines)
    path = tmp_path_factory.mktemp("scan") / "scanned-article.pdf"
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=200)
    return path


def test_a_scanned_pdf_answers_with_the_catastrophe_sentence(scanned, tmp_path, settings,
                                                             embedder):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(scanned))
    assert len(document) == 2 and not document[0].get_textpage().get_text_range().strip()
    document.close()
    bot = Assistant.from_paths([scanned], tmp_path / "ix", settings, embedder)
    assert bot.last_report.errors == []
    answer = bot.ask("What did Botsan-Kharchenko warn?")
    assert answer.found and "humanitarian catastrophe" in answer.text
    assert answer.sources[0].page == 1 and answer.sources[0].source == "scanned-article.pdf"


def test_a_photo_of_text_is_read(tmp_path, settings, embedder):
    page = render(["The spare key to the boathouse is under the red flowerpot."],
                  size=(1400, 300))[0]
    page.save(tmp_path / "note.png")
    bot = Assistant.from_paths([tmp_path / "note.png"], tmp_path / "ix", settings, embedder)
    answer = bot.ask("Where is the spare key to the boathouse?")
    assert answer.found and "red flowerpot" in answer.text
