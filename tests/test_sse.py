"""The SSE decoder: the spec's line and field rules, and any chunk split."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.streaming.sse import Event, SSEDecoder


def decode(*chunks: bytes) -> list[Event]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_named_event_with_json_data():
    stream = b'event: message_start\ndata: {"type": "message_start"}\n\n'
    assert decode(stream) == [Event("message_start", '{"type": "message_start"}')]


def test_default_event_type_is_message():
    assert decode(b"data: hi\n\n") == [Event("message", "hi")]


def test_all_three_line_terminators():
    stream = b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n"
    assert decode(stream) == [Event("a", "1"), Event("b", "2"), Event("message", "3")]


def test_cr_at_chunk_boundary_is_one_line_end_with_a_following_lf():
    # "\r" then "\n" in the next chunk is one terminator, not a line and an empty line.
    assert decode(b"data: x\r", b"\ndata: y\r\n\r\n") == [Event("message", "x\ny")]
    # A lone "\r" at a boundary followed by another "\r" is two line ends: dispatch.
    assert decode(b"data: x\r", b"\r") == [Event("message", "x")]


def test_event_is_dispatched_as_soon_as_its_blank_line_arrives():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n") == []
    assert decoder.feed(b"\r") == [Event("message", "first")]


def test_comments_are_ignored():
    assert decode(b": keep-alive\n\n:\ndata: x\n: inside\n\n") == [Event("message", "x")]


def test_multi_line_data_joined_with_newlines():
    assert decode(b"data: a\ndata:\ndata:  b\n\n") == [Event("message", "a\n\n b")]


def test_field_without_colon_and_without_space():
    assert decode(b"data\ndata:x\n\n") == [Event("message", "\nx")]


def test_unicode_line_separators_inside_data_do_not_split():
    text = "a\u2028b\x85c\x0cd"
    assert decode(b"data: " + text.encode() + b"\n\n") == [Event("message", text)]


def test_multibyte_character_split_across_chunks():
    encoded = "data: caf\u00e9 \u2603\n\n".encode()
    split = encoded.index(b"\xc3") + 1
    assert decode(encoded[:split], encoded[split:]) == [Event("message", "caf\u00e9 \u2603")]


def test_id_persists_and_retry_and_unknown_fields_are_ignored():
    stream = b"id: 7\ndata: a\n\nretry: 10\nfoo: bar\ndata: b\n\nid\ndata: c\n\n"
    assert decode(stream) == [Event("message", "a", "7"), Event("message", "b", "7"), Event("message", "c", "")]


def test_event_without_data_is_not_dispatched():
    assert decode(b"event: ping\n\ndata: x\n\n") == [Event("message", "x")]


def test_leading_bom_is_skipped():
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [Event("message", "x")]


def test_unfinished_event_is_dropped_and_reported():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\n\ndata: half") == [Event("message", "x")]
    assert decoder.close() == []
    assert decoder.incomplete

    clean = SSEDecoder()
    clean.feed(b"data: x\n\n")
    clean.close()
    assert not clean.incomplete


# --- fuzzing: any split of the bytes gives the same events -----------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)
_events = st.lists(
    st.tuples(
        st.one_of(st.none(), st.from_regex(r"[a-z_]{1,12}", fullmatch=True)),
        st.lists(_text, min_size=1, max_size=4),
    ),
    max_size=8,
)


@st.composite
def streams(draw):
    """A stream written with random terminators and comments, and the events in it."""
    out = bytearray()
    expected = []

    def terminator() -> bytes:
        end = draw(st.sampled_from([b"\n", b"\r", b"\r\n"]))
        # "\r" then "\n" would be one terminator: write the intended two.
        return b"\r\n" if end == b"\n" and out.endswith(b"\r") else end

    for name, lines in draw(_events):
        if draw(st.booleans()):
            out += b": comment" + terminator()
        if name is not None:
            out += b"event: " + name.encode() + terminator()
        for line in lines:
            out += b"data: " + line.encode() + terminator()
        out += terminator()
        expected.append(Event(name or "message", "\n".join(lines)))
    return bytes(out), expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.data())
def test_random_chunk_splits_give_the_written_events(stream, data):
    raw, expected = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert decode(*chunks) == expected
    assert decode(raw) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.data())
def test_any_bytes_split_anywhere_decode_the_same(raw, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert decode(*chunks) == decode(raw)
