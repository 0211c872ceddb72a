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
