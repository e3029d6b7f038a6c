"""The wire protocol: frames and replies as bytes, checked against recorded frames and against each other."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import (
    PANELS,
    BadParameters,
    CardJam,
    CommandRejected,
    CoverOpen,
    ErrorWord,
    FeederEmpty,
    Frame,
    FrameParser,
    HopperFull,
    NeedsCleaning,
    PrinterError,
    PrinterState,
    PrinterTimedOut,
    ProtocolError,
    Reason,
    Reply,
    RibbonError,
    panel_size,
)
from drivers.protocol import MAX_HEADER, Err, Inf, StatusWords, War, levels_for_size

# Recorded frames, byte for byte as the driver sends them.
RECORDED = [
    (Frame("Rfv"), b"\x1bRfv\r"),
    (Frame("Rco", ("r",)), b"\x1bRco;r\r"),
    (Frame("Ss", ("job-42",)), b"\x1bSs;job-42\r"),
    (Frame("Pr", ("ymcko",)), b"\x1bPr;ymcko\r"),
    (Frame("Dbc", ("k", "2", "4"), b"\r\x1b\r\x1b"), b"\x1bDbc;k;2;4\r\r\x1b\r\x1b"),
]


def panel() -> bytes:
    """A 2-level panel made of CR and ESC bytes only."""
    return b"\r\x1b" * (panel_size(2) // 2)


def feed_in_chunks(parser: FrameParser, data: bytes, size: int) -> list[Frame]:
    frames: list[Frame] = []
    for start in range(0, len(data), size):
        frames += parser.feed(data[start : start + size])
    return frames


@pytest.mark.parametrize(("frame", "wire"), RECORDED)
def test_frames_are_written_and_read_exactly_as_recorded(frame: Frame, wire: bytes) -> None:
    assert Frame(frame.command, frame.params, frame.data).encode() == wire
    assert FrameParser().feed(wire) == [frame]


def test_a_panel_download_is_read_by_count_though_it_is_full_of_cr_and_esc() -> None:
    download = Frame.download("k", panel())
    wire = Frame("Ss", ("J1",)).encode() + download.encode() + Frame("Se").encode()
    frames = feed_in_chunks(FrameParser(), wire, 4093)
    assert [f.command for f in frames] == ["Ss", "Dbc", "Se"]
    assert frames[1].data == panel()
    assert frames[1].params == ("k", "2", str(panel_size(2)))


def test_bytes_outside_a_frame_are_skipped() -> None:
    assert FrameParser().feed(b"\x00garbage\r\n\x1bRst\rmore noise\x1bRsn\r") == [Frame("Rst"), Frame("Rsn")]


def test_an_esc_before_the_cr_abandons_the_half_frame_and_starts_a_new_one() -> None:
    assert FrameParser().feed(b"\x1bSs;jo\x1bRst\r") == [Frame("Rst")]


def test_an_overlong_header_is_dropped_and_the_next_frame_still_parses() -> None:
    parser = FrameParser()
    assert parser.feed(b"\x1b" + b"A" * (MAX_HEADER + 50)) == []
    assert parser.feed(b"A" * 10 + b"\r\x1bRfv\r") == [Frame("Rfv")]


def test_a_download_with_an_unreadable_length_comes_out_without_data() -> None:
    assert FrameParser().feed(b"\x1bDbc;k;2;lots\r") == [Frame("Dbc", ("k", "2", "lots"))]


def test_the_writer_refuses_a_frame_the_parser_could_not_read_back() -> None:
    with pytest.raises(ValueError, match="parameter"):
        Frame("Ss", ("a;b",)).encode()
    with pytest.raises(ValueError, match="data length"):
        Frame("Dbc", ("k", "2", "3"), b"\x00").encode()
    with pytest.raises(ValueError, match="carries no data"):
        Frame("Se", (), b"x").encode()


def test_panel_sizes_follow_the_grey_levels() -> None:
    assert panel_size(2) == 1016 * 648 // 8
    assert panel_size(256) == 1016 * 648
    assert levels_for_size(panel_size(64)) == 64
    with pytest.raises(ValueError, match="power of two"):
        panel_size(3)
    with pytest.raises(ValueError, match="panel"):
        Frame.download("k", b"\x00" * 100)
    with pytest.raises(ValueError, match="panel must be one of"):
        Frame.download("x", panel())


@pytest.mark.parametrize(
    ("text", "error", "reason"),
    [
        ("FEEDER EMPTY", FeederEmpty, Reason.MEDIA_EMPTY_ERROR),
        ("ERROR RIBBON", RibbonError, Reason.MARKER_SUPPLY_EMPTY_ERROR),
        ("CARD JAM", CardJam, Reason.MEDIA_JAM_ERROR),
        ("ERROR CARD JAM", CardJam, Reason.MEDIA_JAM_ERROR),
        ("COVER OPEN", CoverOpen, Reason.COVER_OPEN_ERROR),
        ("HOPPER FULL", HopperFull, Reason.OUTPUT_AREA_FULL_ERROR),
        ("NEED CLEANING", NeedsCleaning, Reason.OTHER_WARNING),
        ("ERROR CDE", CommandRejected, None),
        ("ERROR PARAMETRES", BadParameters, None),
        ("ERROR TIME OUT", PrinterTimedOut, None),
    ],
)
def test_error_replies_raise_typed_exceptions_with_their_ipp_reason(
    text: str, error: type[PrinterError], reason: Reason | None
) -> None:
    with pytest.raises(error) as raised:
        Reply.decode(text.encode() + b"\r").raise_for_error()
    assert raised.value.reason == reason


def test_normal_replies_are_not_errors() -> None:
    for text in ("OK", "OK;KTP00000001", "Primacy", "DONE;KTP1", "CARD"):
        assert Reply(text).raise_for_error().error is None


def test_every_error_word_has_an_exception() -> None:
    for word in ErrorWord:
        with pytest.raises(PrinterError):
            Reply(word.value).raise_for_error()


def test_status_words_say_stopped_for_an_error_and_list_errors_before_warnings() -> None:
    words = StatusWords(inf=Inf.CARD_INSIDE, war=War.RIBBON_LOW, err=Err.CARD_JAM | Err.COVER_OPEN)
    parsed = StatusWords.parse(words.encode())
    assert parsed == words
    assert parsed.state is PrinterState.STOPPED
    assert parsed.reasons == (
        Reason.COVER_OPEN_ERROR,
        Reason.MEDIA_JAM_ERROR,
        Reason.MARKER_SUPPLY_LOW_WARNING,
    )
    assert StatusWords(inf=Inf.PRINTING).state is PrinterState.PROCESSING
    assert StatusWords().reasons == ()


def test_a_status_answer_that_is_not_one_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        StatusWords.parse("OK")


# -- properties ----------------------------------------------------------------------------------------------

_mnemonics = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,5}", fullmatch=True).filter(lambda c: c != "Dbc")
_params = st.lists(st.from_regex(r"[\x20-\x3a\x3c-\x7e]{0,12}", fullmatch=True), max_size=4)
_plain_frames = st.builds(lambda c, p: Frame(c, tuple(p)), _mnemonics, _params)
_downloads = st.builds(
    lambda name, data: Frame("Dbc", (name, "2", str(len(data))), data),
    st.sampled_from(PANELS),
    st.binary(min_size=1, max_size=300),
)


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
def test_random_bytes_never_crash_the_frame_parser(noise: bytes, chunk: int) -> None:
    parser = FrameParser()
    frames = feed_in_chunks(parser, noise, chunk)
    assert all(isinstance(frame.command, str) for frame in frames)
    assert parser.awaiting_payload >= 0


@given(
    st.lists(st.one_of(_plain_frames, _downloads), min_size=1, max_size=8),
    st.integers(min_value=1, max_value=50),
)
def test_every_valid_frame_round_trips_through_writer_and_parser(frames: list[Frame], chunk: int) -> None:
    wire = b"".join(frame.encode() for frame in frames)
    assert feed_in_chunks(FrameParser(), wire, chunk) == frames


# Downloads whose data is sure to hold CR and ESC, the bytes that end and start a command frame.
_cr_esc_downloads = st.builds(
    lambda name, data: Frame("Dbc", (name, "2", str(len(data))), data),
    st.sampled_from(PANELS),
    st.binary(max_size=200).map(lambda data: b"\x1b\r" + data + b"\r\x1b"),
)
_valid_frames = st.lists(st.one_of(_plain_frames, _downloads, _cr_esc_downloads), max_size=5)
# Noise rich in what confuses a parser: ESC, CR, half headers, a header too long to be one, and noise that
# announces a download (then the bytes after it are taken as its data, whatever they are).
_noise = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [
                b"\x1b",
                b"\r",
                b";",
                b"12",
                b"\x1bSs;jo",
                b"\x1bDbc;k;2;",
                b"\x1bDbc;y;2;7\r",
                b"\x1b" + b"A" * MAX_HEADER,
            ]
        ),
    ),
    max_size=8,
).map(b"".join)
_RESET = None  # in a stream: the parser is reset there (the printer's download time-out)


def feed_stream(parser: FrameParser, stream: list[bytes | None], sizes: list[int]) -> list[Frame]:
    """Feed the bytes in chunks of the given sizes, round and round, resetting the parser where it says so."""
    frames: list[Frame] = []
    next_size = itertools.cycle(sizes)
    for piece in stream:
        if piece is _RESET:
            parser.reset()
            continue
        start = 0
        while start < len(piece):
            size = next(next_size)
            frames += parser.feed(piece[start : start + size])
            start += size
    return frames


@given(
    st.lists(st.tuples(_noise, st.booleans(), _valid_frames), min_size=1, max_size=5),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8),
)
def test_after_noise_every_valid_frame_is_recovered_once_the_parser_is_between_frames(
    segments: list[tuple[bytes, bool, list[Frame]]], sizes: list[int]
) -> None:
    # The parser's resync points: it is between frames (``awaiting_payload == 0``), where the ESC of the next
    # frame drops any half header the noise left; a download the noise announced ends once it got its count
    # of bytes (``fill``), or at ``reset()`` (what the printer does when the data stops coming).
    reference = FrameParser()
    stream: list[bytes | None] = []
    expected: list[Frame] = []
    for noise, fill, frames in segments:
        expected += reference.feed(noise)  # whatever the noise itself makes into frames
        stream.append(noise)
        if owed := reference.awaiting_payload:
            if fill:
                filler = (b"\r\x1b" * owed)[:owed]
                expected += reference.feed(filler)
                stream.append(filler)
            else:
                reference.reset()
                stream.append(_RESET)
        assert reference.awaiting_payload == 0
        wire = b"".join(frame.encode() for frame in frames)
        assert reference.feed(wire) == frames  # every one recovered, none lost, none made up
        expected += frames
        stream.append(wire)
    # The same bytes in any chunk sizes give the same frames: no crash, nothing depends on where reads split.
    parser = FrameParser()
    assert feed_stream(parser, stream, sizes) == expected
    assert parser.awaiting_payload == 0


@given(
    st.binary(max_size=500).map(lambda noise: noise.replace(b"\x1b", b"")),
    _valid_frames,
    st.integers(min_value=1, max_value=64),
)
def test_noise_without_an_esc_is_skipped_and_needs_no_resync(noise: bytes, frames: list[Frame], chunk: int) -> None:
    wire = noise + b"".join(frame.encode() for frame in frames)
    assert feed_in_chunks(FrameParser(), wire, chunk) == frames


@given(st.from_regex(r"[\x20-\x7e]{1,40}", fullmatch=True).map(str.strip).filter(bool))
def test_every_reply_round_trips(text: str) -> None:
    assert Reply.decode(Reply(text).encode()) == Reply(text)
