"""Read moderation-evasion slang ("algospeak") as the words it stands for, for the regex screen only.

Users who know a platform filters words write around the filter: "seggs", "pr0n", "unalive", "kms",
"sewerslide", "n00dz", emoji that stand for words (🍆💦, 🌽 for porn, 🔪🩸). :func:`decode` rewrites a
normalised text into one more reading for the lexicon; the classifier's input is unchanged (its head was
trained on :func:`classifiers.text_tricks.normalize_prompt`). Ambiguous codes are rewritten only in context:
"kms" after a number is kilometres, "cp" is child abuse material only next to trading words ("dm me",
"trade", "link", "folder"), "corn" only next to video words or 🌽. Emoji become ``emoji_<name>`` tokens,
which no caption writes, so the lexicon can weigh combinations ("emoji_eggplant emoji_splash").
"""

from __future__ import annotations

import re

# Emoji that evaders use for words; variation selectors are dropped first.
_EMOJI = {
    "\U0001f346": "eggplant",
    "\U0001f351": "peach",
    "\U0001f4a6": "splash",
    "\U0001f445": "tongue",
    "\U0001f33d": "corn",
    "\U0001f51e": "no_under18",
    "\U0001f52a": "knife",
    "\U0001fa78": "blood",
    "\U0001fa92": "razor",
    "\U0001f480": "skull",
    "\u2620": "skull",
    "\U0001fa79": "bandage",
    "\U0001f52b": "gun",
    "\U0001f9b4": "bone",
    "\U0001f467": "girl",
    "\U0001f466": "boy",
    "\U0001f476": "baby",
    "\U0001f9d2": "child",
    "\U0001f355": "pizza",
}
_VS = re.compile("[\ufe0e\ufe0f\u200d]")
_EMOJI_RE = re.compile("|".join(map(re.escape, _EMOJI)))

# (pattern on normalised text, replacement): spellings that only evade. Words with everyday meanings are
# rewritten only in context (lookaheads); everything else is left to the policy's lexicon.
_CODES: tuple[tuple[str, str], ...] = (
    (r"\b(seggs|segs|secks|s\*+x|s3x)\b", "sex"),
    (r"\b(seggsy|secksy|s\*+xy)\b", "sexy"),
    (r"\b(pr[o0]n|p\*+rn|p\*+r\*+n|porm|p0rn)\b", "porn"),
    (r"\b(n[o0]{2,}d[sz]|nudez|nudies|nudz)\b", "nudes"),
    (r"\b(f[uv]+kk?(ing|in|ed|er|s)?|fcking|fking|fukin|phuck\w*|f\*+ck\w*|f\*+k\w*)\b", "fucking"),
    (r"\b(r34|rule ?34)\b", "rule34"),
    # "corn" is porn only next to a video word or the corn emoji ("corn on the cob" stays)
    (r"\bcorn(?= ?(emoji_corn|videos?|vids?|clips?|stars?|sites?|hub|tapes?|content)\b)", "porn"),
    (r"\bemoji_corn (?=(vids?|videos?|clips?|content|stars?|sites?)\b)", "porn "),
    # child abuse material: "cp" only before trading words, never after "has/with" (cerebral palsy)
    (
        r"(?<!has )(?<!with )(?<!have )(?<![\d.] )\b(cheese ?pizza|c\.? ?p\b\.?)"
        r"(?=( (vids?|videos?|clips?|pics)\b|"
        r".{0,20}\b(trade|trading|swap|dm me|folder|sell\w*|buy\w*|collection|mega link|telegram"
        r"|for sale)\b))",
        "child porn",
    ),
    (r"\b(trade|trading|swap|selling|buying) (cheese ?pizza|cp)\b", r"\1 child porn"),
    (r"\b(csam|cp porn|pthc|ch[i1]ld ?p[o0]rn|kiddie ?p[o0]rn|kiddy ?p[o0]rn)\b", "child porn"),
    # self-harm
    (r"\bun-?aliv(e|ed|es|ing) (?=(myself|yourself|himself|herself|themselves|me)\b)", "kill "),
    (r"\bun-?aliv(e|ed|es|ing) (?=(him|her|them|someone|people|a \w+|the \w+)\b)", "kill "),
    (r"\b(un-?aliv\w*|sewer ?slid\w*|s[uo]ey?side)\b", "suicide"),
    (r"\b(self[- ]?delet\w*|delete myself|neck(ing)? myself|an hero|toaster bath)\b", "suicide"),
    (r"\bkys\b", "kill yourself"),
    (
        r"\b(yeet|toss|throw|throwing|yeeting) (myself|yourself|herself|himself) (off|out)\b",
        "throw myself off",
    ),
    (r"\b(s/h|s\.h\.?|shing)\b", "self harm"),
    (r"\bsh (?=(relapse|scars?|cuts?|kit|clean|urges?|streak|wounds?)\b)", "self harm "),
)
# Words censored with asterisks ("k*ll", "su*cide", "h*rm"): each "*" stands for one or two letters; a word is
# read as the one vocabulary word it can spell, if exactly one fits.
_CENSORED = re.compile(r"\b\w*\*[\w*]*")
_VOCAB = (
    "sex",
    "sexy",
    "porn",
    "nude",
    "nudes",
    "naked",
    "fuck",
    "fucking",
    "dick",
    "cock",
    "pussy",
    "rape",
    "raped",
    "kill",
    "killed",
    "killing",
    "murder",
    "suicide",
    "harm",
    "cut",
    "cutting",
    "die",
    "dead",
    "pedo",
    "cum",
)


def _uncensor(match: re.Match[str]) -> str:
    word = match.group(0)
    if not any(ch.isalpha() for ch in word):
        return word
    pattern = re.compile("".join("[a-z]{1,2}" if ch == "*" else re.escape(ch) for ch in word))
    fits = [v for v in _VOCAB if pattern.fullmatch(v)]
    return fits[0] if len(fits) == 1 else word


_KMS = re.compile(r"\b(kms|kmsl)\b")
# "kms" is kilometres after a number or a quantity word, or before a direction or "away".
_KM_BEFORE = re.compile(
    r"(\d|\b(few|couple|many|some|more|less|extra|the|of|per|total|two|three|four|five|ten|"
    r"hundred|thousand|last|first))\W{0,2}$"
)
_KM_AFTER = re.compile(
    r"^\W{0,2}(away|from|to|north|south|east|west|long|of|per|run|ride|hike|walk|left|an hour|/h)\b"
)


def _kms(match: re.Match[str]) -> str:
    before, after = match.string[: match.start()], match.string[match.end() :]
    if _KM_BEFORE.search(before) or _KM_AFTER.search(after):
        return match.group(0)
    return "kill myself"


_CODES_RE = tuple((re.compile(p), r) for p, r in _CODES)


# Letters spaced out one by one with wider gaps between words ("c h o p p i n g  u p  a  b o d y"): the
# normalisers join words of three or more letters, so two-letter words ("u p") stayed split.
_SPACED_LETTERS = re.compile(r"(?<!\w)\w(?: \w)*(?: {2,}\w(?: \w)*){2,}(?!\w)")


def _join_letters(match: re.Match[str]) -> str:
    words = [w.replace(" ", "") for w in re.split(r" {2,}", match.group(0))]
    return " ".join(words) if max(map(len, words)) >= 3 else match.group(0)


def join_spaced(text: str) -> str:
    """Join words spelled out letter by letter, split by double spaces (run on the un-normalised text)."""
    return _SPACED_LETTERS.sub(_join_letters, text)


def emoji_words(text: str) -> str:
    """Replace evasion emoji by ``emoji_<name>`` tokens, spaced so ``\\b`` works around them."""
    text = _VS.sub("", text)
    return _EMOJI_RE.sub(lambda m: f" emoji_{_EMOJI[m.group(0)]} ", text)


def decode(text: str) -> str:
    """One reading of a normalised ``text`` with emoji as tokens and algospeak codes as plain words."""
    text = _CENSORED.sub(_uncensor, re.sub(r"\s+", " ", emoji_words(text)))
    for pattern, repl in _CODES_RE:
        text = pattern.sub(repl, text)
    text = _KMS.sub(_kms, text)
    return re.sub(r"\s+", " ", text).strip()
