"""B6, the web: AMI over HTTP (`/rawman` Ping and PJSIPNotify with a keep-alive client and a
cookie session, 8 requests at once), the metrics scrape with 100,000 stored contacts, and the
console's endpoint list for 10,000 endpoints rendered in headless Chromium (when it and its
driver are installed).

Usage: run by bench.py (`--only B6`).
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import time
from pathlib import Path

import aiohttp

from harness import UDP, Responder, percentile, service

REQUESTS = 5000
AT_ONCE = 8


def b6(workdir: Path) -> dict[str, float]:
    results: dict[str, float] = {}
    results.update(asyncio.run(_rawman(workdir / "b6-rawman")))
    results.update(_scrape(workdir / "b6-metrics"))
    results.update(_console(workdir / "b6-console"))
    return results


async def _rawman(workdir: Path) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    responder, _ = await loop.create_datagram_endpoint(Responder, local_addr=("127.0.0.1", 0))
    port = responder.get_extra_info("sockname")[1]
    pjsip = UDP + (f"[phone]\ntype=aor\ncontact=sip:phone@127.0.0.1:{port}\n"
                   "[phone]\ntype=endpoint\naors=phone\n")  # fmt: skip
    figures: dict[str, float] = {}
    with service(pjsip, workdir) as svc:
        base = f"http://127.0.0.1:{svc.http_port}/rawman"
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            async with client.get(f"{base}?action=login&username=bench&secret=bench") as login:
                assert b"Authentication accepted" in await login.read()
            for name, query in (("ping", "action=ping"),
                                ("pjsipnotify", "action=PJSIPNotify&endpoint=phone"
                                                "&variable=Event=check-sync")):  # fmt: skip
                cpu = svc.cpu_seconds()
                took = await _hammer(client, f"{base}?{query}", REQUESTS)
                figures[f"rawman_{name}_per_s"] = REQUESTS / took
                figures[f"rawman_{name}_cpu_us"] = 1e6 * (svc.cpu_seconds() - cpu) / REQUESTS
    responder.close()
    return figures


async def _hammer(client: aiohttp.ClientSession, url: str, count: int) -> float:
    left = iter(range(count))

    async def worker() -> None:
        for _ in left:
            async with client.get(url) as response:
                body = await response.read()
                if response.status != 200 or b"Response: Success" not in body:
                    raise RuntimeError(body.decode(errors="replace"))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(AT_ONCE)))
    return time.perf_counter() - start


def _scrape(workdir: Path, aors: int = 10_000, per_aor: int = 10) -> dict[str, float]:
    """GET /metrics with 100,000 registered contacts (B4's store)."""
    import sys  # noqa: PLC0415 (the package under test, from the tree)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from sipnotify.sip.registrar import Binding  # noqa: PLC0415
    from sipnotify.storage.sqlite import SqliteContactStore  # noqa: PLC0415

    store = SqliteContactStore(workdir / "data" / "contacts.sqlite3")
    far = time.time() + 86400
    store.change([Binding(aor=f"a{a}", uri=f"sip:a{a}-{c}@10.0.{c}.{a % 250}", expires_at=far,
                          endpoint=f"a{a}", via_addr="10.0.0.1", via_port=5060)
                  for a in range(aors) for c in range(per_aor)], [])  # fmt: skip
    store.close()
    sections = "".join(
        f"[a{a}]\ntype=aor\nmax_contacts={per_aor}\n[a{a}]\ntype=endpoint\naors=a{a}\n"
        for a in range(aors)
    )
    with service(UDP + sections, workdir) as svc:
        times = asyncio.run(_scrapes(svc.http_port, 10))
    return {"metrics_contacts": float(aors * per_aor),
            "metrics_scrape_p50_ms": 1000 * percentile(times, 0.5),
            "metrics_scrape_max_ms": 1000 * max(times)}  # fmt: skip


async def _scrapes(port: int, count: int) -> list[float]:
    token = base64.b64encode(b"bench:bench").decode()
    times = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as client:
        for _ in range(count):
            start = time.perf_counter()
            async with client.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
            times.append(time.perf_counter() - start)
            assert 'sipnotify_contacts{kind="registered",status="NonQualified"} 100000.0' in text
    return times


def _console(workdir: Path, endpoints: int = 10_000) -> dict[str, float]:
    """The console's endpoint list for 10,000 endpoints: from asking to rows laid out."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        return {}
    from selenium import webdriver  # noqa: PLC0415 (only when a browser is there)
    from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: PLC0415
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    sections = "".join(
        f"[d{n:05}]\ntype=aor\ncontact=sip:d{n:05}@10.1.{n // 250}.{n % 250}\n"
        f"[d{n:05}]\ntype=endpoint\naors=d{n:05}\n"
        for n in range(endpoints)
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    with service(UDP + sections, workdir) as svc:
        browser = webdriver.Chrome(options=options, service=ChromeService(driver_path))
        try:
            browser.get(f"http://127.0.0.1:{svc.http_port}/console/")
            WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "username"))
            browser.find_element(By.ID, "username").send_keys("bench")
            browser.find_element(By.ID, "secret").send_keys("bench\n")
            WebDriverWait(browser, 60).until(lambda d: "10000 endpoints" in d.find_element(
                By.ID, "count").text)  # fmt: skip
            times = [browser.execute_async_script(
                "const done = arguments[0]; const t = performance.now();"
                "loadPhones().then(() => { document.body.offsetHeight;"
                " done(performance.now() - t); });") / 1000 for _ in range(5)]  # fmt: skip
        finally:
            browser.quit()
    return {"console_endpoints": float(endpoints),
            "console_list_p50_ms": 1000 * percentile(times, 0.5),
            "console_list_max_ms": 1000 * max(times)}  # fmt: skip
