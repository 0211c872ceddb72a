"""A PDF page as a picture with the cited passage marked: the function, the
facade, the HTTP route and the chat's sources panel."""

from __future__ import annotations

import io

import pytest
from conftest import make_pdf
from PIL import Image

from qa import Assistant
from qa.chat import sources_html
from qa.documents.pages import render_page
from qa.errors import DocumentError, QuestionError

LINES = ["The lighthouse keeper logged every ship that passed the rocks.",
         "In 1911 the keeper counted four hundred ships in one winter.",
         "The lamp burned whale oil until the station was electrified."]


def marked(png: bytes) -> list[tuple[int, int]]:
    """Pixels of the highlight colour (translucent yellow over white)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    return [(x, y) for y in range(0, height, 2) for x in range(0, width, 2)
            if pixels[x, y][0] > 245 and 225 < pixels[x, y][1] < 248
            and 120 < pixels[x, y][2] < 170]


@pytest.fixture()
def pdf(tmp_path):
    path = tmp_path / "keeper.pdf"
    path.write_bytes(make_pdf([["Cover page"], LINES]))
    return path


def test_the_passage_is_marked_where_it_stands_on_the_page(pdf):
    assert marked(render_page(pdf, 2)) == []
    boxes = marked(render_page(pdf, 2, LINES[1]))
    assert boxes
    # make_pdf sets line n at y = 720 - 20 n points: the second line's band
    scale, height = 1.5, 792
    ys = [y / scale for _, y in boxes]
    assert height - 720 + 20 * 1 - 14 < min(ys) and max(ys) < height - 720 + 20 * 1 + 6
    assert marked(render_page(pdf, 1, LINES[1])) == []  # not on the cover
    assert marked(render_page(pdf, 2, "A sentence this page does not hold at all.")) == []
    with pytest.raises(DocumentError, match="pages 1 to 2, not 3"):
        render_page(pdf, 3)


def test_the_assistant_marks_a_cited_source_on_its_page(pdf, tmp_path, settings):
    bot = Assistant.from_paths([pdf], tmp_path / "index", settings)
    answer = bot.ask("How many ships did the keeper count in 1911?")
    source = answer.sources[0]
    assert answer.found and source.page == 2 and "four hundred" in source.text
    png = bot.page_image("keeper.pdf", source.page, (source.start, source.end))
    assert marked(png) and marked(png) == marked(render_page(pdf, 2, source.text))
    panel = sources_html(answer)
    assert "See it on page 2" in panel and "data:image/jpeg;base64," in panel
    with pytest.raises(QuestionError, match="not in the index"):
        bot.page_image("other.pdf", 1)
    with pytest.raises(QuestionError, match="outside keeper.pdf"):
        bot.page_image("keeper.pdf", 2, (10, 10**6))
    pdf.write_bytes(make_pdf([["Cover page"], ["Rewritten after indexing."]]))
    with pytest.raises(DocumentError, match="changed since it was indexed"):
        bot.page_image("keeper.pdf", 2, (source.start, source.end))


def test_a_text_source_shows_no_page(bot):
    assert "See it on page" not in sources_html(bot.ask("What did Botsan-Kharchenko warn?"))
    with pytest.raises(QuestionError, match="pages are shown for PDFs"):
        bot.page_image("russia-warns-kosovo.txt", 1)
