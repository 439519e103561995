"""What the browser tests drive: Debian's Chromium through Playwright, a JupyterLab server and a static file server.

Everything started here is stopped by the context managers that started it, pass or fail.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from needs import fail_in_ci_else_skip

from course_utils.training.cluster import free_ports

ROOT = Path(__file__).resolve().parents[2]


def _load_course_py():
    """course.py, the test command's script: it names the Chromium binaries and the notebooks with widgets."""
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _load_course_py()
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
INSTALL_HINT = ("install Debian's headless Chromium and a font (`sudo apt-get install --no-install-recommends "
                "chromium-headless-shell fonts-dejavu-core`) or point COURSE_CHROMIUM at a Chromium binary; "
                "Playwright comes with the course's dev extra (never run `playwright install`)")
LAB_START_SECONDS = 90


def artifacts_dir(name: str) -> Path:
    """Where a test keeps its screenshots: $COURSE_ARTIFACTS or build/browser-artifacts, one folder per test."""
    base = Path(os.environ.get("COURSE_ARTIFACTS", ROOT / "build" / "browser-artifacts"))
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def missing(what: str) -> NoReturn:
    """Fail in CI, where the browser must run; skip elsewhere with the fix."""
    fail_in_ci_else_skip(f"{what}: {INSTALL_HINT}")


def chromium_path() -> str:
    """The Chromium binary to drive: $COURSE_CHROMIUM, else the first Debian name found on PATH."""
    explicit = os.environ.get("COURSE_CHROMIUM")
    if explicit:
        if not Path(explicit).is_file():
            missing(f"COURSE_CHROMIUM={explicit} is not a file")
        return explicit
    for name in course.CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    missing("no Chromium found on PATH")


@contextlib.contextmanager
def browser_page(viewport: tuple[int, int] = (1280, 900), timeout_ms: int = 60_000) -> Iterator:
    """A Playwright page in headless Chromium, with a default timeout long enough for this 2-core machine."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed")
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


def _listening(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def _stop_tree(process: subprocess.Popen) -> None:
    """Stop a server and everything it started (kernels included): SIGTERM, then SIGKILL what is left."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _lab_command(root: Path, port: int, token: str) -> list[str]:
    """JupyterLab on 127.0.0.1 with its own settings and workspaces, no news, kernels on the ipc transport."""
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root / 'notebooks'}", f"--LabApp.user_settings_dir={root / 'settings'}",
               f"--LabApp.workspaces_dir={root / 'workspaces'}", "--KernelManager.transport=ipc"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def _quiet_settings(settings: Path) -> None:
    """User settings that keep JupyterLab's news and update pop-ups from covering the notebook."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str], attempts: int = 3) -> Iterator[tuple[str, str]]:
    """Serve ``root/notebooks`` with JupyterLab; yield (base URL, token); stop it and its kernels afterwards."""
    for folder in ("settings", "workspaces", "config"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    _quiet_settings(root / "settings")
    runtime = Path(tempfile.mkdtemp(prefix="course-lab-"))  # short: a kernel's ipc socket path must fit 107 bytes
    env = dict(env, JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(runtime))
    token = secrets.token_hex(16)
    log = root / "jupyterlab.log"
    try:
        yield from _serve(root, env, token, log, attempts)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _serve(root: Path, env: dict[str, str], token: str, log: Path, attempts: int) -> Iterator[tuple[str, str]]:
    """Start JupyterLab on a free port (retrying a port race), yield once it answers, stop it afterwards."""
    for _ in range(attempts):
        (port,) = free_ports(1)  # nothing listens there now; a race is retried (port_retries=0)
        with open(log, "ab") as sink:
            process = subprocess.Popen(_lab_command(root, port, token), env=env, cwd=root, stdout=sink,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + LAB_START_SECONDS
            while process.poll() is None and time.monotonic() < deadline:
                if _listening(f"{base}/api/status?token={token}"):
                    yield base, token
                    return
                time.sleep(0.5)
        finally:
            _stop_tree(process)
    raise RuntimeError(f"JupyterLab did not start in {attempts} attempts; its log: {log}")


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (as a web host would); yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass
