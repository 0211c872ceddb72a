import hashlib
import os

import numpy as np
import pytest

from qa import Assistant
from qa.embeddings import packaged_model_path, resolve_model

UPSTREAM_1110a243 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def test_packaged_model_matches_upstream_revision():
    folder = packaged_model_path()
    for name, expected in UPSTREAM_1110a243.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == expected, name


def test_default_name_resolves_to_packaged_folder_offline():
    target, local = resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    assert local and target == str(packaged_model_path())
    assert resolve_model("someone/other-model") == ("someone/other-model", False)


def test_encoding_is_unit_length_and_meaningful(embedder):
    vectors = embedder.encode(["Russia warned the West.", "Moscow issued a warning.",
                               "Bananas are yellow fruit."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_a_question_runs_on_the_one_thread_session_with_the_same_vector(embedder,
                                                                        monkeypatch):
    """A short text alone (a question) runs on the one-thread session, whose
    threads do not spin on the cores the search after it needs; it gives the
    vector the batch session gives."""
    question = "Who warned of a humanitarian catastrophe?"
    used = []
    real = embedder._one
    monkeypatch.setattr(embedder, "_one", lambda: (used.append(1), real())[1])
    alone = embedder.encode([question])[0]
    assert used == [1]
    batched = embedder.encode([question, question])  # (no padding: the same activations)
    assert used == [1]  # a batch runs on the multi-threaded session
    assert np.allclose(alone, batched[0], atol=1e-5) and np.allclose(alone, batched[1],
                                                                      atol=1e-5)


def test_onnx_int8_agrees_with_torch(embedder, torch_embedder):
    texts = ["Russia warned the United States and European Union on Monday.",
             "Serb refugees would flow into northern Kosovo and Serbia.",
             "What did Botsan-Kharchenko warn?"]
    assert embedder.backend == "onnx"
    fast, exact = embedder.encode(texts), torch_embedder.encode(texts)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(fast * exact, axis=1))) > 0.97


def test_onnx_query_path_imports_no_torch(bot):
    import subprocess
    import sys

    script = ("import sys, qa; a = qa.Assistant.load(%r).ask('Who is Serbia\\'s main big power "
              "ally?'); print(a.found, 'torch' in sys.modules, "
              "'sentence_transformers' in sys.modules)") % str(bot.index_dir)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from models import tiny_model

    root = tmp_path_factory.mktemp("models")
    return {"bert64": tiny_model(root / "bert64", "bert", 64, "mean"),
            "mpnet48cls": tiny_model(root / "mpnet48cls", "mpnet", 48, "cls")}


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_a_64_dimension_model_makes_a_loadable_index(tiny_models, tmp_path, backend):
    from qa import Assistant
    from qa.config import Settings

    (tmp_path / "a.txt").write_text("The ferry to Kelby leaves at nine. The shop shuts at six.")
    settings = Settings(model=str(tiny_models["bert64"]), backend=backend)
    Assistant.from_paths([tmp_path / "a.txt"], tmp_path / "ix", settings)
    again = Assistant.load(tmp_path / "ix", settings)
    assert again.store.dimension == 64 and again.store.index.d == 64
    again.ask("When does the ferry leave?")  # answers (or abstains) without an error
    assert len(again.retrieve("ferry", k=1)) == 1


def test_onnx_runs_an_mpnet_model_with_its_own_pooling(tiny_models, tmp_path):
    from qa.embeddings import OnnxEmbedder, TorchEmbedder

    folder = tiny_models["mpnet48cls"]
    texts = ["Russia warned the United States.", "Serb refugees would flow north, he said."]
    fast = OnnxEmbedder(str(folder), cache_dir=str(tmp_path / "cache")).encode(texts)
    exact = TorchEmbedder(str(folder)).encode(texts)
    assert fast.shape == exact.shape == (2, 48)
    assert float(np.min(np.sum(fast * exact, axis=1))) > 0.98  # CLS pooling, as the model says


def test_a_model_the_onnx_backend_cannot_run_says_use_torch(tiny_models, tmp_path):
    import json
    import shutil

    from qa.embeddings import OnnxEmbedder
    from qa.errors import QAError

    folder = tmp_path / "dense"
    shutil.copytree(tiny_models["bert64"], folder)
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense",
                       "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(QAError, match="Dense module.*QA_BACKEND=torch"):
        OnnxEmbedder(str(folder), cache_dir=str(tmp_path / "cache")).encode(["x"])


def test_one_forward_pass_per_chunk_gives_its_sentences_vectors(bot, settings, counting,
                                                                 tmp_path):
    """Indexing runs the model once per chunk: sentences cost no pass of their
    own, and each sentence's vector is its chunk's token states pooled over it."""

    from qa.assistant import BUNDLED

    fresh = Assistant.from_paths([BUNDLED], tmp_path / "ix", settings, counting)
    entry = next(iter(fresh.store.entries.values()))
    assert counting.texts == len(entry.chunks)  # no sentence embedded apart
    chunk = entry.chunks[0]
    whole, parts = counting.inner.encode_spans(
        [chunk.text], [[(s.start - chunk.start, s.end - chunk.start) for s in chunk.sentences]])
    first = entry.sentences.index(chunk.sentences[0])
    # (int8 quantization scales per batch: alone, the chunk's pass differs a little)
    assert float(entry.sentence_vectors[first] @ parts[0][0]) > 0.98
    assert float(entry.chunk_vectors[0] @ whole[0]) > 0.98
    alone = counting.inner.encode([fresh.store.document(entry.doc.path).text[
        chunk.sentences[0].start:chunk.sentences[0].end]])[0]
    assert 0.5 < float(alone @ parts[0][0]) < 0.999  # related to, not the same as, its own pass


def test_a_sentence_past_the_token_limit_gets_a_pass_of_its_own(embedder):
    words = " ".join(f"word{i}" for i in range(400))
    text = f"A short opening sentence. {words}."
    whole, parts = embedder.encode_spans([text], [[(0, 25), (26, len(text))]])
    assert parts[0][0] is not None and parts[0][1] is None  # cut off: embedded apart


def test_span_vectors_agree_across_backends(embedder, torch_embedder):
    """torch (fp32) and ONNX (int8) pool the same sentence vectors from a
    chunk's pass within the int8 export's own tolerance: cosine >= 0.98."""
    import numpy as np

    from qa.assistant import BUNDLED
    from qa.chunking import chunk_document, split_sentences
    from qa.documents import Document

    text = BUNDLED.read_text()
    chunks = chunk_document(Document(text=text, source="a", path="a"), 600, 0,
                            split_sentences(text))
    texts = [c.text for c in chunks]
    spans = [[(s.start - c.start, s.end - c.start) for s in c.sentences] for c in chunks]
    onnx_whole, onnx_parts = embedder.encode_spans(texts, spans)
    torch_whole, torch_parts = torch_embedder.encode_spans(texts, spans)
    cosines = [float(a @ b) for x, y in zip(onnx_parts, torch_parts) for a, b in zip(x, y)]
    assert len(cosines) == sum(len(s) for s in spans) and min(cosines) >= 0.98
    assert float(np.min((onnx_whole * torch_whole).sum(1))) >= 0.98
    assert float(np.min((torch_embedder.encode(texts) * torch_whole).sum(1))) > 0.9999
