"""Drive a headless Chromium over the Chrome DevTools protocol: load a page, collect its console
errors, wait for the charts, take screenshots. Used for the PNG fallback and the browser test.

Needs a Chromium/Chrome binary (``apt-get install -y chromium``, or ``BROWSER_PATH``) and the
``websockets`` package (a freqtrade dependency).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

BROWSER_ENV = "BROWSER_PATH"
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = (
    "a Chromium browser is needed: install it with `apt-get install -y chromium` (Debian/Ubuntu), "
    f"or set {BROWSER_ENV} to a Chrome/Chromium binary"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserMissing(RuntimeError):
    """No Chromium/Chrome binary was found; the message says how to install one."""


class BrowserError(RuntimeError):
    """The browser failed to start, answer or load the page."""


def find_browser() -> Path | None:
    """``$BROWSER_PATH``, else the first Chromium/Chrome on the PATH, else None."""
    if env := os.environ.get(BROWSER_ENV):
        path = Path(env).expanduser()
        return path if path.is_file() else None
    for name in BROWSER_NAMES:
        if found := shutil.which(name):
            return Path(found)
    return None


def require_browser() -> Path:
    """The browser binary, or :class:`BrowserMissing` with the install hint."""
    browser = find_browser()
    if browser is None:
        raise BrowserMissing(INSTALL_HINT)
    return browser


class HeadlessChromium:
    """A headless Chromium with one page, controlled over the DevTools protocol.

    ``with HeadlessChromium(width=1280, height=900) as chrome: chrome.open(url); chrome.errors``;
    ``errors`` collects console errors and uncaught exceptions, ``requests`` every URL requested.
    """

    def __init__(
        self, browser: Path | None = None, *, width: int = 1280, height: int = 900, timeout: float = 30
    ):
        self.browser = browser or require_browser()
        self.width, self.height, self.timeout = width, height, timeout
        self.errors: list[str] = []
        self.requests: list[str] = []
        self._next_id = 0
        self._profile: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ws: Any = None
        self._stack = ExitStack()

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> HeadlessChromium:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="smartfolio-chromium-")
        log = open(Path(self._profile) / "chromium.log", "wb")
        self._process = subprocess.Popen(
            [
                str(self.browser),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile}",
                "--remote-debugging-port=0",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        try:
            port = self._wait_for_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as reply:
                targets = json.loads(reply.read())
            page = next(t for t in targets if t.get("type") == "page")
            self._ws = self._stack.enter_context(
                connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=self.timeout)
            )
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        self._ws = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _wait_for_port(self) -> int:
        assert self._profile is not None and self._process is not None
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (Path(self._profile) / "chromium.log").read_text(errors="replace")[-2000:]
                raise BrowserError(f"{self.browser} exited with {self._process.returncode}:\n{log}")
            if marker.is_file() and (lines := marker.read_text().split()):
                return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"{self.browser} did not open its DevTools port within {self.timeout:.0f} s")

    # ------------------------------------------------------------ protocol
    def _on_event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.errors.append(f"uncaught exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(
                f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}"
            )

    def _receive(self, until: float) -> dict[str, Any]:
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise BrowserError("the browser did not answer in time")
        try:
            message = json.loads(self._ws.recv(timeout=remaining))
        except TimeoutError:
            raise BrowserError("the browser did not answer in time") from None
        if "method" in message:
            self._on_event(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one DevTools command and return its result (events seen meanwhile are recorded)."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(json.dumps({"id": ident, "method": "Page.navigate", "params": {"url": url}}))
        deadline = time.monotonic() + self.timeout
        loaded = answered = False
        while not (loaded and answered):
            message = self._receive(deadline)
            if message.get("id") == ident:
                if "errorText" in message.get("result", {}):
                    raise BrowserError(f"cannot load {url}: {message['result']['errorText']}")
                answered = True
            loaded = loaded or message.get("method") == "Page.loadEventFired"

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float | None = None) -> None:
        """Poll until ``expression`` is truthy."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression!r}")
            time.sleep(0.1)

    def screenshot(
        self, path: str | Path | None = None, *, selector: str | None = None, full_page: bool = False
    ) -> bytes:
        """PNG of the viewport, of the whole page, or of the element matching ``selector``."""
        params: dict[str, Any] = {"format": "png"}
        if selector or full_page:
            if selector:
                box = self.evaluate(
                    f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                    ".getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, "
                    "width: r.width, height: r.height}; })()"
                )
            else:
                size = self.call("Page.getLayoutMetrics")["cssContentSize"]
                box = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
            params.update(clip={**box, "scale": 1}, captureBeyondViewport=True)
        data = base64.b64decode(self.call("Page.captureScreenshot", params)["data"])
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
        return data
