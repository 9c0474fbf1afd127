"""Links to cards' web twins: signed, bound to one person and one card, expiring, no personal data; page proofs
bind an action to the link, the browser session and the rendered card."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from teams_app.adapters.clock import FixedClock
from teams_app.adapters.web.links import LinkExpired, LinkInvalid, LinkSigner
from teams_app.bootstrap import bootstrap
from teams_app.config import Settings, SettingsError, load_settings
from teams_app.domain.notifications import TwinCard
from teams_app.service.ports import NoCardLinks

KEY = "k" * 40
PERSON = "3f1e2d4c-5b6a-4798-8a9b-0c1d2e3f4a5b"
REVIEW = "9a8b7c6d-5e4f-4321-8765-43210fedcba9"


def signer(clock: FixedClock | None = None, key: str = KEY) -> LinkSigner:
    return LinkSigner(key, "https://coach.example/", clock or FixedClock(datetime(2026, 11, 30, 9, tzinfo=UTC)),
                      ttl=timedelta(hours=24))


def body_of(token: str) -> list[object]:
    body = token.split(".")[0]
    return list(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def test_a_link_names_one_person_card_and_subject_and_nothing_personal() -> None:
    links = signer()
    link = links.link(PERSON, TwinCard.REVIEW, REVIEW)
    assert link is not None and link.startswith("https://coach.example/twin/")
    token = link.rsplit("/", 1)[1]
    claims = links.verify(token)
    assert (claims.person_id, claims.card, claims.subject) == (PERSON, TwinCard.REVIEW, REVIEW)
    assert claims.expires_at == datetime(2026, 11, 30, 9, tzinfo=UTC) + timedelta(hours=24)
    version, person, card, subject, _expiry, nonce = body_of(token)
    assert (version, person, card, subject) == (1, PERSON, "review", REVIEW) and len(str(nonce)) >= 16
    assert "@" not in link and len(link) < 300


def test_two_links_for_the_same_card_differ() -> None:
    links = signer()
    assert links.link(PERSON, TwinCard.REVIEW, REVIEW) != links.link(PERSON, TwinCard.REVIEW, REVIEW)


@pytest.mark.parametrize("change", ["person", "card", "subject", "expiry", "signature", "shape", "junk"])
def test_a_changed_token_is_not_valid(change: str) -> None:
    links = signer()
    token = links.token(PERSON, TwinCard.REVIEW, REVIEW)
    body, mac = token.split(".")
    parts = body_of(token)
    index = {"person": 1, "card": 2, "subject": 3, "expiry": 4}.get(change)
    if index is not None:
        parts[index] = {1: "someone-else", 2: "feedback", 3: "other-review", 4: 4102444800}[index]
        forged = base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).rstrip(b"=").decode()
        token = f"{forged}.{mac}"
    elif change == "signature":
        token = f"{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    elif change == "shape":
        token = f"{body}.{mac}.x"
    else:
        token = "not a token!"
    with pytest.raises(LinkInvalid):
        links.verify(token)


def test_a_token_signed_with_another_key_is_not_valid() -> None:
    token = signer(key="x" * 40).token(PERSON, TwinCard.REVIEW, REVIEW)
    with pytest.raises(LinkInvalid):
        signer().verify(token)


def test_a_link_expires_after_its_time() -> None:
    clock = FixedClock(datetime(2026, 11, 30, 9, tzinfo=UTC))
    links = signer(clock)
    token = links.token(PERSON, TwinCard.INTRO, "m1")
    clock.advance(timedelta(hours=23, minutes=59))
    assert links.verify(token).subject == "m1"
    clock.advance(timedelta(minutes=1))
    with pytest.raises(LinkExpired) as expired:
        links.verify(token)
    assert expired.value.claims.person_id == PERSON


def test_a_page_proof_binds_link_session_and_card() -> None:
    links = signer()
    claims = links.verify(links.token(PERSON, TwinCard.REVIEW, REVIEW))
    other = links.verify(links.token(PERSON, TwinCard.REVIEW, REVIEW))  # same card, another link
    session, action = links.new_session(), links.new_action()
    proof = links.page_proof(claims, session, action)
    assert links.check_proof(claims, session, action, proof)
    assert not links.check_proof(claims, links.new_session(), action, proof)
    assert not links.check_proof(claims, session, links.new_action(), proof)
    assert not links.check_proof(other, session, action, proof)
    assert not links.check_proof(claims, "", action, proof) and not links.check_proof(claims, session, action, "")
    assert links.session_tag(session) != session and len(links.session_tag(session)) <= 64


def test_a_short_key_or_a_base_url_without_scheme_is_refused() -> None:
    with pytest.raises(ValueError):
        LinkSigner("short", "https://coach.example", FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
                   ttl=timedelta(hours=1))
    with pytest.raises(ValueError):
        LinkSigner(KEY, "coach.example", FixedClock(datetime(2026, 1, 1, tzinfo=UTC)), ttl=timedelta(hours=1))
    with pytest.raises(SettingsError, match="PEERCOACH_WEB_TWIN__SIGNING_KEY"):
        load_settings(bot={"dev_mode": True}, web_twin={"signing_key": "too short"})


def test_the_application_makes_links_only_when_configured() -> None:
    plain = bootstrap(Settings(bot={"dev_mode": True}, db={"url": "sqlite+aiosqlite://"}))
    assert isinstance(plain.card_links, NoCardLinks) and plain.card_links.link(PERSON, TwinCard.REVIEW) is None
    keyed = bootstrap(Settings(bot={"dev_mode": True}, db={"url": "sqlite+aiosqlite://"},
                               public_url="https://coach.example", web_twin={"signing_key": KEY, "ttl_hours": 2}))
    link = keyed.card_links.link(PERSON, TwinCard.CONSENT, "p1")
    assert link is not None and link.startswith("https://coach.example/twin/")
    own = bootstrap(Settings(bot={"dev_mode": True}, db={"url": "sqlite+aiosqlite://"},
                             public_url="https://coach.example",
                             web_twin={"signing_key": KEY, "public_base_url": "https://cards.example"}))
    assert str(own.card_links.link(PERSON, TwinCard.CONSENT, "p1")).startswith("https://cards.example/twin/")


def test_dev_mode_makes_twins_work_with_a_key_kept_in_the_state_folder(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from teams_app.entrypoints.cli.dev import _dev_web_twin

    monkeypatch.chdir(tmp_path)
    first = _dev_web_twin(Settings(bot={"dev_mode": True}), 4000)
    key_file = tmp_path / ".peercoach" / "web_twin.key"
    assert key_file.stat().st_mode & 0o077 == 0, "only its owner reads the key"
    assert first.web_twin.public_base_url == "http://127.0.0.1:4000"
    assert first.web_twin.signing_key.get_secret_value() == key_file.read_text().strip()
    assert len(first.web_twin.signing_key.get_secret_value()) >= 32
    again = _dev_web_twin(Settings(bot={"dev_mode": True}), 4001)
    assert again.web_twin.signing_key == first.web_twin.signing_key, "links survive a restart"
    configured = _dev_web_twin(Settings(bot={"dev_mode": True}, public_url="https://tunnel.example",
                                        web_twin={"signing_key": KEY}), 4000)
    assert configured.web_twin.public_base_url == "https://tunnel.example"
    assert configured.web_twin.signing_key.get_secret_value() == KEY
