"""The browser tests' servers and browsers stop when a test fails, kernels included."""
from __future__ import annotations

import json
import os
import time
import urllib.request

import psutil
import pytest
from harness import browser_page, jupyterlab

pytestmark = pytest.mark.browser


def _server_and_children(token: str) -> list[psutil.Process]:
    """The JupyterLab started with this token and everything under it."""
    for process in psutil.process_iter(["cmdline"]):
        if any(token in part for part in process.info["cmdline"] or []):
            return [process, *process.children(recursive=True)]
    return []


def _chromium_count() -> int:
    """Live Chromium processes started by this test process (another test worker may run its own browser)."""
    count = 0
    for process in psutil.Process().children(recursive=True):
        try:
            count += "chrom" in process.name() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            continue
    return count


def _settled_chromium_count(expected: int, seconds: float = 10) -> int:
    deadline = time.monotonic() + seconds
    while _chromium_count() != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return _chromium_count()


def test_a_failing_test_leaves_no_jupyterlab_kernel_or_browser(tmp_path):
    (tmp_path / "notebooks").mkdir()
    browsers, started = _chromium_count(), []
    with (pytest.raises(RuntimeError, match="the test failed"),
          jupyterlab(tmp_path, dict(os.environ)) as (base, token), browser_page() as page):
        request = urllib.request.Request(f"{base}/api/kernels?token={token}", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=60) as reply:
            kernel = json.load(reply)["id"]
        page.goto(f"{base}/api/kernels?token={token}")
        assert kernel in page.content()
        started = _server_and_children(token)
        assert any("ipykernel" in " ".join(process.cmdline()) for process in started)
        assert _chromium_count() > browsers
        raise RuntimeError("the test failed")
    assert [process.pid for process in started if process.is_running()] == []
    assert _settled_chromium_count(browsers) == browsers
