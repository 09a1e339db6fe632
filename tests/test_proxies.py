from __future__ import annotations

import pytest

from bot.metrics.proxies import StyleProxies, complete_sentences, count_syllables, measure

FORMAL_DETAILED_CALM = """\
Thank you for contacting ROMASHKA support regarding the synchronisation of your calendar.
The behaviour you describe is caused by an expired authorisation between your account and \
the external calendar provider.
To restore the connection, please open Settings, select Integrations, and choose \
Reconnect next to the calendar you would like to synchronise.
After the authorisation has been renewed, existing appointments are transferred \
automatically within approximately fifteen minutes.
Should the appointments remain unavailable after that period, please send us the \
identifier displayed at the bottom of the Integrations page, and we will investigate \
the configuration on our side.
We appreciate your patience and remain at your disposal for any further questions.
"""

CASUAL_ENTHUSIASTIC = """\
Hey Sam! Oh no, that's annoying! 😅
Good news: it's a quick fix! Just hit Settings → Integrations → Reconnect and you're done! :tada:
Your stuff'll show up in a few minutes. Let me know if it doesn't, okay? 🙌
"""


def known(value: float | None) -> float:
    """A proxy that must have been measured here."""
    assert value is not None
    return value


def test_proxies_separate_formal_from_casual_answers() -> None:
    formal = measure(FORMAL_DETAILED_CALM)
    casual = measure(CASUAL_ENTHUSIASTIC)

    assert formal.exclamations_per_sentence == 0
    assert known(casual.exclamations_per_sentence) > 0.5
    assert formal.contractions_per_100_words == 0
    assert known(casual.contractions_per_100_words) > 10
    assert formal.emoji_count == 0
    assert casual.emoji_count == 3
    assert known(formal.mean_sentence_length) > 2 * known(casual.mean_sentence_length)
    assert known(formal.reading_grade) > known(casual.reading_grade) + 5
    assert formal.word_count > 2 * casual.word_count
    assert casual.question_count == 1
    assert formal.question_count == 0


@pytest.mark.parametrize("text", ["", "   \n\t ", "🎉", ":tada:", "!!!", "..."])
def test_texts_without_words_measure_nothing_per_sentence(text: str) -> None:
    # counts are real zeros; a figure per sentence or per word has nothing to be measured on
    p = measure(text)
    assert p.word_count == 0
    assert p.sentence_count == 0
    assert p.exclamations_per_sentence is None
    assert p.contractions_per_100_words is None
    assert p.mean_sentence_length is None
    assert p.reading_grade is None
    assert p.stored()["reading_grade"] is None


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("Hello there. How are you? I am fine and I w", "Hello there. How are you? "),
        ("Sure! Just click the", "Sure! "),
        ("Steps:\n- Open Settings\n- Click Res", "Steps:\n- Open Settings\n"),
        ("See https://example.com/a.b for it. Then", "See https://example.com/a.b for it. "),
        ("It ended exactly here.", "It ended exactly here."),
        ("No sentence ever finished", ""),
        ("", ""),
    ],
)
def test_complete_sentences_of_a_cut_text(text: str, complete: str) -> None:
    assert complete_sentences(text) == complete


def test_cut_answer_is_measured_on_its_complete_sentences() -> None:
    text = "Click Reset now! It's quick. Then open the configuration dialogue and choose Sync"
    whole, cut = measure(text), measure(text, cut=True)
    # the fragment would lengthen the mean sentence and lower the share of exclamations
    assert cut.mean_sentence_length == 2.5
    assert known(whole.mean_sentence_length) > 4
    assert cut.exclamations_per_sentence == 0.5
    assert cut.contractions_per_100_words == 20.0
    # counts stay those of everything the customer saw
    assert cut.word_count == whole.word_count == 13
    assert cut.sentence_count == 3


def test_answer_cut_before_its_first_sentence_ended_measures_nothing_per_sentence() -> None:
    p = measure("Thank you for contacting us about the", cut=True)
    assert p.word_count == 7
    assert p.reading_grade is None
    assert p.mean_sentence_length is None
    assert p.exclamations_per_sentence is None


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ("Great 🎉", 1),
        (":tada: done :white_check_mark:", 2),
        (":smile::tada:", 2),
        ("Meet at 10:30:45 please", 0),
        ("Note:see:this", 0),
        ("Thumbs 👍🏽 up", 1),
        ("Family 👨‍👩‍👧 photo", 1),
        ("Flag 🇩🇪 here", 1),
        ("Sun ☀️ and ⭐", 2),
        ("Plain text only.", 0),
    ],
)
def test_emoji_count(text: str, emoji: int) -> None:
    assert measure(text).emoji_count == emoji


@pytest.mark.parametrize(
    ("text", "contractions", "words"),
    [
        ("It's fine, don't worry.", 2, 4),
        ("The customer's account is locked.", 0, 5),
        ("You're right, we'll fix what's broken and I'd say you've won.", 5, 11),
        ("Let’s go, it’s done.", 2, 4),
        ("Please do not worry.", 0, 4),
    ],
)
def test_contractions(text: str, contractions: int, words: int) -> None:
    p = measure(text)
    assert p.word_count == words
    assert p.contractions_per_100_words == round(100 * contractions / words, 2)


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello there. How are you? Fine!", 3),
        ("One sentence without a full stop", 1),
        ("See https://example.com/a.b.c for details.", 1),
        ("Steps:\n- Open Settings\n- Click Reset", 3),
        ("Wait... what?! Really.", 3),
        ('He said "stop." Then left.', 2),
    ],
)
def test_sentence_count(text: str, sentences: int) -> None:
    assert measure(text).sentence_count == sentences


@pytest.mark.parametrize(
    ("text", "questions", "exclamations_per_sentence"),
    [
        ("Why? Really?? ok", 2, 0.0),
        ("Wow!! Great! Fine.", 0, 0.667),
        ("Done!", 0, 1.0),
    ],
)
def test_questions_and_exclamations(
    text: str, questions: int, exclamations_per_sentence: float
) -> None:
    p = measure(text)
    assert p.question_count == questions
    assert p.exclamations_per_sentence == exclamations_per_sentence


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("cat", 1),
        ("the", 1),
        ("make", 1),
        ("takes", 1),
        ("table", 2),
        ("uses", 2),
        ("reset", 2),
        ("password", 2),
        ("configuration", 5),
        ("immediately", 5),
        ("2024", 1),
        ("don't", 1),
    ],
)
def test_syllable_heuristic(word: str, syllables: int) -> None:
    assert count_syllables(word) == syllables


def test_flesch_kincaid_grade_formula() -> None:
    # 6 words, 1 sentence, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59
    p = measure("The cat sat on the mat.")
    assert p.reading_grade == -1.45
    assert p.mean_sentence_length == 6


def test_as_dict_has_every_field() -> None:
    p = measure("Hi! How are you?")
    d = p.as_dict()
    assert set(d) == set(StyleProxies.__dataclass_fields__)
    assert d["sentence_count"] == 2
    assert d["question_count"] == 1
