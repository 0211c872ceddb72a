"""E-mail (.eml, the standard library's parser) and e-books (.epub, ebooklib).

An e-mail becomes its headers (From, To, Date, Subject) and its text body
(the HTML body's visible text when there is no plain one), with the names of
its attachments; `attachments` gives their bytes, so that each attachment of a
supported type is indexed as a document of its own. An e-book becomes its chapters in
reading order, a page per chapter.
"""

from __future__ import annotations

import email
import email.policy
import io

from ..errors import DocumentError
from .office import check_zip
from .structure import Block, Builder
from .text import html_text

MAX_PARTS = 1_000  # MIME parts read from one message


def eml_text(data: bytes, name: str) -> tuple[str, list[int]]:
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:  # the parser is lenient; anything raised means damage
        raise DocumentError(f"{name}: cannot read this e-mail ({type(exc).__name__})") from None
    head = [f"{key}: {message[key]}" for key in ("From", "To", "Date", "Subject")
            if message[key]]
    plain, html, attached = [], [], []
    for number, part in enumerate(message.walk()):
        if number > MAX_PARTS:
            raise DocumentError(f"{name}: more than {MAX_PARTS:,} MIME parts")
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            attached.append(part.get_filename() or "unnamed")
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset: skip that part
            continue
        if part.get_content_type() == "text/plain" and isinstance(content, str):
            plain.append(content.strip())
        elif part.get_content_type() == "text/html" and isinstance(content, str):
            html.append(html_text(content)[0])
    body = "\n\n".join(plain) if plain else "\n\n".join(html)
    text = "\n".join(head) + "\n\n" + body
    if attached:
        text += "\n\nAttachments: " + ", ".join(attached)
    return text.strip(), []


def attachments(data: bytes) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each attachment of an e-mail (the first MAX_PARTS parts)."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    out: list[tuple[str, bytes]] = []
    for number, part in enumerate(message.walk()):
        if number > MAX_PARTS:
            break
        if not part.is_multipart() and part.get_content_disposition() == "attachment":
            payload, filename = part.get_payload(decode=True), part.get_filename()
            if isinstance(payload, bytes) and filename:
                out.append((filename, payload))
    return out


def epub_text(data: bytes, name: str) -> tuple[str, list[int], list[Block]]:
    import warnings

    import ebooklib
    from ebooklib import epub

    check_zip(data, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ebooklib warns about its own future defaults
            book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises several kinds for damaged books
        raise DocumentError(f"{name}: cannot read this e-book ({type(exc).__name__})") from None
    order = [book.get_item_with_id(ref) for ref, _ in book.spine]
    out = Builder()
    for item in order:
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            text, blocks = html_text(item.get_content().decode("utf-8", "replace"))
            if text.strip():
                out.page()
                out.extend(text, blocks)
    return out.text, out.page_starts, out.blocks
