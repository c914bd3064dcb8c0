"""Tests for the crisis detector: quality bar, obfuscation, Spanish, negation, group terms."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.crisis.detector import (
    REASON_CODES,
    Assessment,
    Detector,
    LexiconError,
)
from bot.crisis.evaluation import evaluate, load_records, run_eval, write_report

ROOT = Path(__file__).resolve().parents[2]
DEV_PATHS = (ROOT.parent / "shared" / "crisis" / "dev.jsonl", ROOT / "shared" / "crisis" / "dev.jsonl")


@pytest.fixture(scope="module")
def det() -> Detector:
    return Detector.load()


def _dev_path() -> Path | None:
    return next((p for p in DEV_PATHS if p.exists()), None)


# --------------------------------------------------------------------------- quality bar (dev set)


def test_dev_set_quality_bar(det: Detector) -> None:
    path = _dev_path()
    if path is None:
        pytest.skip("shared/crisis/dev.jsonl not available")
    report = evaluate(det, load_records(path))
    assert report.recall >= 0.95
    assert report.false_positive_rate <= 0.05
    sev3, n3 = report.recall_where("severity", 3)
    assert n3 > 0 and sev3 == 1.0, [o.id for o in report.misses if o.severity == 3]


# ------------------------------------------------------------- own sentences (generalisation guard)

# Written for these tests, not taken from the dev set: (text, minimum severity, about).
POSITIVES = [
    ("honestly i wish i could just go to sleep and never wake up", 2, "self"),
    ("some days I think my family would be better off if I just wasnt here", 2, "self"),
    ("i'm so tired of being alive. that's all", 2, "self"),
    ("i have no reason to keep going anymore", 2, "self"),
    ("I've been researching how many of my sleeping pills it would take", 3, "self"),
    ("i wrote goodbye letters to my girls last night and hid them in my jewelry box", 3, "self"),
    ("planning to end it friday when the kids are with their grandma", 3, "self"),
    ("i think about killing myself every day now", 2, "self"),
    ("I've been cutting again. my arms are a mess", 2, "self"),
    ("i'm a burden to everyone in this house", 2, "self"),
    ("I'm standing on the bridge by the highway right now and I can't stop looking down", 3, "self"),
    ("i took all my antidepressants at once about an hour ago", 3, "self"),
    ("i bought rope today. not for anything good", 3, "self"),
    ("my 9yo told his teacher he wants to kill himself", 2, "child"),
    ("my daughter keeps saying she wishes she was dead", 2, "child"),
    ("found a note under my son's pillow saying he's sorry for everything and he loves us", 3, "child"),
    ("my teen is hoarding her pills, i found a bag of them in her closet", 3, "child"),
    ("my autistic 6yo got out the front door, we can't find him, there's a pond behind us", 3, "child"),
    ("my son has been scratching his arms with a paperclip until they bleed", 2, "child"),
    ("my 7 year old says her uncle touches her when she sleeps over", 2, "child"),
    ("someone is threatening to send my son's nudes to his whole school unless he pays", 2, "child"),
    ("my 4 year old swallowed a button battery", 3, "child"),
    ("my son googled painless ways to die", 3, "child"),
    ("my husband said he's going to shoot himself", 3, "other"),
    ("my wife keeps saying she wants to die. she's been in bed for days", 2, "other"),
    ("my brother texted me goodbye and now his phone is off", 3, "other"),
    ("my partner threatened to kill me and the kids tonight", 3, "self"),
    ("my husband grabbed my throat during an argument last night", 3, "self"),
    ("my 15 year old didn't come home from school and her phone goes straight to voicemail", 3, "child"),
    ("my son gave his best friend his favorite hoodie and keeps saying 'remember me'", 3, "child"),
    (
        "I made sure the life insurance is paid up and the kids' stuff is organized. I think it's time",
        3,
        "self",
    ),
    (
        "my toddler drank some of the cleaning stuff under the sink, poison control is on the phone",
        3,
        "child",
    ),
    ("a guy my son met online asked him to send naked pics and now says he'll post them", 2, "child"),
    ("my husband punched the wall next to my head and said next time it won't be the wall", 3, "self"),
    # Spanish
    ("Me quiero morir. No aguanto más esta vida", 2, "self"),
    ("ya no tengo ganas de vivir, todo es muy difícil con mi hijo", 2, "self"),
    ("a veces pienso en quitarme la vida", 2, "self"),
    ("mis hijos estarían mejor sin mí, lo sé", 2, "self"),
    ("me corté otra vez anoche", 2, "self"),
    ("tengo las pastillas listas, esta noche lo hago", 3, "self"),
    ("mi hijo dijo que quiere morirse", 2, "child"),
    ("mi hija se está cortando las piernas", 2, "child"),
    ("no encuentro a mi niña, tiene síndrome de down", 3, "child"),
    ("mi esposo amenaza con matarse si me voy con los niños", 2, "other"),
    ("se tomó todas mis pastillas para dormir", 3, "child"),
    ("el papá de mis hijos me amenazó con matarme si lo dejo", 3, "self"),
    ("i took 30 of my ibuprofen. i don't feel anything yet", 3, "self"),
    ("my friend from this group said she has a plan and a date picked", 3, "other"),
    ("found my teen's instagram, she posted a pic of pills with 'tonight' as the caption", 3, "child"),
    ("my ex said he'll make sure I never see the kids again and he has a gun", 3, "self"),
]

NEGATIVES = [
    "this IEP meeting is going to be the death of me lol",
    "my daughter is dying to go to the new trampoline park",
    "I literally could kill my husband, he let the kids have ice cream before dinner",
    "our school counselor is running a suicide prevention workshop for parents thursday",
    "I used to cut when I was 15. 20 years later I'm a nurse and doing great. you can get through this",
    "my son cut his finger on a can and needed 3 stitches. he was so brave",
    "the battery on his talker died in the middle of speech therapy",
    "I'm not suicidal, just burned out. does anyone have respite recs?",
    "lol I want to die, my kid told the whole waiting room I have a tattoo 😂",
    "kms lol the pharmacy closed 5 minutes before I got there",
    "we're moving next month so I'm giving away a lot of our stuff, DM me",
    "I left a note for the teacher about his meds changing",
    "my daughter ran off at the park today but we found her right away at the swings",
    "tonight's the night! first sleepover at grandma's. wish us luck",
    "took his meds like a champ tonight without hiding them in applesauce!",
    "my daughter says she wants to die her hair blue for the concert",
    "he hurt himself on the trampoline, just a sprain",
    "how much tylenol is too much for a 40 lb kid? the chart is confusing",
    "the kids will be fine without me for one night, right?",
    "I don't want to live in this state anymore, the services are terrible",
    "she killed it at her first piano recital!!",
    "my son's goldfish died and we had a funeral in the backyard",
    "I attempted suicide in college and now I volunteer at the crisis line. you're not alone",
    "we're giving away our old bunk beds, need them gone by friday",
    "my husband went hunting this weekend so it's just me and the kids",
    "she'd rather die than wear the itchy tights lol",
    "this is my last post for a while, taking a social media break. see you in a month!",
    "our cat scratched my son's arms when he tried to dress her up lol",
    "can someone explain what 'unalive' means? my son keeps saying it about minecraft mobs",
    "the character in her book killed himself and she wants to talk about it",
    # Spanish
    "me muero de hambre, alguien sabe de un restaurante sensory friendly?",
    "mi hijo se cortó el pelo solito jajaja",
    "la maestra me va a matar, se me olvidó la tarea otra vez",
    "¿alguien tomó el taller de prevención del suicidio en la biblioteca?",
    "ya no quiero vivir en esta ciudad, no hay servicios",
    "estoy muerta de cansancio pero feliz",
    "ya me quiero morir de sueño, mi hijo no durmió nada",
    "mi esposo me mata si se entera que compré otro juguete jaja",
    "took 2 ibuprofen for this headache and finally feel human",
    "my son burned himself on the stove making grilled cheese, just a small blister",
    "my 16yo got her license and drove to school by herself!",
    "my daughter wants pills for her headache but she's only 6, how much children's tylenol?",
    "he was hanging upside down on the monkey bars and fell, he's fine",
]


@pytest.mark.parametrize(("text", "minimum", "about"), POSITIVES)
def test_own_positive_sentences(det: Detector, text: str, minimum: int, about: str) -> None:
    result = det.assess(text)
    assert result.severity >= minimum, (text, result)
    assert result.about == about, (text, result)


@pytest.mark.parametrize("text", NEGATIVES)
def test_own_hard_negatives_do_not_alert(det: Detector, text: str) -> None:
    result = det.assess(text)
    assert result.severity < 2, (text, result)


# ------------------------------------------------------------------------------------ obfuscation

OBFUSCATED = [
    "I want to d!e",
    "S U I C I D A L tonight, not joking",
    "s-u-i-c-i-d-a-l thoughts again",
    "s.u.i.c.i.d.a.l thoughts again",
    "k1ll mys3lf",
    "i want to k\u0456ll myself",  # Cyrillic i
    "i want to d\u0456e",
    "s\u200bu\u200bi\u200bc\u200bi\u200bd\u200ba\u200bl thoughts",  # zero-width spaces
    "I want to \U0001d4b9\U0001d4be\U0001d452",  # mathematical script letters
    "I want to ＤＩＥ",  # full width
    "i don\u2019t want to be alive anymore",  # typographic apostrophe
    "kinda want to unalive ngl",
    "thinking about self-deleting tbh",
    "sewer slide thoughts all week",
    "kms. not joking this time",
    "been having s*icidal thoughts",
    "i want to diiiiie",
    "i wanna d i e",
    "su1c1dal again",
    "sucidal thoughts are back",  # typo
    "i keep thinkin about killing my self",
]


@pytest.mark.parametrize("text", OBFUSCATED)
def test_obfuscated_forms_are_caught(det: Detector, text: str) -> None:
    assert det.assess(text).severity >= 2, text


def test_obfuscation_never_lowers_severity(det: Detector) -> None:
    plain = det.assess("killing myself this weekend when the kids are at their dad's")
    coded = det.assess("unaliving myself this weekend when the kids are at their dad's")
    assert plain.severity == coded.severity == 3


# ------------------------------------------------------------------------- negation and idioms


@pytest.mark.parametrize(
    "text",
    [
        "I'm not suicidal, I'm just so tired",
        "she's not suicidal, the psychiatrist did a full screen today",
        "no, he's not self-harming. the scratches are from the cat",
        "she never said she wanted to die, the school misread her essay",
        "I don't want to die or anything dramatic, I just want one night of sleep",
        "this homework is killing me",
        "me muero de risa con mi hijo",
        "my phone died mid call",
        "over my dead body is he getting a phone at 8",
    ],
)
def test_negations_and_idioms_stay_below_alert(det: Detector, text: str) -> None:
    assert det.assess(text).severity < 2, text


def test_negation_does_not_cancel_other_risk(det: Detector) -> None:
    result = det.assess("I'm not suicidal but I keep wishing a truck would hit me")
    assert result.severity >= 2


def test_jokey_slang_versus_sincere_slang(det: Detector) -> None:
    assert det.assess("kms the printer jammed again 😂").severity < 2
    assert det.assess("kms. no really, i'm not joking this time").severity >= 2


# ------------------------------------------------------------------------------ attribution


@pytest.mark.parametrize(
    ("text", "about"),
    [
        ("she said she wants to die", "child"),
        ("my son told his dad he wants to kill himself", "child"),
        ("my husband keeps saying he'd be better off dead", "other"),
        ("I want to die", "self"),
        ("'i want to die,' my daughter said at dinner", "child"),
        ("the kid who sits next to my son told him he's going to kill himself tomorrow", "other"),
        ("my brain keeps saying kill yourself every time I mess up", "self"),
    ],
)
def test_reported_speech_attribution(det: Detector, text: str, about: str) -> None:
    result = det.assess(text)
    assert result.severity >= 2
    assert result.about == about


# ------------------------------------------------------------------------------- group terms


def test_group_term_raises_to_risk(det: Detector) -> None:
    terms = det.compile_group_terms(["blue whale", "fluffy slippers"])
    text = "my son keeps talking about the blue whale thing"
    assert det.assess(text).severity < 2
    result = det.assess(text, terms)
    assert result.severity == 2
    assert result.reason == "group_term"
    assert "group_term" in result.rules


def test_group_term_matches_obfuscated_forms(det: Detector) -> None:
    terms = det.compile_group_terms(["blue whale"])
    assert det.assess("the b-l-u-e wh@le challenge", terms).severity >= 2
    terms = det.compile_group_terms(["Cañada Bridge"])
    assert det.assess("she is at the canada bridge", terms).severity >= 2
    long_terms = det.compile_group_terms(["nightlock"])
    assert det.assess("he keeps drawing nigthlock", long_terms).severity >= 2  # typo


def test_group_term_never_lowers_or_silences(det: Detector) -> None:
    terms = det.compile_group_terms(["pills"])
    plain = det.assess("took a bunch of pills like 20 min ago")
    with_terms = det.assess("took a bunch of pills like 20 min ago", terms)
    assert plain.severity == 3
    assert with_terms.severity == 3
    assert with_terms.reason == plain.reason
    assert det.assess("I want to die", det.compile_group_terms([])).severity == 2


def test_group_terms_repr_and_empty(det: Detector) -> None:
    terms = det.compile_group_terms(["", "  ", "x"])
    assert "x" not in repr(terms) or repr(terms).startswith("GroupTerms(count=")
    assert len(det.compile_group_terms([])) == 0


# --------------------------------------------------------------------------- data and contract


def test_assessment_is_frozen_and_textless(det: Detector) -> None:
    secret = "my secret phrase: I want to die"
    result = det.assess(secret)
    assert isinstance(result, Assessment)
    assert "secret" not in repr(result)
    assert all("secret" not in r for r in result.rules)
    with pytest.raises(AttributeError):
        result.severity = 0  # type: ignore[misc]
    assert not hasattr(result, "__dict__")


def test_reasons_are_known_codes(det: Detector) -> None:
    for text, _, _ in POSITIVES:
        assert det.assess(text).reason in REASON_CODES
    assert det.assess("hello").reason == "none"


def test_language_detection(det: Detector) -> None:
    assert det.assess("mi hijo no quiere ir a la escuela").language == "es"
    assert det.assess("my son does not want to go to school").language == "en"


def test_every_rule_is_prefiltered(det: Detector) -> None:
    assert det.unanchored_rules == ()
    assert len(det.phrases) > 1000


def test_bad_lexicon_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "x"\nseverity = 2\nreason = "not_a_reason"\nmatch = ["die"]\n'
    )
    with pytest.raises(LexiconError):
        Detector.load(tmp_path)
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nid = "x"\nseverity = 2\nreason = "distress"\nmatch = ["{nope}"]\n'
    )
    with pytest.raises(LexiconError):
        Detector.load(tmp_path)


def test_minimal_custom_lexicon(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        "[words]\nbad = ['awful', 'terrible']\n"
        '[[rule]]\nid = "t.bad"\nseverity = 1\nreason = "distress"\nmatch = ["feel {bad}"]\n'
    )
    custom = Detector.load(tmp_path)
    assert custom.assess("I feel awful").severity == 1
    assert custom.assess("I feel fine").severity == 0


# ------------------------------------------------------------------------------ evaluation tool


def test_run_eval_prints_report_and_json(tmp_path: Path) -> None:
    path = tmp_path / "mini.jsonl"
    records = [
        {"id": "a", "text": "I want to die", "label": "crisis", "severity": 2, "about": "self"},
        {"id": "b", "text": "this homework is killing me", "label": "none", "severity": 0},
        {"text": "IEP went great", "label": "none"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    out = io.StringIO()
    assert run_eval(path, out) == 0
    last = json.loads(out.getvalue().strip().splitlines()[-1])
    assert last["n"] == 3
    assert last["recall"] == 1.0
    assert last["false_positive_rate"] == 0.0
    assert {"precision", "severity3_recall", "fpr_severity1"} <= set(last)


def test_evaluate_counts_misses_and_false_alarms(det: Detector) -> None:
    report = evaluate(
        det,
        [
            {"text": "nice day at the park", "label": "crisis", "severity": 2},
            {"text": "I want to die", "label": "none", "severity": 0},
        ],
    )
    assert len(report.misses) == 1 and len(report.false_alarms) == 1
    buf = io.StringIO()
    write_report(report, buf)
    assert "misses (1)" in buf.getvalue()


# ------------------------------------------------------------------------------------ robustness


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_arbitrary_text_never_raises(det: Detector, text: str) -> None:
    result = det.assess(text)
    assert 0 <= result.severity <= 3
    assert result.about in ("none", "self", "child", "other")
    assert result.reason in REASON_CODES


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "kill",
                "myself",
                "die",
                "not",
                "lol",
                "s",
                "u",
                "i",
                "-",
                "'",
                "*",
                "1",
                "\n",
                "\u200b",
                "💊",
                "🔪",
                "🩸",
                "me",
                "quiero",
                "morir",
                "sewer",
                "slide",
                "😂",
                "tonight",
            ]
        ),
        max_size=60,
    ),
    st.lists(st.text(max_size=5), max_size=3),
)
def test_trigger_soup_and_group_terms_never_raise(det: Detector, words: list[str], terms: list[str]) -> None:
    text = " ".join(words)
    plain = det.assess(text)
    raised = det.assess(text, det.compile_group_terms(terms))
    assert 0 <= plain.severity <= 3
    assert raised.severity >= plain.severity


def test_huge_and_control_character_input(det: Detector) -> None:
    huge = "we had a good day at the park. " * 20_000 + " I want to die"
    assert det.assess(huge).severity >= 2  # the tail is still screened
    assert det.assess("\x00\x01\x02\x1b[31m" * 5000).severity == 0
    assert det.assess("").severity == 0
    assert det.assess("\u0301" * 10_000 + "e").severity == 0
