"""Plain text, Markdown and HTML: decoding and visible text."""

from __future__ import annotations

import logging
from html.parser import HTMLParser

from ..errors import DocumentError

logger = logging.getLogger(__name__)


def decode(data: bytes, name: str) -> str:
    if not data.strip():
        raise DocumentError(f"{name}: the file is empty")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(f"{name}: looks like a binary file, not text")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) \
            else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    # Not UTF-8: Windows-1252 is the usual legacy encoding and a superset of
    # Latin-1's printable range; fall back to Latin-1, which decodes any byte.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > len(text) * 0.01:
        raise DocumentError(f"{name}: looks like a binary file, not text")
    logger.info("%s is not UTF-8; decoded as Windows-1252", name)
    return text


class _VisibleText(HTMLParser):
    """Collects the text a browser would show; never fetches anything."""

    _HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
               "section", "article", "header", "footer", "blockquote", "pre", "title",
               "ul", "ol", "table", "hr", "dd", "dt"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    blocks = ("".join(parser.parts)).split("\n\n")
    cleaned = (" ".join(block.split()) for block in blocks)
    return "\n\n".join(block for block in cleaned if block)
