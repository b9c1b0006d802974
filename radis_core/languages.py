"""Language codes: ISO 639-1 / 639-2 / 639-3 codes and their English names.

A corpus names its languages with codes (``de``, ``deu``, ``de-DE``), prompts name them in words
("German"). :func:`normalize` turns any accepted spelling into one canonical code: the two-letter
ISO 639-1 code where the language has one, else its three-letter ISO 639-3 code. Region and script
subtags are dropped (``pt-BR`` → ``pt``, ``zh_Hans`` → ``zh``): the service trains one adapter per
language pair, not per regional variant.

The table is a static list of common languages (no extra dependency); unknown codes raise
:class:`ValueError` naming the code rather than being passed through silently.
"""

from __future__ import annotations

import re
from functools import lru_cache

# (ISO 639-1 or None, ISO 639-3, English name). ISO 639-2/B bibliographic codes and a few common
# individual-language codes are listed separately in _ALIASES.
_TABLE: tuple[tuple[str | None, str, str], ...] = (
    ("af", "afr", "Afrikaans"),
    ("am", "amh", "Amharic"),
    ("ar", "ara", "Arabic"),
    ("as", "asm", "Assamese"),
    ("az", "aze", "Azerbaijani"),
    ("be", "bel", "Belarusian"),
    ("bg", "bul", "Bulgarian"),
    ("bn", "ben", "Bengali"),
    ("bs", "bos", "Bosnian"),
    ("ca", "cat", "Catalan"),
    ("cs", "ces", "Czech"),
    ("cy", "cym", "Welsh"),
    ("da", "dan", "Danish"),
    ("de", "deu", "German"),
    ("el", "ell", "Greek"),
    ("en", "eng", "English"),
    ("eo", "epo", "Esperanto"),
    ("es", "spa", "Spanish"),
    ("et", "est", "Estonian"),
    ("eu", "eus", "Basque"),
    ("fa", "fas", "Persian"),
    ("fi", "fin", "Finnish"),
    ("fo", "fao", "Faroese"),
    ("fr", "fra", "French"),
    ("ga", "gle", "Irish"),
    ("gl", "glg", "Galician"),
    ("gu", "guj", "Gujarati"),
    ("ha", "hau", "Hausa"),
    ("he", "heb", "Hebrew"),
    ("hi", "hin", "Hindi"),
    ("hr", "hrv", "Croatian"),
    ("ht", "hat", "Haitian Creole"),
    ("hu", "hun", "Hungarian"),
    ("hy", "hye", "Armenian"),
    ("id", "ind", "Indonesian"),
    ("ig", "ibo", "Igbo"),
    ("is", "isl", "Icelandic"),
    ("it", "ita", "Italian"),
    ("ja", "jpn", "Japanese"),
    ("jv", "jav", "Javanese"),
    ("ka", "kat", "Georgian"),
    ("kk", "kaz", "Kazakh"),
    ("km", "khm", "Khmer"),
    ("kn", "kan", "Kannada"),
    ("ko", "kor", "Korean"),
    ("ku", "kur", "Kurdish"),
    ("ky", "kir", "Kyrgyz"),
    ("la", "lat", "Latin"),
    ("lb", "ltz", "Luxembourgish"),
    ("lo", "lao", "Lao"),
    ("lt", "lit", "Lithuanian"),
    ("lv", "lav", "Latvian"),
    ("mg", "mlg", "Malagasy"),
    ("mi", "mri", "Maori"),
    ("mk", "mkd", "Macedonian"),
    ("ml", "mal", "Malayalam"),
    ("mn", "mon", "Mongolian"),
    ("mr", "mar", "Marathi"),
    ("ms", "msa", "Malay"),
    ("mt", "mlt", "Maltese"),
    ("my", "mya", "Burmese"),
    ("nb", "nob", "Norwegian Bokmål"),
    ("ne", "nep", "Nepali"),
    ("nl", "nld", "Dutch"),
    ("nn", "nno", "Norwegian Nynorsk"),
    ("no", "nor", "Norwegian"),
    ("or", "ori", "Odia"),
    ("pa", "pan", "Punjabi"),
    ("pl", "pol", "Polish"),
    ("ps", "pus", "Pashto"),
    ("pt", "por", "Portuguese"),
    ("ro", "ron", "Romanian"),
    ("ru", "rus", "Russian"),
    ("rw", "kin", "Kinyarwanda"),
    ("sd", "snd", "Sindhi"),
    ("si", "sin", "Sinhala"),
    ("sk", "slk", "Slovak"),
    ("sl", "slv", "Slovenian"),
    ("so", "som", "Somali"),
    ("sq", "sqi", "Albanian"),
    ("sr", "srp", "Serbian"),
    ("su", "sun", "Sundanese"),
    ("sv", "swe", "Swedish"),
    ("sw", "swa", "Swahili"),
    ("ta", "tam", "Tamil"),
    ("te", "tel", "Telugu"),
    ("tg", "tgk", "Tajik"),
    ("th", "tha", "Thai"),
    ("tk", "tuk", "Turkmen"),
    ("tl", "tgl", "Tagalog"),
    ("tr", "tur", "Turkish"),
    ("tt", "tat", "Tatar"),
    ("ug", "uig", "Uyghur"),
    ("uk", "ukr", "Ukrainian"),
    ("ur", "urd", "Urdu"),
    ("uz", "uzb", "Uzbek"),
    ("vi", "vie", "Vietnamese"),
    ("wo", "wol", "Wolof"),
    ("xh", "xho", "Xhosa"),
    ("yi", "yid", "Yiddish"),
    ("yo", "yor", "Yoruba"),
    ("zh", "zho", "Chinese"),
    ("zu", "zul", "Zulu"),
    ("bm", "bam", "Bambara"),
    ("lg", "lug", "Ganda"),
    ("ln", "lin", "Lingala"),
    ("ny", "nya", "Chichewa"),
    ("om", "orm", "Oromo"),
    ("rn", "run", "Kirundi"),
    ("sn", "sna", "Shona"),
    ("st", "sot", "Sesotho"),
    ("tn", "tsn", "Tswana"),
    # Languages without an ISO 639-1 code: their canonical code is the three-letter one.
    (None, "ceb", "Cebuano"),
    (None, "fil", "Filipino"),
    (None, "yue", "Cantonese"),
    (None, "haw", "Hawaiian"),
    (None, "hmn", "Hmong"),
    (None, "nso", "Northern Sotho"),
    (None, "mai", "Maithili"),
    (None, "bho", "Bhojpuri"),
)

# Other codes for the same languages: ISO 639-2/B bibliographic codes, and individual-language
# codes that corpora use in place of the macrolanguage (Mandarin for Chinese, Standard Arabic, ...).
_ALIASES: dict[str, str] = {
    "alb": "sq",
    "arm": "hy",
    "baq": "eu",
    "bur": "my",
    "chi": "zh",
    "cze": "cs",
    "dut": "nl",
    "fre": "fr",
    "geo": "ka",
    "ger": "de",
    "gre": "el",
    "ice": "is",
    "mac": "mk",
    "mao": "mi",
    "may": "ms",
    "per": "fa",
    "rum": "ro",
    "slo": "sk",
    "wel": "cy",
    "cmn": "zh",
    "arb": "ar",
    "pes": "fa",
    "zsm": "ms",
    "zlm": "ms",
    "ekk": "et",
    "lvs": "lv",
    "uzn": "uz",
    "khk": "mn",
    "npi": "ne",
    "swh": "sw",
    "azj": "az",
    "pnb": "pa",
    "kmr": "ku",
    "ory": "or",
    "pbu": "ps",
    "gaz": "om",
    "plt": "mg",
    "iw": "he",
    "in": "id",
    "ji": "yi",  # withdrawn ISO 639-1 codes still emitted by old tools
}

# Extra English names accepted by :func:`code_for_name` (prompts say "Mandarin", "Farsi", ...).
_NAME_ALIASES: dict[str, str] = {
    "mandarin": "zh",
    "mandarin chinese": "zh",
    "simplified chinese": "zh",
    "traditional chinese": "zh",
    "farsi": "fa",
    "castilian": "es",
    "flemish": "nl",
    "moldovan": "ro",
    "haitian": "ht",
    "kirghiz": "ky",
    "panjabi": "pa",
    "slovene": "sl",
    "sinhalese": "si",
    "bokmål": "nb",
    "bokmal": "nb",
    "norwegian bokmal": "nb",
    "uighur": "ug",
    "pushto": "ps",
    "oriya": "or",
    "gaelic": "ga",
    "brazilian portuguese": "pt",
}

#: Canonical code → English name, for every language in the table.
LANGUAGE_NAMES: dict[str, str] = {(two or three): name for two, three, name in _TABLE}

_CODE_TO_CANONICAL: dict[str, str] = {}
for _two, _three, _name in _TABLE:
    _canonical = _two or _three
    _CODE_TO_CANONICAL[_three] = _canonical
    if _two:
        _CODE_TO_CANONICAL[_two] = _canonical
for _alias, _target in _ALIASES.items():
    _CODE_TO_CANONICAL.setdefault(_alias, _target)

_NAME_TO_CODE: dict[str, str] = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
_NAME_TO_CODE.update(_NAME_ALIASES)

# A primary language subtag, then optional script/region subtags separated by '-' or '_'.
_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$")


@lru_cache(maxsize=4096)
def normalize(code: str) -> str:
    """Return the canonical code of a language: ISO 639-1 where it exists, else ISO 639-3.

    Accepts two- and three-letter codes in any case, with region or script subtags
    (``"DE"``, ``"deu"``, ``"ger"``, ``"de-DE"``, ``"de_AT"``, ``"zh-Hans-CN"``). Raises
    :class:`ValueError` naming the code when it is not a known language.
    """
    if not isinstance(code, str):
        raise ValueError(f"language code must be a string, got {type(code).__name__}: {code!r}")
    match = _TAG.match(code.strip().lower())
    canonical = _CODE_TO_CANONICAL.get(match.group(1)) if match else None
    if canonical is None:
        raise ValueError(f"unknown language code {code!r} (expected an ISO 639-1/639-3 code such as 'de' or 'deu')")
    return canonical


def is_known(code: str) -> bool:
    """True when :func:`normalize` accepts ``code``."""
    try:
        normalize(code)
    except ValueError:
        return False
    return True


def name(code: str) -> str:
    """English name of a language code, e.g. ``name("deu") == "German"``; unknown codes raise ValueError."""
    return LANGUAGE_NAMES[normalize(code)]


def code_for_name(language_name: str) -> str:
    """Canonical code for an English language name (case-insensitive), e.g. ``"German"`` → ``"de"``.

    Used to read the languages out of an instruction such as "Translate the following text from
    German to English." Unknown names raise :class:`ValueError` naming the name.
    """
    key = " ".join(language_name.strip().lower().split())
    try:
        return _NAME_TO_CODE[key]
    except KeyError:
        raise ValueError(f"unknown language name {language_name!r}") from None


def known_codes() -> list[str]:
    """All canonical codes, sorted (the languages :func:`name` can describe)."""
    return sorted(LANGUAGE_NAMES)
