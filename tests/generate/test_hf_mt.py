"""HFTranslator on tiny random Marian, M2M100 and NLLB models built in temp dirs (no hub)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from helpers import demo_texts
from tiny_models import save_random
from xqg_pyserini.errors import InputError
from xqg_pyserini.generate.base import Request
from xqg_pyserini.generate.hf_mt import HFTranslator

pytestmark = pytest.mark.filterwarnings("ignore")  # sacremoses advice, generation-config notes

TINY = dict(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
            encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128)
PASSAGE = ("Mount Vesuvius is a stratovolcano near Naples. Its eruption in 79 AD buried Pompeii. "
           "It last erupted in 1944.")


def _request(lang: str, docid: str = "demo-001", n: int = 1, seed: int = 7, title: str = "Mount Vesuvius",
             text: str = PASSAGE) -> Request:
    return Request(docid=docid, title=title, text=text, lang=lang, n=n, seed=seed)


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    """A sentencepiece unigram model trained on the demo passages and multilingual topics."""
    import io

    import sentencepiece

    path = tmp_path_factory.mktemp("spm") / "spm.model"
    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(demo_texts()), model_writer=buffer, vocab_size=2000, hard_vocab_limit=False,
        model_type="unigram", character_coverage=1.0, unk_id=0, bos_id=-1, eos_id=-1, minloglevel=2)
    path.write_bytes(buffer.getvalue())
    return path


def _pieces(spm_model: Path) -> list[str]:
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _save_marian(out: Path, spm_model: Path, codes: tuple[str, ...] = (), target_lang: str | None = None,
                 head: bool = True) -> Path:
    from transformers import MarianConfig, MarianModel, MarianMTModel, MarianTokenizer

    out.mkdir(parents=True, exist_ok=True)
    vocab = {"</s>": 0, "<unk>": 1}
    for piece in [*_pieces(spm_model), *(f">>{code}<<" for code in codes), "<pad>"]:
        vocab.setdefault(piece, len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = MarianTokenizer(source_spm=str(spm_model), target_spm=str(spm_model), vocab=str(out / "vocab.json"),
                                    source_lang="en", target_lang=target_lang)
    tokenizer.save_pretrained(out)
    config = MarianConfig(vocab_size=len(vocab), pad_token_id=vocab["<pad>"], eos_token_id=0,
                          decoder_start_token_id=vocab["<pad>"], forced_eos_token_id=0, **TINY)
    return save_random(MarianMTModel if head else MarianModel, config, out)


@pytest.fixture(scope="module")
def marian_multi(tmp_path_factory, spm_model) -> Path:
    """A multilingual-target Marian (like opus-mt-en-mul): targets chosen by >>xxx<< tokens."""
    return _save_marian(tmp_path_factory.mktemp("marian") / "opus-mt-en-mul", spm_model,
                        codes=("deu", "ara", "cmn_Hans", "fra"), target_lang="mul")


@pytest.fixture(scope="module")
def marian_pairs(tmp_path_factory, spm_model) -> Path:
    """One pair model per language, named like OPUS-MT: opus-mt-en-de, opus-mt-en-fr, opus-mt-en-jap."""
    root = tmp_path_factory.mktemp("opus")
    for code in ("de", "fr", "jap"):
        _save_marian(root / f"opus-mt-en-{code}", spm_model, target_lang=code)
    return root


@pytest.fixture(scope="module")
def m2m100(tmp_path_factory, spm_model) -> Path:
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    out = tmp_path_factory.mktemp("m2m100")
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in _pieces(spm_model):
        vocab.setdefault(piece, len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    # The tokenizer appends its own __xx__ language tokens (and "made-up words") after vocab.json.
    tokenizer = M2M100Tokenizer(vocab_file=str(out / "vocab.json"), spm_file=str(spm_model))
    tokenizer.save_pretrained(out)
    vocab_size = len(vocab) + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
    config = M2M100Config(vocab_size=vocab_size, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, **TINY)
    return save_random(M2M100ForConditionalGeneration, config, out)


@pytest.fixture(scope="module")
def nllb(tmp_path_factory) -> Path:
    """An M2M100 model with an NllbTokenizer (FLORES-200 codes), as NLLB checkpoints are."""
    from tokenizers import SentencePieceBPETokenizer
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    out = tmp_path_factory.mktemp("nllb")
    bpe = SentencePieceBPETokenizer()
    bpe.train_from_iterator(demo_texts(), vocab_size=1500, special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    model = json.loads(bpe._tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tokenizer = NllbTokenizer(vocab=model["vocab"], merges=merges)
    tokenizer.save_pretrained(out)
    config = M2M100Config(vocab_size=len(tokenizer), pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, **TINY)
    return save_random(M2M100ForConditionalGeneration, config, out)


def _record_generate(translator: HFTranslator, lang: str) -> list[tuple[dict, object]]:
    """Wrap the model behind ``lang`` so each generate call's kwargs and output are kept."""
    model = translator._target(lang).loaded.model
    original, calls = model.generate, []

    def generate(**kwargs):
        output = original(**kwargs)
        calls.append((kwargs, output))
        return output

    model.generate = generate
    return calls


def _check_outputs(outputs: list[list[str]], count: int, per_request: int = 1) -> None:
    assert len(outputs) == count
    for texts in outputs:
        assert len(texts) == per_request
        assert all(isinstance(text, str) and text for text in texts)


# -- Marian --------------------------------------------------------------------------------------


def test_marian_multilingual_picks_target_tokens(marian_multi):
    translator = HFTranslator(str(marian_multi), num_beams=2, max_new_tokens=8)
    assert translator._target("ar").prefix == ">>ara<< "
    assert translator._target("zh").prefix == ">>cmn_Hans<< "
    assert translator._target("de").prefix == ">>deu<< "
    tokenizer = translator._target("ar").loaded.tokenizer
    calls = _record_generate(translator, "ar")
    # n=3 without sampling: beam search is deterministic, one translation per request
    outputs = translator.generate([_request("ar", n=3), _request("zh", docid="demo-002"), _request("ar", docid="x")])
    _check_outputs(outputs, 3)
    first_tokens = {int(t) for kwargs, _ in calls for t in kwargs["input_ids"][:, 0]}
    assert first_tokens == {tokenizer.convert_tokens_to_ids(">>ara<<"), tokenizer.convert_tokens_to_ids(">>cmn_Hans<<")}


def test_marian_multilingual_unsupported_language_lists_tokens(marian_multi):
    translator = HFTranslator(str(marian_multi), max_new_tokens=8)
    with pytest.raises(InputError, match=r"no target token for 'ko'.*>>ara<<, >>cmn_Hans<<, >>deu<<, >>fra<<"):
        translator.generate([_request("de"), _request("ko")])


def test_marian_template_loads_one_model_per_language(marian_pairs):
    template = str(marian_pairs / "opus-mt-en-{lang}")
    translator = HFTranslator(template, num_beams=2, max_new_tokens=8, model_lang_codes="ja=jap")
    assert translator._loaded == {}  # lazily, on first use
    outputs = translator.generate([_request("de"), _request("fr"), _request("ja"), _request("de", docid="b")])
    _check_outputs(outputs, 4)
    assert {Path(name).name for name in translator._loaded} == {"opus-mt-en-de", "opus-mt-en-fr", "opus-mt-en-jap"}
    assert Path(translator._target("ja").loaded.name).name == "opus-mt-en-jap"
    assert translator._target("de").prefix == ""
    with pytest.raises(InputError, match=r"no translation model for 'es'.*opus-mt-en-es"):
        translator.generate([_request("es")])


def test_marian_pair_model_translates_into_its_language_only(marian_pairs):
    translator = HFTranslator(str(marian_pairs / "opus-mt-en-de"), num_beams=1, max_new_tokens=8)
    _check_outputs(translator.generate([_request("de")]), 1)
    with pytest.raises(InputError, match=r"translates into 'de' only, not 'fr'.*\{lang\}"):
        translator.generate([_request("fr")])


# -- M2M100 and NLLB -----------------------------------------------------------------------------


def test_m2m100_forces_the_target_language_token(m2m100):
    translator = HFTranslator(str(m2m100), num_beams=2, max_new_tokens=8)
    target = translator._target("de")
    tokenizer = target.loaded.tokenizer
    assert target.loaded.family == "m2m100"
    assert target.forced_bos_token_id == tokenizer.get_lang_id("de") == tokenizer.convert_tokens_to_ids("__de__")
    calls = _record_generate(translator, "de")
    _check_outputs(translator.generate([_request("de"), _request("de", docid="b", title="")]), 2)
    for kwargs, generated in calls:
        assert kwargs["forced_bos_token_id"] == tokenizer.get_lang_id("de")
        assert (kwargs["input_ids"][:, 0] == tokenizer.get_lang_id("en")).all()  # source language token
        assert (generated[:, 1] == tokenizer.get_lang_id("de")).all()  # first token after decoder start
    # M2M100 has no Telugu
    with pytest.raises(InputError, match=r"cannot translate into 'te'; supported: .*\bde\b"):
        translator.generate([_request("te")])


def test_nllb_uses_flores_codes(nllb):
    translator = HFTranslator(str(nllb), num_beams=2, max_new_tokens=8)
    target = translator._target("ar")
    tokenizer = target.loaded.tokenizer
    assert target.loaded.family == "nllb"
    assert target.code == "arb_Arab" and translator._target("zh").code == "zho_Hans"
    assert target.forced_bos_token_id == tokenizer.convert_tokens_to_ids("arb_Arab")
    calls = _record_generate(translator, "ar")
    _check_outputs(translator.generate([_request("ar"), _request("ja")]), 2)
    kwargs, generated = calls[0]
    assert (kwargs["input_ids"][:, 0] == tokenizer.convert_tokens_to_ids("eng_Latn")).all()
    assert (generated[:, 1] == tokenizer.convert_tokens_to_ids("arb_Arab")).all()


# -- errors --------------------------------------------------------------------------------------


def test_not_a_translation_model(tiny_bert):
    with pytest.raises(InputError, match=r"'bert' model, not a translation model.*Marian.*M2M100.*NLLB"):
        HFTranslator(str(tiny_bert))


def test_model_without_generation_head(tmp_path, spm_model):
    headless = _save_marian(tmp_path / "opus-mt-en-de", spm_model, target_lang="de", head=False)
    with pytest.raises(InputError, match=r"no generation head \(architectures: MarianModel\).*MarianMTModel"):
        HFTranslator(str(headless))


def test_bad_options(marian_multi):
    with pytest.raises(InputError, match="segment"):
        HFTranslator(str(marian_multi), segment="paragraph")
    with pytest.raises(InputError, match="float16 needs a CUDA"):
        HFTranslator(str(marian_multi), dtype="float16")
    with pytest.raises(InputError, match="ja=jap"):
        HFTranslator(str(marian_multi), model_lang_codes="ja")


# -- segments, determinism, sampling -------------------------------------------------------------


def test_segments_and_joining(marian_multi):
    translator = HFTranslator(str(marian_multi), max_new_tokens=8)
    segments, title_count = translator._segments(_request("de"))
    assert title_count == 1 and segments[0] == "Mount Vesuvius" and len(segments) == 4
    assert translator._join("ja", ["ヴェスヴィオ山", "文一。", "文二。"], 1) == "ヴェスヴィオ山 文一。文二。"
    assert translator._join("de", ["Vesuv", "Satz eins.", "Satz zwei."], 1) == "Vesuv Satz eins. Satz zwei."
    whole = HFTranslator(str(marian_multi), segment="passage", include_title=False)
    assert whole._segments(_request("de")) == ([PASSAGE], 0)
    assert translator.generate([_request("de", title="", text="  ")]) == [[]]


def test_long_passage_is_truncated_at_max_length(marian_multi):
    translator = HFTranslator(str(marian_multi), segment="passage", include_title=False, max_length=16,
                              num_beams=1, max_new_tokens=4)
    calls = _record_generate(translator, "de")
    _check_outputs(translator.generate([_request("de", text=" ".join([PASSAGE] * 20))]), 1)
    assert calls[0][0]["input_ids"].shape[1] == 16


def test_beam_search_is_deterministic(m2m100):
    requests = [_request("de"), _request("fr", docid="b"), _request("de", docid="c", text="Pompeii was buried.")]
    first = HFTranslator(str(m2m100), num_beams=2, max_new_tokens=8)
    outputs = first.generate(requests)
    assert first.generate(requests) == outputs
    assert HFTranslator(str(m2m100), num_beams=2, max_new_tokens=8).generate(requests) == outputs


def test_sampling_gives_n_outputs_reproducible_by_seed(m2m100):
    import torch

    translator = HFTranslator(str(m2m100), do_sample=True, max_new_tokens=8)
    outputs = translator.generate([_request("de", n=3, seed=1), _request("de", docid="b", n=2, seed=2)])
    assert [len(texts) for texts in outputs] == [3, 2]
    assert all(isinstance(text, str) for texts in outputs for text in texts)
    state = torch.random.get_rng_state()
    again = translator.generate([_request("de", docid="b", n=2, seed=2), _request("de", n=3, seed=1)])
    assert again == outputs[::-1]  # per-request seeds: independent of batch order
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    assert translator.generate([_request("de", n=3, seed=99)])[0] != outputs[0]


def test_languages(marian_multi, marian_pairs, m2m100, nllb):
    from xqg_pyserini.generate.base import LANGUAGES

    assert HFTranslator(str(marian_multi)).languages == ["ar", "de", "fr", "zh"]
    assert HFTranslator(str(marian_pairs / "opus-mt-en-de")).languages == ["de"]
    assert HFTranslator(str(marian_pairs / "opus-mt-en-{lang}")).languages is None
    m2m100_langs = HFTranslator(str(m2m100)).languages
    assert "de" in m2m100_langs and "te" not in m2m100_langs
    assert HFTranslator(str(nllb)).languages == sorted(LANGUAGES)


def test_config_is_json(m2m100):
    config = HFTranslator(str(m2m100), do_sample=True, temperature=0.7).config()
    json.dumps(config)
    assert config["generator"] == "hf-mt" and config["model"] == str(m2m100)
    assert config["do_sample"] is True and config["num_beams"] == 1 and config["temperature"] == 0.7
