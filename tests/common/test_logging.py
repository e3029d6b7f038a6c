"""NIKs never reach the logs unmasked."""

from __future__ import annotations

import json
import logging

from services.common.logging import JsonFormatter, mask_niks

NIK = "1809014507950001"


def test_a_nik_is_masked_keeping_only_region_and_last_digits() -> None:
    assert mask_niks(f"request for {NIK} queued") == "request for 1809**********01 queued"


def test_longer_digit_runs_are_not_mistaken_for_a_nik() -> None:
    assert mask_niks("serial 12345678901234567890") == "serial 12345678901234567890"


def test_the_json_formatter_masks_messages_extras_and_tracebacks() -> None:
    formatter = JsonFormatter("request")
    try:
        raise ValueError(f"bad NIK {NIK}")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "nik=%s", (NIK,), exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    record.nik = NIK
    line = formatter.format(record)
    assert NIK not in line
    entry = json.loads(line)
    assert entry["message"] == "nik=1809**********01"
    assert entry["nik"] == "1809**********01"
    assert entry["service"] == "request"
