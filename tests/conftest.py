"""Shared fixtures: the real packaged model, loaded once per session."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.assistant import BUNDLED, Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embeddings import Embedder, TorchEmbedder, make_embedder  # noqa: E402

DATA = Path(__file__).parent / "data"
DEV_SET = DATA / "russia-warns-kosovo.dev.jsonl"


class CountingEmbedder:
    """The real embedder, counting how many texts it embeds (not a mock)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.backend = inner.name, inner.backend
        self.texts = 0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def encode(self, texts, progress=False):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.inner.encode(texts, progress)

    def encode_spans(self, texts, spans):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return self.inner.encode_spans(texts, spans)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    """The default backend (int8 ONNX export of the packaged model)."""
    model = make_embedder(settings.model, settings.backend, settings.batch_size)
    model.warm_up()  # type: ignore[attr-defined]
    return model


@pytest.fixture(scope="session")
def torch_embedder(settings: Settings) -> TorchEmbedder:
    model = TorchEmbedder(settings.model, settings.batch_size)
    model.warm_up()
    return model


@pytest.fixture()
def counting(embedder: Embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory, settings, embedder) -> Path:
    folder = tmp_path_factory.mktemp("bundled") / "index"
    Assistant.from_paths([BUNDLED], folder, settings, embedder)
    return folder


@pytest.fixture()
def bot(bundled_index: Path, tmp_path: Path, settings, embedder) -> Assistant:
    """A private copy of the bundled article's index."""
    folder = tmp_path / "index"
    shutil.copytree(bundled_index, folder)
    return Assistant.load(folder, settings, embedder)


@pytest.fixture(scope="session")
def dev_set() -> list[dict]:
    return [json.loads(line) for line in DEV_SET.read_text().splitlines() if line.strip()]


def make_pdf(pages: list[str | list[str]], padding: int = 0,
             size: tuple[int, int] = (612, 792)) -> bytes:
    """A minimal PDF in Helvetica: each page one line of text, or a list of lines.
    `padding` adds an unused stream of that many bytes (a big file, little text);
    `size` is every page's width and height in points."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", ""]
    kids = []
    for page in pages:
        page_id, content_id = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_id} 0 R")
        lines = [page] if isinstance(page, str) else page
        shown = []
        for n, text in enumerate(lines):
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            shown.append(f"BT /F1 12 Tf 72 {720 - 20 * n} Td ({escaped}) Tj ET")
        stream = " ".join(shown)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] "
                       f"/Resources << /Font << /F1 {{font}} 0 R >> >> /Contents {content_id} 0 R >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    font_id = len(objects) + 1
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if padding:
        objects.append(f"<< /Length {padding} >>\nstream\n{'0' * padding}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    return pdf_file([body.replace("{font}", str(font_id)) for body in objects])


def pdf_file(objects: list[str]) -> bytes:
    """A PDF of these objects (numbered from 1, the first the catalog), with its xref table."""
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def grows_linearly(run, make, size: int, repeat: int = 5) -> tuple[float, float]:
    """Best seconds of run(make(size)) and run(make(2 * size)), measured in
    alternation (so a busy neighbour slows both alike), asserting the doubled
    input costs at most 3x (quadratic work costs 4x; linear work measures
    2.0-2.3x here). Below 50 ms for the doubled input, the cost is too small
    to tell (and far from the seconds the quadratic cases took)."""
    import gc
    import math
    import time

    run(make(max(1, size // 100)))  # lazy loads (the sentence model) happen here
    small_data, doubled = make(size), make(2 * size)
    small = big = math.inf
    started = time.perf_counter()
    gc.disable()
    try:
        for round_ in range(1, repeat + 1):
            small = min(small, measured(run, small_data))
            big = min(big, measured(run, doubled))
            if round_ >= 2 and (big < 0.05 or big <= 3 * small):
                break  # settled: two rounds agree it is linear
            if time.perf_counter() - started > 30:
                break  # a slow run has little noise, and quadratic runs are slow
    finally:
        gc.enable()
    assert big < 0.05 or big <= 3 * small, f"{size}: {small:.3f} s, doubled: {big:.3f} s"
    return small, big


def measured(run, data) -> float:  # type: ignore[no-untyped-def]
    import time

    started = time.perf_counter()
    run(data)
    return time.perf_counter() - started
