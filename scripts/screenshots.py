"""Take the README's pictures of the demo (scripts/screenshots).

Starts scripts/demo, logs in as its user, and takes each picture with Chromium at a
fixed size: the device page with its entities and activity, the config flow's first
step, and the action form after sending a downlink. (No map: its tiles come from
the internet, which the machines that make these may not reach.) Images are reduced to a
palette, to stay small in the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).parent))
import demo

IMAGES = demo.ROOT / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 860}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]


def start_demo(ha: str) -> subprocess.Popen[str]:
    """Start scripts/demo and return it once it prints its address."""
    process = subprocess.Popen(
        [str(demo.ROOT / "scripts" / "demo"), "--ha", ha],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if "Open http" in line:
            return process
    raise SystemExit("[screenshots] the demo stopped before it was ready")


def tokens() -> dict[str, Any]:
    """Log the demo user in; return the tokens as the frontend keeps them."""
    token = demo.login_tokens()
    return {
        **token,
        "hassUrl": demo.URL,
        "clientId": demo.CLIENT_ID,
        "expires": int(time.time() * 1000) + token["expires_in"] * 1000,
    }


def device_of(token: str, entity_id: str) -> str:
    """Return the Home Assistant device id of an entity."""
    return demo.request(
        "POST",
        "/api/template",
        {"template": f"{{{{ device_id('{entity_id}') }}}}"},
        token,
    )


async def shoot(page: Page, name: str, clip: dict[str, float] | None = None) -> None:
    """Save the page (or a part of it) as docs/images/<name>.png."""
    await page.mouse.move(0, VIEWPORT["height"] - 1)  # no hover effects
    await page.wait_for_timeout(800)
    path = IMAGES / f"{name}.png"
    await page.screenshot(path=str(path), clip=clip)
    print(f"[screenshots] {path.relative_to(demo.ROOT)}", flush=True)


async def take_all(hass_tokens: dict[str, Any]) -> None:
    """Take every picture."""
    token = hass_tokens["access_token"]
    sensor = device_of(token, "sensor.th_sensor_01_temperature")
    action = {
        "action": "ttn_mqtt.send_downlink",
        "target": {},
        "data": {
            "device_id": sensor,
            "f_port": 2,
            "payload": "01 02",
            "confirmed": True,
        },
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport=VIEWPORT, locale="en-US")
        await context.add_init_script(
            f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(hass_tokens))});"
            "localStorage.setItem('panel-dev-action-state-service-data', "
            f"{json.dumps(json.dumps(action))});"
        )

        page = await context.new_page()

        # The action form, with the answer of a confirmed downlink.
        await page.goto(f"{demo.URL}/developer-tools/action")
        await page.get_by_role("button", name="Perform action").click(timeout=30000)
        answer = page.get_by_text("correlation_id")
        await answer.wait_for(timeout=30000)
        await answer.scroll_into_view_if_needed()
        await shoot(page, "action")

        # The device page, once its downlink was acknowledged.
        await page.wait_for_timeout(15000)
        await page.goto(f"{demo.URL}/config/devices/device/{sensor}")
        await page.get_by_text("acknowledged").first.wait_for(timeout=60000)
        await shoot(page, "device")

        # The config flow's first step.
        await page.goto(f"{demo.URL}/config/integrations/dashboard/add?domain=ttn_mqtt")
        # Home Assistant first asks whether to set up the integration.
        await page.get_by_role("button", name="OK").click(timeout=30000)
        dialog = page.locator("dialog-data-entry-flow")
        await dialog.get_by_text("Connect a TTN application").wait_for(timeout=30000)
        await page.wait_for_timeout(1500)
        await shoot(page, "config_flow")
        await dialog.get_by_role("button", name="Close").first.click()

        await browser.close()


def shrink(path: Path) -> None:
    """Reduce a picture to 256 colours (Pillow, if the venv has it), to stay small."""
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256)
    small.save(path, optimize=True)


def main() -> int:
    """Run the demo, take the pictures, stop the demo."""
    parser = argparse.ArgumentParser(
        prog="scripts/screenshots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--ha", default="oldest", choices=("oldest", "current"))
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process = start_demo(args.ha)
    try:
        asyncio.run(take_all(tokens()))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    for path in sorted(IMAGES.glob("*.png")):
        shrink(path)
        print(f"[screenshots] {path.name}: {path.stat().st_size // 1024} KB")
    print(f"[screenshots] done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
