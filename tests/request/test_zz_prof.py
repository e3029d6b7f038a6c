import time, cProfile, pstats, io
import pytest
from tests.request.conftest import Office
import sys; sys.path.insert(0, "bench")
from bench_request import resident

@pytest.mark.postgres
async def test_prof(office: Office) -> None:
    operator = office.as_("operator")
    g = office.as_("service")
    for i in range(20):
        await operator.post("/v1/requests", json=resident(i))
    pr = cProfile.Profile(); pr.enable()
    t = time.perf_counter()
    for i in range(20, 220):
        r = await operator.post("/v1/requests", json=resident(i))
        assert r.status_code == 201, r.text
    print("post ms", (time.perf_counter() - t) * 5)
    t = time.perf_counter()
    for i in range(100):
        r = await g.post("/v1/queue/claims", json={"job_id": f"j{i}", "printer_id": "p"})
    print("claim ms", (time.perf_counter() - t) * 10)
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats("services/|pydantic|PIL|stdnum|jwt|json", 40)
    print(s.getvalue()[:9000])
