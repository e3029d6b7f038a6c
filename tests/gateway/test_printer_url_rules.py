"""Which printer URLs the gateway opens (services/gateway/fleet/printer_urls.py): a serial device matching the
configured globs, or ``socket://host:port`` at a configured printer endpoint. Every other thing pyserial can
open is refused, whatever the settings say."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import StackLayout
from services.gateway.config import Settings
from services.gateway.fleet.printer_urls import DEFAULT_DEVICES, PrinterUrls, UrlRefused

OFFICE = PrinterUrls.of(devices=DEFAULT_DEVICES, hosts=["10.0.0.21:9100", "10.0.0.30:9100-9103", "127.0.0.1:*"])

# pyserial's other URL handlers, and socket:// or device paths dressed up to reach something else.
REFUSED = [
    "spy://loop://?file=/tmp/x",
    "spy://socket://10.0.0.21:9100",
    "loop://",
    "loop://?logging=debug",
    "rfc2217://10.0.0.21:9100",
    "hwgrep://.*",
    "hwgrep://0403:6001",
    "alt://socket://10.0.0.21:9100?class=PosixPollSerial",
    "cp2110://0001:0002:00",
    "SPY://loop://",
    "file:///etc/passwd",
    "socket://10.0.0.21:9100?logging=debug",
    "socket://10.0.0.21:9100#x",
    "socket://10.0.0.21:9100/",
    "socket://user@10.0.0.21:9100",
    "socket://10.0.0.21",
    "socket://10.0.0.21:0",
    "socket://10.0.0.21:99999",
    "socket://10.0.0.21:port",
    "socket://10.0.0.21:22",
    "socket://10.0.0.22:9100",
    "socket://10.0.0.30:9104",
    "socket://internal.example:9100",
    "socket:// 10.0.0.21:9100",
    "socket://10.0.0.21:9100\n",
    "/etc/passwd",
    "/tmp/printer.tty",
    "/dev/pts/3",
    "/dev/ttyUSB0/../../tmp/x",
    "/dev/../dev/ttyUSB0",
    "//dev/ttyUSB0",
    "/dev/ttyUSB0?x=1",
    "/dev/ttyUSB0://",
    "ttyUSB0",
    "",
]

ALLOWED = [
    "/dev/ttyS0",
    "/dev/ttyUSB0",
    "/dev/ttyACM12",
    "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XYZ-if00-port0",
    "socket://10.0.0.21:9100",
    "socket://10.0.0.30:9100",
    "socket://10.0.0.30:9103",
    "socket://127.0.0.1:40211",
]


@pytest.mark.parametrize("url", REFUSED)
def test_anything_but_an_allowed_device_or_printer_endpoint_is_refused_with_a_reason(url: str) -> None:
    assert not OFFICE.allows(url)
    with pytest.raises(UrlRefused) as refused:
        OFFICE.check(url)
    assert refused.value.reason


@pytest.mark.parametrize("url", ALLOWED)
def test_a_serial_device_or_a_configured_printer_endpoint_is_allowed(url: str) -> None:
    assert OFFICE.allows(url)
    OFFICE.check(url)


def test_the_default_settings_allow_serial_devices_and_no_network_endpoint() -> None:
    urls = Settings().printer_urls()
    assert urls.allows("/dev/ttyUSB0")
    assert not urls.allows("/dev/pts/3")  # the emulator's pseudo-terminal: tests and development only
    assert not urls.allows("socket://127.0.0.1:9101")


def test_a_printer_named_in_the_settings_is_allowed_at_its_own_endpoint_only() -> None:
    settings = Settings(printers="printer-1=socket://emulator-1:9101,desk=/dev/ttyAMA0")
    urls = settings.printer_urls()
    assert urls.allows("socket://emulator-1:9101")
    assert urls.allows("/dev/ttyAMA0")
    assert not urls.allows("socket://emulator-1:22")
    assert not urls.allows("/dev/ttyAMA1")


def test_the_allowed_endpoints_and_devices_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EKTP_GATEWAY_PRINTER_HOSTS", "10.0.0.21:9100, [fd00::5]:9100-9101")
    monkeypatch.setenv("EKTP_GATEWAY_PRINTER_DEVICES", '["/dev/ttyUSB*", "/dev/pts/*"]')
    urls = Settings().printer_urls()
    assert urls.allows("socket://10.0.0.21:9100")
    assert urls.allows("socket://[fd00::5]:9101")
    assert urls.allows("/dev/pts/7")
    assert not urls.allows("/dev/ttyS0")


def test_ektp_up_allows_exactly_the_ports_of_its_emulators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = StackLayout(
        urls={"request": "http://127.0.0.1:8001", "inventory": "http://127.0.0.1:8002", "gateway": "http://h:8003"},
        data_dir=tmp_path,
        key_dir=tmp_path / "keys",
        service_token="tok",
        console_origins=[],
        printers=[("printer-1", "socket://127.0.0.1:9101"), ("printer-2", "socket://127.0.0.1:9102")],
    )
    for name, value in Settings.stack_env(layout).items():  # as `ektp up` starts the gateway
        monkeypatch.setenv(name, value)
    urls = Settings().printer_urls()
    assert urls.allows("socket://127.0.0.1:9101")
    assert urls.allows("socket://127.0.0.1:9102")
    assert not urls.allows("socket://127.0.0.1:9103")
    assert not urls.allows("socket://127.0.0.1:22")


@pytest.mark.parametrize(
    "settings",
    [
        {"printers": "trace=spy://loop://?file=/tmp/x"},
        {"printers": "far=rfc2217://10.0.0.21:9100"},
        {"printer_hosts": ["10.0.0.21"]},
        {"printer_hosts": ["10.0.0.21:9100-9000"]},
        {"printer_hosts": ["10.0.0.21:ssh"]},
        {"printer_hosts": ["*:*"]},
        {"printer_devices": ["dev/ttyUSB*"]},
    ],
)
def test_a_gateway_configured_with_a_url_it_would_refuse_does_not_start(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="printer"):
        Settings(**settings)  # type: ignore[arg-type]
