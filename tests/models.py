"""Tiny sentence-transformers models built and saved locally by the tests.

Random weights, so their vectors mean nothing; they exist to check that any
width, architecture and pooling the model folder declares is honoured.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from qa.embeddings import packaged_model_path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json")


def tiny_model(folder: Path, kind: str = "bert", width: int = 64,
               pooling: str = "mean") -> Path:
    """Save a 2-layer `kind` ("bert" or "mpnet") model of `width` dimensions."""
    import torch
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    torch.manual_seed(0)
    shape = dict(hidden_size=width, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=2 * width)
    if kind == "mpnet":
        model = MPNetModel(MPNetConfig(vocab_size=30527, **shape))
    else:
        model = BertModel(BertConfig(vocab_size=30522, **shape))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copyfile(packaged_model_path() / name, folder / name)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}]))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": width,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False}))
    return folder
