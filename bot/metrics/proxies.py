"""Cheap, deterministic style measurements of an answer.

These proxies need no model, so they can be shown next to every answer and compared across
profiles; they complement the LLM judge, which is slower and can fail. A figure per sentence or
per word is None ("n/a") when there is nothing to measure it on: an empty answer has no
sentence length, and of an answer cut at its length limit only the complete sentences count.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Final

# Slack renders :shortcode: as emoji. The look-arounds keep "Note:see:this" out, and
# requiring a letter keeps times like 10:30:45 out.
_SHORTCODE: Final = re.compile(r"(?<!\w):([a-z0-9_+'-]*[a-z][a-z0-9_+'-]*):(?!\w)")
_URL: Final = re.compile(r"<?https?://[^\s>]+>?")
# One emoji = a pictographic code point (or a pair of regional indicators for a flag),
# optionally glued to more by zero-width joiners, with variation selectors and skin tones.
_EMOJI_CORE: Final = (
    r"(?:[\U0001F1E6-\U0001F1FF]{2}"
    r"|[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF\u2B50\u2B55"
    r"\u2B05-\u2B07\u2B1B\u2B1C\u203C\u2049\u2122\u2139\u2194-\u2199\u231A\u231B\u23E9-\u23FA])"
    r"[\uFE0F\U0001F3FB-\U0001F3FF]*"
)
_EMOJI: Final = re.compile(rf"{_EMOJI_CORE}(?:\u200D{_EMOJI_CORE})*")
_WORD: Final = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
# A sentence ends at terminal punctuation followed by space or end, or at a line break
# (list items and headings are sentences for readability purposes).
_SENTENCE_SPLIT: Final = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n+")
_EXCLAMATION_RUN: Final = re.compile(r"!+")
_QUESTION_RUN: Final = re.compile(r"\?+")
_CONTRACTION_SUFFIX: Final = re.compile(r"(?:n't|'re|'ve|'ll|'d|'m)$", re.IGNORECASE)
# "'s" is usually possessive ("the customer's account"), so only these count as contractions.
_S_CONTRACTIONS: Final = frozenset(
    {
        "it's",
        "that's",
        "there's",
        "here's",
        "what's",
        "let's",
        "he's",
        "she's",
        "who's",
        "where's",
        "how's",
        "when's",
        "why's",
        "everything's",
        "nothing's",
        "something's",
    }
)
_VOWEL_GROUPS: Final = re.compile(r"[aeiouy]+")


@dataclass(frozen=True, slots=True)
class StyleProxies:
    exclamations_per_sentence: float | None
    contractions_per_100_words: float | None
    mean_sentence_length: float | None
    reading_grade: float | None
    emoji_count: int
    question_count: int
    word_count: int
    sentence_count: int

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)

    def stored(self) -> dict[str, float | None]:
        """As kept in a result's `proxies` column: numbers, null where nothing was measured."""
        return {k: None if v is None else float(v) for k, v in self.as_dict().items()}


def count_syllables(word: str) -> int:
    """Vowel-group heuristic: good to about ±1 syllable per word, plenty for a grade level."""
    w = word.lower().replace("’", "'").split("'")[0]
    w = re.sub(r"[^a-z]", "", w)
    if not w:
        # Numbers and symbols are read as roughly one syllable each.
        return 1
    groups = len(_VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1
    if w.endswith("es") and not w.endswith(("ses", "xes", "zes", "ces", "ges")) and groups > 1:
        groups -= 1
    return max(1, groups)


def _is_contraction(word: str) -> bool:
    w = word.lower().replace("’", "'")
    return bool(_CONTRACTION_SUFFIX.search(w)) or w in _S_CONTRACTIONS


_ENDS_A_SENTENCE: Final = re.compile(r"[.!?…][\"')\]]*\s*$")


def complete_sentences(text: str) -> str:
    """`text` up to the end of its last complete sentence (for a text cut mid-sentence)."""
    if _ENDS_A_SENTENCE.search(text):
        return text
    ends = [m.end() for m in _SENTENCE_SPLIT.finditer(text)]
    return text[: ends[-1]] if ends else ""


def _prose(text: str) -> str:
    without_codes = _SHORTCODE.sub(" ", text)
    # Emoji and URLs are not words, and a URL's dots must not end sentences.
    return _URL.sub(" ", _EMOJI.sub(" ", without_codes))


def measure(text: str, *, cut: bool = False) -> StyleProxies:
    """Counts over the whole text; figures per sentence and per word over its complete
    sentences when it was `cut` at a length limit (a fragment would skew them)."""
    shortcodes = _SHORTCODE.findall(text)
    emoji = _EMOJI.findall(_SHORTCODE.sub(" ", text))
    prose = _prose(text)
    words = _WORD.findall(prose)
    questions = len(_QUESTION_RUN.findall(prose))
    sentence_count = len([s for s in _SENTENCE_SPLIT.split(prose) if _WORD.search(s)])

    basis = _prose(complete_sentences(text)) if cut else prose
    basis_sentences = [s for s in _SENTENCE_SPLIT.split(basis) if _WORD.search(s)]
    basis_words = _WORD.findall(basis)
    exclamations = len(_EXCLAMATION_RUN.findall(basis))
    contractions = sum(1 for w in basis_words if _is_contraction(w))

    per_sentence: float | None = None
    grade: float | None = None
    if basis_words and basis_sentences:
        per_sentence = len(basis_words) / len(basis_sentences)
        syllables_per_word = sum(count_syllables(w) for w in basis_words) / len(basis_words)
        grade = round(0.39 * per_sentence + 11.8 * syllables_per_word - 15.59, 2)

    return StyleProxies(
        exclamations_per_sentence=round(exclamations / len(basis_sentences), 3)
        if basis_sentences
        else None,
        contractions_per_100_words=round(100 * contractions / len(basis_words), 2)
        if basis_words
        else None,
        mean_sentence_length=None if per_sentence is None else round(per_sentence, 2),
        reading_grade=grade,
        emoji_count=len(shortcodes) + len(emoji),
        question_count=questions,
        word_count=len(words),
        sentence_count=sentence_count,
    )
