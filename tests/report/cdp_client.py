"""Headless Chromium driven over the Chrome DevTools Protocol, with the Python standard library only.

Used by the report tests (and to take the screenshot in docs/): start Debian's ``chromium`` with
``--remote-debugging-port=0``, read the port it chose from ``DevToolsActivePort``, connect to the page
target with a minimal RFC 6455 WebSocket client, and collect console errors, uncaught exceptions and
failed loads while a page loads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars",
         "--remote-debugging-port=0", "--enable-logging=stderr", "--v=0"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


class WebSocket:
    """Just enough of RFC 6455 for CDP: text frames, masked client frames, fragmentation, ping."""

    def __init__(self, url: str, timeout: float = 30.0):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._chunk()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if b" 101 " not in head.split(b"\r\n")[0] or accept.encode() not in head:
            raise ConnectionError(f"WebSocket upgrade refused: {head[:200]!r}")

    def _chunk(self) -> bytes:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("DevTools connection closed")
        return data

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self._chunk()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
        self.sock.sendall(head + mask + body)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            n = int.from_bytes(self._read(2 if n == 126 else 8), "big") if n >= 126 else n
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self._send_frame(0xA, data)
            elif opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            elif opcode in (0x0, 0x1, 0x2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        self.sock.close()


@dataclass
class PageResult:
    """What a page did while loading: its problems and what the check script returned."""

    errors: list[str] = field(default_factory=list)
    value: dict = field(default_factory=dict)
    screenshot: bytes | None = None


class Chromium:
    """One headless Chromium process with one page target."""

    def __init__(self, exe: str, profile: Path, timeout: float = 30.0):
        self.log_path = profile.parent / f"{profile.name}-stderr.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        port = self._port(profile / "DevToolsActivePort", timeout)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        self.ws = WebSocket(pages[0]["webSocketDebuggerUrl"], timeout)
        self.next_id, self.events = 0, []
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable")

    def _port(self, marker: Path, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.log_path.read_text()[-800:]}")
            text = marker.read_text() if marker.is_file() else ""
            if text.strip():
                return int(text.split()[0])
            time.sleep(0.05)
        raise TimeoutError("chromium did not open its DevTools port")

    def call(self, method: str, **params) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            self.events.append(msg)
        raise TimeoutError(f"no {method} within {timeout} s")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed resource loads seen so far."""
        out = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + p["exceptionDetails"].get("text", "") +
                           str(p["exceptionDetails"].get("exception", {}).get("description", "")))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def open(self, page: Path, check_js: str, width: int = 1280, screenshot: bool = False) -> PageResult:
        """Load ``page`` from disk, run ``check_js`` (an async expression) and report errors."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url="about:blank")
        self.wait_event("Page.loadEventFired")
        self.events.clear()  # what the previous page did is not this page's problem
        self.call("Page.navigate", url=page.resolve().as_uri())
        self.wait_event("Page.loadEventFired")
        value = self.call("Runtime.evaluate", expression=check_js, awaitPromise=True, returnByValue=True)
        result = PageResult(value=value.get("result", {}).get("value") or {})
        if screenshot:
            height = int(self.call("Page.getLayoutMetrics")["cssContentSize"]["height"])
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=min(height, 6000),
                      deviceScaleFactor=1, mobile=False)
            time.sleep(0.5)  # let the videos paint a frame at the new size
            shot = self.call("Page.captureScreenshot", format="png")
            result.screenshot = base64.b64decode(shot["data"])
        result.errors = self.errors()
        return result

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self._log.close()


# Waits for every <video> to have its metadata (or fail), then reports durations and image loads.
CHECK_MEDIA_JS = """(async () => {
  const videos = [...document.querySelectorAll('video')];
  // a video is settled when it has a frame, or when it failed (the error fires on its <source>)
  await Promise.all(videos.map(v => v.readyState >= 2 || v.networkState === 3 ? null : new Promise(done => {
    v.addEventListener('loadeddata', done, {once: true});
    v.addEventListener('error', done, {once: true});
    v.querySelectorAll('source').forEach(s => s.addEventListener('error', done, {once: true}));
    setTimeout(done, 10000);
  })));
  const shown = [...document.images].filter(i => !i.closest('video'));
  await Promise.all(shown.map(i => i.complete ? null : new Promise(done => {
    i.addEventListener('load', done, {once: true}); i.addEventListener('error', done, {once: true});
  })));
  return {
    videos: videos.map(v => ({src: v.currentSrc, duration: v.duration, width: v.videoWidth,
                              height: v.videoHeight, error: v.error ? v.error.code : null})),
    images: shown.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    canPlayH264: document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"'),
    title: document.title,
  };
})()"""
