"""The operator's console in headless Chromium, against the real daemon on the real broker.

The page must show the street, and an override set and cleared from its form must reach the
lamps as commands on the broker. Screenshots (laptop and phone) go to tests/artifacts/ for a
person to look at. Selenium blocks, so each browser step runs in a thread: the event loop
keeps reading the broker and the daemon's log meanwhile (a full stderr pipe would stall it).
"""

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path

import aiomqtt
import pytest

from gateway.mqtt.broker import free_port
from tests.conftest import BrokerInfo
from tests.e2e.support import TIMEOUT_S, Lamps, running_daemon, stderr_until, write_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN_ENV = "LUCIOLE_TEST_CONSOLE_TOKEN"
TOKEN = f"console-{uuid.uuid4().hex}"
SEGMENTS = {f"s{i}" for i in range(1, 6)}

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"the console's browser test needs {CHROMIUM} and {CHROMEDRIVER} "
    "(apt-get install chromium chromium-driver)",
)

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.chrome.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def open_browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.binary_location = str(CHROMIUM)
    driver: WebDriver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    return driver


def wait(driver: WebDriver, done: Callable[[WebDriver], object]) -> None:
    """Until `done` holds. The page redraws from the live stream every second, so an element
    found a moment ago may be gone: such a look is simply taken again."""
    WebDriverWait(driver, TIMEOUT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        done
    )


def act(driver: WebDriver, step: Callable[[WebDriver], object]) -> None:
    """Do `step` (find an element and act on it), again if a redraw took the element away."""

    def done(d: WebDriver) -> bool:
        step(d)
        return True

    wait(driver, done)


def shown_segments(driver: WebDriver) -> set[str]:
    found = driver.find_elements(By.CSS_SELECTOR, "#map [data-segment]")
    return {str(element.get_attribute("data-segment")) for element in found}


def load(driver: WebDriver, url: str) -> None:
    """The page, drawn from the live stream: every segment, a target list, "live"."""
    driver.set_window_size(1280, 900)
    driver.get(url)
    wait(driver, lambda d: shown_segments(d) == SEGMENTS)
    wait(driver, lambda d: d.find_element(By.ID, "live").text == "live")
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#target option[value=s3]"))


def set_override(driver: WebDriver) -> None:
    act(driver, lambda d: Select(d.find_element(By.ID, "target")).select_by_value("s3"))
    for field, value in (("level", "80"), ("duration", "30"), ("token", TOKEN)):

        def typed(d: WebDriver, field: str = field, value: str = value) -> None:
            element = d.find_element(By.ID, field)
            element.clear()
            element.send_keys(value)

        act(driver, typed)
    act(driver, lambda d: d.find_element(By.ID, "set").click())
    wait(driver, lambda d: "s3 set to 80 %" in d.find_element(By.ID, "result").text)


def show_override(driver: WebDriver) -> None:
    """The override listed, and s3's details open (what the screenshots show)."""
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#overrides [data-override=s3]"))
    act(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#map [data-segment=s3]").click())
    wait(driver, lambda d: "override" in d.find_element(By.ID, "details").text)


def clear_override(driver: WebDriver) -> None:
    act(driver, lambda d: d.find_element(By.ID, "clear").click())
    wait(driver, lambda d: "s3: override cleared" in d.find_element(By.ID, "result").text)
    wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "#overrides [data-override]"))


def screenshots(driver: WebDriver) -> None:
    """Laptop (1280x900) and phone (390x844, laid out as a phone), each also full-page."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name, width, height, mobile in (("laptop", 1280, 900, False), ("phone", 390, 844, True)):
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        wait(driver, width_is(width))
        driver.save_screenshot(str(ARTIFACTS / f"console-{name}.png"))
        full_page(driver, ARTIFACTS / f"console-{name}-full.png")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def width_is(width: int) -> Callable[[WebDriver], bool]:
    return lambda driver: bool(driver.execute_script("return window.innerWidth") == width)


def full_page(driver: WebDriver, path: Path) -> None:
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


async def drain(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Keep reading the daemon's log, so that it never blocks on a full pipe."""
    assert process.stderr is not None
    while line := await process.stderr.readline():
        lines.append(line.decode(errors="replace"))


def lamp_is(lamps: Lamps, segment: str, level: float, reason: str) -> bool:
    command = lamps.latest.get(segment, {})
    return command.get("level") == level and command.get("reason") == reason


async def test_an_override_set_and_cleared_from_the_page_reaches_the_lamp(
    tmp_path: Path, broker: BrokerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_id = f"e2e-{uuid.uuid4().hex[:8]}"
    port = free_port()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    extra = f"console: {{port: {port}, token_env: {TOKEN_ENV}}}\n"
    site = write_site(tmp_path, broker, site_id, "30%", extra=extra)
    async with aiomqtt.Client(broker.host, broker.port, identifier=f"t-{site_id}") as client:
        lamps = Lamps(client, site_id)
        await client.subscribe(f"{lamps.root}/lamp/+/set", qos=1)
        async with running_daemon(site) as daemon:
            line = await stderr_until(daemon, "console serving")
            assert f"http://127.0.0.1:{port}/" in line
            log: list[str] = []
            draining = asyncio.create_task(drain(daemon, log))
            driver = await asyncio.to_thread(open_browser)
            try:
                await lamps.until(lambda: len(lamps.latest) == 5)
                await asyncio.to_thread(load, driver, f"http://127.0.0.1:{port}/")
                await asyncio.to_thread(set_override, driver)
                await lamps.until(lambda: lamp_is(lamps, "s3", 0.8, "override"))
                await asyncio.to_thread(show_override, driver)
                await asyncio.to_thread(screenshots, driver)
                await asyncio.to_thread(clear_override, driver)
                await lamps.until(lambda: lamp_is(lamps, "s3", 0.3, "schedule"))
            finally:
                await asyncio.to_thread(driver.quit)
                draining.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await draining
                print("".join(log))  # shown by pytest when the test fails
    assert any("console override set" in entry and "who=console" in entry for entry in log)
