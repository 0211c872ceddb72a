"""OCR for scanned PDF pages and images, offline: rapidocr-onnxruntime 1.4.4
ships its ONNX detection and recognition models inside its wheel.

Only pages without a text layer are read this way. The engine loads once per
process, on first use.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..errors import DocumentError

logger = logging.getLogger(__name__)

# PDF pages render at 72 dpi (scale 1): on the scanned bundled article (10 pt text),
# scales 1.5, 2.0 and 2.8 made the recognizer drop the spaces between words
# ("humanitariancatastrophe"); scale 1 kept them and was the fastest (6.4 s for 2 pages).
SCALE = 1.0

_engine: list[Any] = []
_lock = threading.Lock()


def read(image: Any) -> str:
    """The text lines found in an image (a numpy RGB array), in reading order."""
    engine = _load()
    with _lock:  # one engine per process; its sessions are not shared across threads
        result, _ = engine(image)
    return "\n".join(line[1] for line in result or [] if line[1].strip())


def image_text(data: bytes, name: str) -> tuple[str, list[int]]:
    """Text of a .png/.jpg image, one page."""
    import io

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as picture:  # PIL refuses a bomb before we look
            if picture.width * picture.height > 60_000_000:
                raise DocumentError(f"{name}: the image is over 60 megapixels")
            array = np.asarray(picture.convert("RGB"))
    except Image.DecompressionBombError:
        raise DocumentError(f"{name}: the image is over 60 megapixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DocumentError(f"{name}: cannot read this image ({type(exc).__name__})") from None
    text = read(array)
    if not text.strip():
        raise DocumentError(f"{name}: no text found in the image (OCR read nothing)")
    return text, []


def _load() -> Any:
    with _lock:
        if not _engine:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                raise DocumentError("OCR needs rapidocr-onnxruntime; install it with: "
                                    "pip install rapidocr-onnxruntime==1.4.4") from None
            for noisy in ("RapidOCR", "rapidocr_onnxruntime"):
                logging.getLogger(noisy).setLevel(logging.WARNING)
            _engine.append(RapidOCR())
        return _engine[0]
