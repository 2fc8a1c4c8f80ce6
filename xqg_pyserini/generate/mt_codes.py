"""The codes translation model families use for the languages ``xqg generate`` knows (ISO 639-1)."""

# ISO 639-1 -> FLORES-200 code (NLLB).
FLORES = {
    "ar": "arb_Arab", "bn": "ben_Beng", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn",
    "es": "spa_Latn", "fi": "fin_Latn", "fr": "fra_Latn", "hi": "hin_Deva", "id": "ind_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "nl": "nld_Latn", "pt": "por_Latn",
    "ru": "rus_Cyrl", "sw": "swh_Latn", "te": "tel_Telu", "th": "tha_Thai", "tr": "tur_Latn",
    "vi": "vie_Latn", "zh": "zho_Hans",
}

# ISO 639-1 -> the ``>>xxx<<`` codes OPUS-MT uses for it, most specific first (ISO 639-3,
# macrolanguage members, script-tagged Chinese). The bare ISO 639-1 code is always tried first.
MARIAN_CODES = {
    "ar": ["ara", "arb"], "bn": ["ben"], "de": ["deu"], "el": ["ell"], "en": ["eng"], "es": ["spa"],
    "fi": ["fin"], "fr": ["fra"], "hi": ["hin"], "id": ["ind"], "it": ["ita"], "ja": ["jpn"],
    "ko": ["kor"], "nl": ["nld"], "pt": ["por"], "ru": ["rus"], "sw": ["swa", "swh"], "te": ["tel"],
    "th": ["tha"], "tr": ["tur"], "vi": ["vie"], "zh": ["cmn_Hans", "zho_Hans", "cmn", "zho"],
}
