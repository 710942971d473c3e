"""The web console in a real browser (Debian's headless Chromium driven by Selenium) against
a running sipnotify and SIPp phones: signing in, searching, a dry run that sends nothing, a
real send whose job is watched live to its end, the job history, and labels on every field.

Screenshots of the main views are taken on the way; with SCREENSHOTS_DIR set (`make
screenshots`) they are also written there (docs/ keeps the README's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.integration.conftest import StartService, Uas, admin_conf

HTTP = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n"
WAIT = 20  # seconds any one step may take


def pjsip(ports: list[int]) -> str:
    text = "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    for n, port in enumerate(ports, 1):
        text += f"[desk{n}]\ntype=aor\ncontact=sip:desk{n}@127.0.0.1:{port}\n"
        text += f"[desk{n}]\ntype=endpoint\naors=desk{n}\n"
    return text


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--force-prefers-reduced-motion"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=ChromeService(
        shutil.which("chromedriver") or "/usr/bin/chromedriver"))  # fmt: skip
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    def __init__(self, driver: WebDriver, folder: Path) -> None:
        self.driver = driver
        self.folder = folder
        self.keep = (
            Path(os.environ["SCREENSHOTS_DIR"]) if os.environ.get("SCREENSHOTS_DIR") else None
        )

    def take(self, name: str) -> None:
        path = self.folder / f"console-{name}.png"
        assert self.driver.save_screenshot(str(path))
        assert path.read_bytes()[:4] == b"\x89PNG"
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.keep / path.name)


def wait(driver: WebDriver, condition: object) -> None:
    WebDriverWait(driver, WAIT).until(condition)  # type: ignore[arg-type]


def text(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def rows(driver: WebDriver, selector: str) -> list[str]:
    """The rows of a table (or of a grid with table roles), as their text."""
    css = f"{selector} tbody tr, {selector} [role=rowgroup] + [role=rowgroup] [role=row]"
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return [" ".join(str(row.text).split()) for row in found]


def sign_in(browser: WebDriver, shots: Shots) -> None:
    """With the keyboard only: a wrong secret first, then the right one."""
    browser.find_element(By.ID, "username").send_keys("admin")
    browser.find_element(By.ID, "secret").send_keys("wrong", Keys.ENTER)
    wait(browser, lambda d: text(d, "#sign-in-error") == "authentication failed")
    shots.take("sign-in")
    browser.find_element(By.ID, "secret").clear()
    browser.find_element(By.ID, "secret").send_keys("s3cret", Keys.ENTER)
    wait(browser, lambda d: text(d, "#count") == "3 endpoints, 3 contacts")


def test_sign_in_search_look_send_and_watch_a_job_live(
    start_service: StartService, uas: Uas, browser: WebDriver, tmp_path: Path
) -> None:
    phones = [uas("uas_notify.xml", timeout=60) for _ in range(3)]
    service = start_service(admin_conf(), files={
        "http.conf": HTTP, "pjsip.conf": pjsip([p.port for p in phones]),
        "pjsip_notify.conf": "[clear-mwi]\nEvent => message-summary\n"})  # fmt: skip
    shots = Shots(browser, tmp_path)
    browser.get(f"http://127.0.0.1:{service.http_port()}/console/")
    wait(browser, lambda d: d.switch_to.active_element.get_attribute("id") == "username")
    unlabeled = browser.execute_script(
        "return [...document.querySelectorAll('input, select')].filter(e => e.type !== 'hidden'"
        " && !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)"
    )
    assert unlabeled == []  # every field has a label a screen reader can read
    sign_in(browser, shots)
    assert text(browser, "#who") == "Signed in as admin"
    browser.find_element(By.ID, "search").send_keys("desk2", Keys.ENTER)
    wait(browser, lambda d: text(d, "#count") == "1 endpoints, 1 contacts")
    assert rows(browser, "#phones")[0].startswith("desk2 sip:desk2@127.0.0.1:")
    browser.find_element(By.ID, "search").clear()
    browser.find_element(By.CSS_SELECTOR, "#filter button").click()
    wait(browser, lambda d: text(d, "#count") == "3 endpoints, 3 contacts")
    browser.find_element(By.ID, "all").click()
    Select(browser.find_element(By.ID, "what")).select_by_value("verb:reboot")
    browser.find_element(By.ID, "preview").click()
    wait(browser, lambda d: len(rows(d, "#preview-table")) == 3)
    assert "fallback" in rows(browser, "#preview-table")[0]
    assert "Event: check-sync;reboot=true" in text(browser, "#preview-table")
    shots.take("dry-run")
    assert all(phone.received() == [] for phone in phones)  # a dry run sends nothing
    what = Select(browser.find_element(By.ID, "what"))
    assert "Preset: clear-mwi" in [o.text for o in what.options]  # pjsip_notify.conf's
    what.select_by_value("verb:resync")
    rate = browser.find_element(By.ID, "rate")
    rate.clear()
    rate.send_keys("100")
    browser.find_element(By.ID, "start").click()
    wait(browser, lambda d: d.find_element(By.ID, "job-view").is_displayed())
    wait(browser, lambda d: text(d, "#job-summary").startswith("done: 3 of 3 settled"))
    assert browser.find_element(By.ID, "job-progress").get_attribute("value") == "3"
    assert all("answered" in row for row in rows(browser, "#job-phones"))
    wait(browser, lambda d: len(rows(d, "#jobs")) == 1)
    assert " resync 3 done 3 0 0 0" in rows(browser, "#jobs")[0]
    shots.take("job")
    browser.find_element(By.CSS_SELECTOR, 'nav [data-view="phones"]').click()
    wait(browser, lambda d: text(d, "#count") == "3 endpoints, 3 contacts")
    shots.take("phones")
    for phone in phones:
        assert phone.finish() == 0, phone.output
    browser.find_element(By.ID, "sign-out").click()
    wait(browser, lambda d: d.find_element(By.ID, "sign-in-view").is_displayed())
    browser.refresh()  # the session cookie is dead: back to signing in
    wait(browser, lambda d: d.find_element(By.ID, "sign-in-view").is_displayed())
