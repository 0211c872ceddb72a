import hashlib
import os

import numpy as np

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
