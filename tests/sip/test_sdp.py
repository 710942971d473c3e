"""SDP offer/answer for one G.711 audio stream."""

from __future__ import annotations

import pytest

from sipnotify.sip.sdp import Media, SdpError, choose, describe, parse

OFFER = (
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6004 RTP/AVP 18 8 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def test_offer_is_read_and_g711_chosen_in_offer_order() -> None:
    media = parse(OFFER)
    assert media == Media(address="127.0.0.1", port=6004, payloads=(18, 8, 0))
    assert choose(media) == 8


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"v=0\r\nc=IN IP4 127.0.0.1\r\n",  # no audio
        b"v=0\r\nm=audio 6004 RTP/AVP 0\r\n",  # no address
        b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n",
        b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\nö=1".encode(),
        b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP " + b"9" * 5000 + b"\r\n",
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4\u00b2 RTP/AVP 0\r\n".encode(),
    ],
)
def test_unusable_offers_raise(body: bytes) -> None:
    with pytest.raises(SdpError):
        parse(body)


def test_no_common_codec_raises() -> None:
    with pytest.raises(SdpError):
        choose(Media("127.0.0.1", 4000, (18, 9)))


def test_answer_round_trips() -> None:
    answer = describe(address="127.0.0.1", port=10000, payloads=(0,), session=5)
    assert parse(answer) == Media("127.0.0.1", 10000, (0,))
    assert b"a=rtpmap:0 PCMU/8000\r\n" in answer
