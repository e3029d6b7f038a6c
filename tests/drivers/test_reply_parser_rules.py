"""The driver's reading of a printer's replies and status words (exactly what each byte of an answer means),
and the limits of the frames it writes and the emulator reads."""

from __future__ import annotations

import pytest

from drivers.errors import CardJam, ProtocolError
from drivers.protocol import (
    MAX_HEADER,
    MAX_PAYLOAD,
    Cfg,
    Command,
    Err,
    Frame,
    FrameParser,
    Inf,
    Reply,
    StatusWords,
    TimeoutKind,
    War,
    levels_for_size,
    panel_size,
    timeout_kind,
)
from drivers.states import ErrorWord, PrinterState, Reason


def test_a_reply_keeps_every_character_of_its_value_and_drops_only_the_line_noise_around_it() -> None:
    assert Reply.decode(b"\x00 OK;KTP0000001X \r\n").text == "OK;KTP0000001X"
    assert Reply.decode(b"XOK;MAX").text == "XOK;MAX"


def test_a_byte_that_is_not_ascii_becomes_a_replacement_character_instead_of_an_exception() -> None:
    assert Reply.decode(b"OK;\xff\r").text == "OK;\ufffd"


def test_a_reply_is_written_with_a_cr_or_like_a_real_evolis_without_one() -> None:
    assert Reply("OK;1").encode() == b"OK;1\r"
    assert Reply("OK;1").encode(terminator=False) == b"OK;1"


def test_ok_is_only_an_ok_in_the_first_field() -> None:
    assert Reply("OK;KTP1").ok
    assert Reply("OK").ok
    assert not Reply("DONE;OK").ok
    assert not Reply("OKAY").ok


def test_the_value_after_ok_is_the_second_field_and_a_missing_one_is_a_protocol_error() -> None:
    reply = Reply("OK;KTP00000001;extra")

    assert reply.fields == ["OK", "KTP00000001", "extra"]
    assert reply.value() == "KTP00000001"
    assert reply.value(2) == "extra"
    assert reply.value(0) == "OK"
    with pytest.raises(ProtocolError, match="has no field 3"):
        reply.value(3)
    with pytest.raises(ProtocolError, match="has no field 1"):
        Reply("OK").value()


def test_an_error_reply_with_more_than_its_word_keeps_the_whole_answer_in_the_exception() -> None:
    with pytest.raises(CardJam) as raised:
        Reply("ERROR CARD JAM;slot 2").raise_for_error()

    assert str(raised.value) == "CARD JAM: ERROR CARD JAM;slot 2"


def test_a_bare_error_word_is_its_own_message() -> None:
    with pytest.raises(CardJam) as raised:
        Reply("CARD JAM").raise_for_error()

    assert str(raised.value) == "CARD JAM"


def test_a_normal_reply_is_returned_as_it_is() -> None:
    reply = Reply("OK;KTP1")

    assert reply.raise_for_error() is reply
    assert reply.error is None
    assert Reply("ERROR CDE").error is ErrorWord.COMMAND


def test_each_status_word_is_read_as_hex_into_its_own_field() -> None:
    words = StatusWords.parse(" CFG=00000007;INF=00000003;WAR=0000000f;ERR=00000010 \r\n")

    assert words.cfg == Cfg.HOST_HANDLES_ERRORS | Cfg.FEEDER_AUTO | Cfg.RIBBON_SET
    assert words.inf == Inf.PRINTING | Inf.CARD_INSIDE
    assert words.war == War.RIBBON_LOW | War.NEED_CLEANING | War.FEEDER_LOW | War.HOPPER_ALMOST_FULL
    assert words.err == Err.HOPPER_FULL


def test_status_words_are_written_as_eight_hex_digits_each() -> None:
    words = StatusWords(cfg=Cfg.FEEDER_AUTO, inf=Inf.SEQUENCE_OPEN, war=War.FEEDER_LOW, err=Err.HOPPER_FULL)

    assert words.encode() == "CFG=00000002;INF=00000004;WAR=00000004;ERR=00000010"


@pytest.mark.parametrize(
    "text",
    ["CFG=0;INF=0;WAR=0", "CFG=0;INF=0;WAR=0;ERR=0;X=1", "CFG=G;INF=0;WAR=0;ERR=0", "CFG=000000001;INF=0;WAR=0;ERR=0"],
)
def test_an_answer_that_is_not_exactly_four_status_words_is_a_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError, match="not a status answer"):
        StatusWords.parse(text)


def test_the_error_a_card_command_meets_is_the_first_by_priority_and_none_when_nothing_stops_it() -> None:
    assert StatusWords(err=Err.FEEDER_EMPTY | Err.COVER_OPEN).blocking_word is ErrorWord.COVER_OPEN
    assert StatusWords(err=Err.FEEDER_EMPTY | Err.RIBBON_OUT).blocking_word is ErrorWord.RIBBON
    assert StatusWords(err=Err.FEEDER_EMPTY).blocking_word is ErrorWord.FEEDER_EMPTY
    assert StatusWords(war=War.FEEDER_LOW, inf=Inf.PRINTING).blocking_word is None


def test_a_printer_is_idle_processing_or_stopped_by_its_words() -> None:
    assert StatusWords().state is PrinterState.IDLE
    assert StatusWords(inf=Inf.CARD_INSIDE).state is PrinterState.IDLE
    assert StatusWords(inf=Inf.PRINTING | Inf.CARD_INSIDE).state is PrinterState.PROCESSING
    assert StatusWords(inf=Inf.PRINTING, err=Err.FEEDER_EMPTY).state is PrinterState.STOPPED


def test_every_error_and_warning_bit_gives_its_reason_errors_first() -> None:
    words = StatusWords(war=War.NEED_CLEANING | War.HOPPER_ALMOST_FULL | War.FEEDER_LOW, err=Err.FEEDER_EMPTY)

    assert words.reasons == (
        Reason.MEDIA_EMPTY_ERROR,
        Reason.MEDIA_LOW_WARNING,
        Reason.OUTPUT_AREA_ALMOST_FULL_WARNING,
        Reason.OTHER_WARNING,
    )
    assert StatusWords(err=Err.HOPPER_FULL | Err.RIBBON_OUT).reasons == (
        Reason.MARKER_SUPPLY_EMPTY_ERROR,
        Reason.OUTPUT_AREA_FULL_ERROR,
    )


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (Command.DOWNLOAD, TimeoutKind.DOWNLOAD),
        (Command.PRINT_EJECT, TimeoutKind.CARD),
        (Command.START, TimeoutKind.CARD),
        (Command.STATUS, TimeoutKind.SHORT),
        ("Xyz", TimeoutKind.SHORT),
    ],
)
def test_a_command_that_moves_a_card_waits_for_the_card_and_a_download_for_its_data(
    command: str, kind: TimeoutKind
) -> None:
    assert timeout_kind(command) is kind


# -- the command side: panel sizes and frame limits --------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 3, 257, 512])
def test_a_panel_has_two_to_256_grey_levels_in_powers_of_two(levels: int) -> None:
    with pytest.raises(ValueError, match="power of two from 2 to 256"):
        panel_size(levels)


@pytest.mark.parametrize("bits", [0, 9])
def test_a_panel_carries_one_to_eight_bits_a_pixel(bits: int) -> None:
    with pytest.raises(ValueError, match="not a 1016×648 panel"):
        levels_for_size(1016 * 648 * bits // 8)


def test_the_largest_panel_is_256_levels_and_can_be_sent() -> None:
    assert levels_for_size(MAX_PAYLOAD) == 256
    frame = Frame.download("k", bytes(MAX_PAYLOAD))

    assert frame.params == ("k", "256", str(MAX_PAYLOAD))
    assert frame.encode().startswith(b"\x1bDbc;k;256;658368\r")


def test_a_download_whose_size_does_not_match_the_levels_given_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^panel k: 82296 bytes, expected 164592 at 4 levels$"):
        Frame.download("k", bytes(panel_size(2)), levels=4)


def test_a_header_of_exactly_the_longest_length_is_written_and_read_and_one_byte_more_is_neither() -> None:
    longest = Frame("Rst", ("x" * (MAX_HEADER - 4),))
    assert len(longest.header()) == MAX_HEADER + 2  # ESC and CR around it
    assert FrameParser().feed(longest.encode()) == [longest]

    with pytest.raises(ValueError, match=f"^Rst: header longer than {MAX_HEADER} bytes$"):
        Frame("Rst", ("x" * (MAX_HEADER - 3),)).header()
    assert FrameParser().feed(b"\x1bRst;" + b"x" * (MAX_HEADER - 3) + b"\r") == []


def test_the_largest_panel_is_read_back_whole() -> None:
    largest = Frame.download("k", bytes(MAX_PAYLOAD))

    assert FrameParser().feed(largest.encode()) == [largest]


def test_an_empty_command_is_still_a_frame_so_the_printer_answers_it() -> None:
    assert FrameParser().feed(b"\x1b\r\x1bRst\r") == [Frame(""), Frame("Rst")]


def test_a_bad_mnemonic_is_named_in_the_refusal() -> None:
    with pytest.raises(ValueError, match=r"^bad command mnemonic '1x'$"):
        Frame("1x").encode()


def test_a_download_with_only_its_length_still_takes_its_data_by_count() -> None:
    parser = FrameParser()

    assert parser.feed(b"\x1bDbc;3\rab\r") == [Frame("Dbc", ("3",), b"ab\r")]


def test_a_download_of_zero_bytes_comes_out_at_once_without_data() -> None:
    parser = FrameParser()

    assert parser.feed(b"\x1bDbc;k;2;0\r") == [Frame("Dbc", ("k", "2", "0"))]
    assert parser.awaiting_payload == 0
