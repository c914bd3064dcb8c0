"""Issue #6 scenarios through the real python-telegram-bot against the fake Bot API server:
a join and its welcome, consent in private, a check-in wave with presses, a crisis in a forum
topic reaching the alert chat and a moderator with a working Acknowledge, /resources, and a 429
storm during an escalation."""

from __future__ import annotations

import pytest

from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import DANA, FORUM, GROUP, ROBIN, SAM, STAFF, Bot

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CRISIS = "i cant do this anymore, i have the pills ready and tonight is the night"


def data_of(record: object, label_start: str) -> str:
    for button in record.buttons():  # type: ignore[attr-defined]
        if button["text"].startswith(label_start):
            return str(button["callback_data"])
    raise AssertionError(f"no button {label_start!r}")


async def agree_through_the_deep_link(bot: Bot, user: int) -> None:
    """Press the welcome's I agree (a t.me deep link), then agree in the private chat."""
    fake = bot.fake
    welcome = await fake.wait_for(lambda r: r.chat_id == GROUP and any(
        "start=onb-" in (b.get("url") or "") for b in r.buttons()), timeout=10)
    url = next(b["url"] for b in welcome.buttons() if "start=onb-" in (b.get("url") or ""))
    assert url.startswith("https://t.me/kindred_test_bot?start=onb-")
    start = len(fake.sent)
    fake.user_starts_bot(user, payload=url.split("start=")[1])
    private = await fake.wait_for(lambda r: r.chat_id == user and any(
        d.startswith("onb:agree") for d in r.button_data()), timeout=10, start=start)
    agree = next(d for d in private.button_data() if d.startswith("onb:agree"))
    fake.user_presses(user, private.message_id, user, agree)
    await fake.wait_for(lambda r: r.chat_id == user and bool(r.button_data())
                        and r.message_id != private.message_id, timeout=10, start=start)


async def test_join_welcome_and_consent_in_private(lite_bot: Bot) -> None:
    fake = lite_bot.fake
    fake.user_sends(GROUP, DANA, "/setup")
    await lite_bot.reply_to(GROUP, "set up")
    fake.user_joins(GROUP, ROBIN)
    fake.user_joins(GROUP, SAM)  # within a minute: no second welcome
    await agree_through_the_deep_link(lite_bot, SAM)
    await lite_bot.app.settle()
    welcomes = [r for r in fake.sent if r.chat_id == GROUP and any(
        "start=onb-" in (b.get("url") or "") for b in r.buttons())]
    assert len(welcomes) == 1
    question = await fake.wait_for(lambda r: r.chat_id == SAM and "time zone" in (r.text or ""))
    fake.user_presses(SAM, question.message_id, SAM, question.button_data()[0])
    language = await fake.wait_for(lambda r: r.chat_id == SAM and "language" in (r.text or "").lower(),
                                   timeout=10)
    assert language.button_data()


async def test_crisis_in_a_forum_topic_reaches_staff_and_acknowledge_works(
        lite_bot: Bot) -> None:
    fake = lite_bot.fake
    topic = fake.create_topic(FORUM, "Hard days", by_user=DANA)
    fake.user_sends(FORUM, DANA, "/setup")
    await lite_bot.reply_to(FORUM, "set up")
    fake.user_sends(STAFF, DANA, "/alerts here")
    await lite_bot.reply_to(STAFF, "receive alerts")
    fake.user_starts_bot(DANA)
    await fake.wait_for(lambda r: r.chat_id == DANA)
    update = fake.user_sends(FORUM, SAM, CRISIS, thread_id=topic)
    assert update
    alert = await fake.wait_for(lambda r: r.chat_id == STAFF and "URGENT" in (r.text or ""),
                                timeout=10)
    assert "https://t.me/c/" in (alert.text or "")  # a link to the message in the topic
    dm = await fake.wait_for(lambda r: r.chat_id == DANA and "URGENT" in (r.text or ""),
                             timeout=10)
    # The member never started the bot: the brief answer goes to the topic they wrote in.
    answer = await fake.wait_for(lambda r: r.chat_id == FORUM and "you're not alone" in
                                 (r.text or ""), timeout=10)
    assert answer.thread_id == topic
    fake.user_presses(DANA, dm.message_id, DANA, data_of(dm, "Acknowledge"))
    await lite_bot.app.settle()
    notice = await fake.wait_for(lambda r: r.chat_id == STAFF and "is on it" in (r.text or ""),
                                 timeout=10)
    assert "Dana" in (notice.text or "")
    fake.user_sends(DANA, DANA, "/escalations")
    listing = await fake.wait_for(lambda r: r.chat_id == DANA and "Open alerts" in (r.text or ""),
                                  timeout=10)
    assert "Dana Reyes is on it" in (listing.text or "")


async def test_checkin_wave_with_button_presses(lite_bot: Bot) -> None:
    fake = lite_bot.fake
    fake.user_sends(GROUP, DANA, "/setup")
    await lite_bot.reply_to(GROUP, "set up")
    fake.user_sends(GROUP, DANA, "/checkins now")
    prompt = await fake.wait_for(lambda r: r.chat_id == GROUP and r.reply_markup is not None
                                 and any(d.startswith("ci:") for d in r.button_data()),
                                 timeout=10)
    moods = [d for d in prompt.button_data() if d.startswith("ci:")]
    assert len(moods) == 6  # five moods and Skip
    # Sam has not agreed yet, so his press is not stored: he is pointed to the rules instead.
    fake.user_presses(GROUP, prompt.message_id, SAM, moods[0])
    pointer = await fake.wait_for(lambda r: "Before you check in" in (r.text or ""), timeout=10)
    assert pointer.chat_id in (SAM, GROUP)  # privately if possible, else briefly in the group
    answers = await fake.wait_for_call(lambda c: c.method == "answerCallbackQuery", timeout=10)
    assert answers.status == 200
    # Robin joins and agrees; her press counts, and the prompt shows only how many checked in.
    fake.user_joins(GROUP, ROBIN)
    await agree_through_the_deep_link(lite_bot, ROBIN)
    await lite_bot.app.settle()
    fake.user_presses(GROUP, prompt.message_id, ROBIN, moods[3])
    edited = await fake.wait_for(lambda r: r.method == "editMessageText" and r.chat_id == GROUP,
                                 timeout=10)
    assert "1" in (edited.text or "") and "Robin" not in (edited.text or "")


async def test_resources_through_telegram(lite_bot: Bot) -> None:
    fake = lite_bot.fake
    fake.user_sends(GROUP, DANA, "/setup")
    await lite_bot.reply_to(GROUP, "set up")
    fake.user_sends(GROUP, SAM, "/resources food bank")
    cards = await lite_bot.reply_to(GROUP, "")
    assert "Feeding America" in (cards.text or "") or "food" in (cards.text or "").lower()
    fake.user_sends(GROUP, SAM, "/resources")
    topics = await lite_bot.reply_to(GROUP, "")
    assert any(d.startswith("res:") for d in topics.button_data())


async def test_a_429_storm_during_an_escalation_loses_nothing(fake: FakeTelegram,
                                                             lite_bot: Bot) -> None:
    fake.user_sends(GROUP, DANA, "/setup")
    await lite_bot.reply_to(GROUP, "set up")
    fake.user_starts_bot(DANA)
    await fake.wait_for(lambda r: r.chat_id == DANA)
    fake.fail_all_for(3, status=429, retry_after=1, methods=["sendMessage"])
    fake.user_sends(GROUP, SAM, CRISIS)
    alert = await fake.wait_for(lambda r: r.chat_id == DANA and "URGENT" in (r.text or ""),
                                timeout=30)
    assert "Member: Sam" in (alert.text or "")
    assert fake.count_429 > 0
    await lite_bot.app.settle()
    alerts = [r for r in fake.sent if r.chat_id == DANA and "URGENT" in (r.text or "")]
    assert len(alerts) == 1


async def test_join_request_is_answered_in_private_and_approved_after_consent(
        lite_bot: Bot) -> None:
    fake = lite_bot.fake
    fake.set_admins(GROUP, [DANA], bot_is_admin=True,
                    bot_rights={"can_invite_users": True})
    fake.user_sends(GROUP, DANA, "/setup")
    await lite_bot.reply_to(GROUP, "set up")
    fake.user_sends(GROUP, DANA, "/group hold on")
    await lite_bot.reply_to(GROUP, "wait until they agree")
    lee = 1010
    fake.add_user(lee, "Lee", "lee_parent", "en")
    start = len(fake.sent)
    assert fake.join_request(GROUP, lee)
    held = await fake.wait_for(lambda r: r.chat_id == lee and any(
        d.startswith("onb:agree") for d in r.button_data()), timeout=10, start=start)
    agree = next(d for d in held.button_data() if d.startswith("onb:agree"))
    fake.user_presses(lee, held.message_id, lee, agree)
    approved = await fake.wait_for_call(lambda c: c.method == "approveChatJoinRequest",
                                        timeout=10)
    assert approved.status == 200
    assert fake.member_status(GROUP, lee) == "member"
