"""Random tiny (or full-shaped) transformer checkpoints built from configs, for tests and benchmarks.

Nothing is downloaded: tokenizers are trained on the given texts. ``benchmarks/generate.py``
imports :func:`build_random_mt5` from here (it puts this directory on ``sys.path``), so this
module imports nothing from pytest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

SHAPES = {
    "tiny": dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4),
    "mt5-base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12,
                     vocab_size=250112),
}


def save_random(model_class: Any, config: Any, out: Path, seed: int = 0) -> Path:
    """``model_class(config)`` initialised from ``seed`` and saved at ``out``."""
    import torch

    torch.manual_seed(seed)
    model_class(config).save_pretrained(out)
    return out


def train_unigram(texts: Sequence[str], vocab_size: int, specials: Sequence[str]):
    """A sentencepiece-style unigram ``tokenizers.Tokenizer`` (NFKC, ▁ word marks) trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=list(specials),
                                                                 unk_token="<unk>"))
    return tokenizer


def build_tiny_bert(out: Path, texts: Sequence[str], initializer_range: float = 0.02) -> Path:
    """A 2-layer random BERT with a WordPiece vocabulary of the texts' words and characters.

    With BERT's initialization (0.02) its CLS vectors barely differ between texts; a larger
    ``initializer_range`` (e.g. 1.0) spreads them, so rankings have few ties.
    """
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    split = BertPreTokenizer()
    words, chars = set(), set()
    for text in texts:
        for word, _ in split.pre_tokenize_str(text):
            words.add(word)
            chars.update(word)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(chars), *(f"##{c}" for c in sorted(chars)),
             *sorted(words - chars)[:3000]]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # transformers 5 takes the vocabulary as ``vocab`` (it silently ignores the older ``vocab_file``).
    tokenizer = BertTokenizerFast(vocab=str(out / "vocab.txt"), do_lower_case=False)
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(out)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, initializer_range=initializer_range)
    return save_random(BertModel, config, out)


def build_tiny_cross_encoder(out: Path, texts: Sequence[str], num_labels: int = 1) -> Path:
    """A 2-layer random BERT sequence classifier (``num_labels`` outputs) with the tiny BERT's vocabulary."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    out.mkdir(parents=True, exist_ok=True)
    build_tiny_bert(out, texts)
    config = BertConfig.from_pretrained(out)
    config.num_labels = num_labels
    BertTokenizerFast.from_pretrained(out).save_pretrained(out)
    return save_random(BertForSequenceClassification, config, out)


def build_tiny_xlmr(out: Path, texts: Sequence[str]) -> Path:
    """A 2-layer random XLM-R with a sentencepiece-unigram tokenizer trained on the texts."""
    from tokenizers import processors
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    tok = train_unigram(texts, 2000, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    XLMRobertaTokenizerFast(tokenizer_object=tok, model_max_length=128).save_pretrained(out)
    config = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=130,
                              pad_token_id=tok.token_to_id("<pad>"), bos_token_id=0, eos_token_id=2)
    return save_random(XLMRobertaModel, config, out)


def build_random_mt5(out_dir: str | Path, texts: Sequence[str], shape: str = "tiny", vocab_size: int = 3000,
                     seed: int = 0) -> Path:
    """Save a randomly initialised mT5 with a sentencepiece-unigram tokenizer trained on ``texts``.

    ``shape="mt5-base"`` has google/mt5-base's dimensions and 250,112-entry vocabulary (the
    tokenizer is padded with filler pieces), for speed measurements on a GPU.
    """
    import torch
    from tokenizers import Tokenizer, models, processors
    from transformers import MT5Config, MT5ForConditionalGeneration, T5Tokenizer

    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    dims = dict(SHAPES[shape])
    out = Path(out_dir)
    tokenizer = train_unigram(texts, vocab_size, ["<pad>", "</s>", "<unk>"])  # mT5's ids 0, 1, 2
    pieces = [tuple(piece) for piece in json.loads(tokenizer.to_str())["model"]["vocab"]]
    size = dims.pop("vocab_size", len(pieces))
    if size > len(pieces):
        pieces += [(f"\u2581filler{i}", -99.0) for i in range(size - len(pieces))]
        trained = tokenizer
        tokenizer = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=False))
        tokenizer.normalizer, tokenizer.pre_tokenizer, tokenizer.decoder = (
            trained.normalizer, trained.pre_tokenizer, trained.decoder)
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                             special_tokens=[("</s>", 1)])
    T5Tokenizer(tokenizer_object=tokenizer, extra_ids=0, model_max_length=512).save_pretrained(out)
    config = MT5Config(vocab_size=size, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                       feed_forward_proj="gated-gelu", tie_word_embeddings=False, **dims)
    torch.manual_seed(seed)
    model = MT5ForConditionalGeneration(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(0.1)  # flatter next-token distributions: samples differ, as a trained model's do
    model.save_pretrained(out)
    return out
