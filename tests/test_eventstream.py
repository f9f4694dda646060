"""The event-stream adapter: botocore's CRC-checked parser, fed in any split."""

from __future__ import annotations

import pytest
from botocore.eventstream import EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import UpstreamBroken
from gateway.streaming.eventstream import EventStreamDecoder
from tests.fakes.eventstream import encode_frame, event_frame, exception_frame

FRAMES = [
    event_frame("messageStart", {"role": "assistant"}),
    event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo ✓"}}),
    exception_frame("throttlingException", "Too many requests"),
    encode_frame({":message-type": "event", ":event-type": "empty"}, b""),
]
STREAM = b"".join(FRAMES)


def test_encoder_round_trips_through_botocore():
    buffer = EventStreamBuffer()
    buffer.add_data(STREAM)
    messages = list(buffer)
    assert [m.headers.get(":event-type") for m in messages] == ["messageStart", "contentBlockDelta", None, "empty"]
    assert messages[1].payload == b'{"contentBlockIndex":0,"delta":{"text":"h\xc3\xa9llo \xe2\x9c\x93"}}'
    assert messages[2].headers[":message-type"] == "exception"
    assert messages[2].headers[":exception-type"] == "throttlingException"
    assert messages[3].payload == b""


def decode_all(chunks: list[bytes]):
    decoder = EventStreamDecoder()
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    decoder.close()
    return [(dict(f.headers), f.payload) for f in frames]


EXPECTED = decode_all([STREAM])


def test_whole_stream_decodes_every_frame():
    assert len(EXPECTED) == 4
    assert EXPECTED[2][0][":exception-type"] == "throttlingException"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_same_frames_whatever_the_split(cuts):
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert decode_all(chunks) == EXPECTED


def test_frames_come_out_as_soon_as_complete():
    decoder = EventStreamDecoder()
    first = FRAMES[0]
    assert decoder.feed(first[:-1]) == []
    frames = decoder.feed(first[-1:] + FRAMES[1][:5])
    assert [f.event_type for f in frames] == ["messageStart"]


def test_corrupt_crc_is_a_broken_upstream():
    corrupt = bytearray(FRAMES[1])
    corrupt[-6] ^= 0x01  # a payload byte: the message CRC no longer matches
    with pytest.raises(UpstreamBroken) as caught:
        EventStreamDecoder().feed(bytes(corrupt))
    assert caught.value.code == "upstream_bad_frame"


def test_end_inside_a_frame_is_truncation():
    decoder = EventStreamDecoder()
    decoder.feed(FRAMES[0] + FRAMES[1][:10])
    with pytest.raises(UpstreamBroken) as caught:
        decoder.close()
    assert caught.value.code == "upstream_truncated"
