"""``ektp up --demo`` as a newcomer runs it: the reference office's 8,016 blanks, the Pesawaran demo queued and
printing, the URLs and an operator token printed, and Ctrl-C stopping every child."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drivers.emulator.control_client import control_headers
from tests.system.harness import SystemUnderTest, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("system"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "request.json"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    data_dir = tmp_path_factory.mktemp("up-demo")
    data_dir.chmod(0o755)  # as a plain `mkdir data` leaves it: ektp up makes it private
    sut = SystemUnderTest(data_dir, blanks=None, time_scale=3000, extra_args=("--demo",))
    try:
        sut.start()
        wait_until(lambda: "ready:" in sut.log_tail(200), timeout=60, what="ektp up to print its banner")
        yield sut
    finally:
        sut.stop()


def test_the_banner_shows_the_console_the_three_services_and_a_working_operator_token(demo: SystemUnderTest) -> None:
    banner = demo.log_tail(200)
    urls = demo.info["urls"]
    assert f"{urls['request']}/console/" in banner
    for service in ("request", "inventory", "gateway"):
        assert urls[service] in banner
    token = re.search(r"operator token[^\n]*\n(\S+)", banner)
    assert token is not None, banner
    answer = httpx.get(f"{urls['request']}/v1/queue/stats", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert answer.status_code == 200


def test_the_data_directory_and_its_keys_databases_and_tokens_are_readable_by_their_owner_only(
    demo: SystemUnderTest,
) -> None:
    data = demo.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    databases = [path for path in data.glob("*.db*") if path.is_file()]
    assert {"request.db", "inventory.db", "gateway.db"} <= {path.name for path in databases}
    assert any(path.name.endswith("-wal") for path in databases)  # SQLite's own files beside them
    tokens = [Path(printer["control_token_file"]) for printer in demo.info["printers"].values()]
    secrets = [*databases, data / "stack.json", data / "keys" / "jwt-private.pem", *tokens]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in secrets} == {
        path.name: oct(0o600) for path in secrets
    }
    for folder in (data / "keys", data / "emulators", *(token.parent for token in tokens)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_the_emulators_control_api_answers_the_token_in_its_file_and_no_one_else(demo: SystemUnderTest) -> None:
    for printer in demo.info["printers"].values():
        assert printer["control"].startswith("http://127.0.0.1:")
        assert httpx.get(f"{printer['control']}/state", timeout=10).status_code == 401
        headers = control_headers(printer["control_token_file"])
        assert httpx.get(f"{printer['control']}/state", headers=headers, timeout=10).status_code == 200
    assert "token in " in demo.log_tail(200)


def test_the_first_tranche_holds_the_reference_offices_8016_blanks(demo: SystemUnderTest) -> None:
    with demo.client("inventory") as inventory:
        invariant = inventory.get("/v1/stock/invariant").json()
    assert invariant["holds"] is True
    assert invariant["received"] == 8016


def test_the_demo_queues_walk_ins_urgent_cases_and_a_kecamatan_batch_and_cards_come_out(demo: SystemUnderTest) -> None:
    with demo.client("request") as operator:
        listing = operator.get("/v1/requests", params={"limit": 500}).json()["items"]
        channels = {r["channel"] for r in listing}
        assert {"walk_in", "partner", "kecamatan_batch"} <= channels
        assert any(r["priority"] == "urgent" for r in listing)
        assert len({r["card"]["kecamatan_code"] for r in listing}) > 1

        def printed() -> int:
            return int(operator.get("/v1/requests", params={"status": "printed", "limit": 1}).json()["total"])

        assert wait_until(lambda: printed() >= 10, timeout=90, what="demo cards to come out")
    assert any(not card["test"] for card in demo.card_log())


def test_the_readme_example_request_is_accepted_and_queued_as_urgent(demo: SystemUnderTest) -> None:
    with demo.client("request") as operator:
        response = operator.post(
            "/v1/requests", json=json.loads(EXAMPLE.read_text()), headers={"Idempotency-Key": "desk-1-0001"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["priority"] == "urgent"


def test_ctrl_c_stops_every_service_and_printer_and_exits_cleanly(demo: SystemUnderTest) -> None:
    # Runs last in this module (tests run in file order); the fixture's own stop() is then a no-op.
    children = list(demo.reload()["pids"])
    assert set(children) >= {"request", "inventory", "gateway"}
    assert demo.stop() == 0
    assert demo.children_alive() == []
