"""Each student notebook with a widget, run whole in JupyterLab in a real browser: move every control, see it change.

This is those notebooks' fast-mode run: the test command leaves them out of nbval when this stage runs, so each
notebook still runs once per mode. A copy of the notebook is served by a JupyterLab started here (it autosaves
outputs into what it opens, so never the course's files), run from the menu in fast mode (Run All Cells), and every
output of the saved notebook is checked for errors, as nbval does. Then each slider is moved with the keyboard and
each dropdown set to another option. After the kernel is idle again the widget's figures (the images in its output
areas) or its labels must differ from before, with no error in its outputs. Screenshots of every widget before and
after each move are kept in build/browser-artifacts/widgets/.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from harness import ROOT, artifacts_dir, browser_page, course, jupyterlab

pytestmark = pytest.mark.browser

RUN_SECONDS = 600  # a fast-mode notebook runs in about a minute here
UPDATE_SECONDS = 120  # one widget redraw: a prediction and a figure
NOTEBOOK_SETTINGS = {"windowingMode": "none"}  # every cell in the page, so prompts can be counted


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab serving copies of the student notebooks with widgets in fast mode; yields (base URL, token, folder)."""
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    for path in course.widget_notebooks():
        shutil.copy(path, root / "notebooks" / path.name)
    tracker = root / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps(NOTEBOOK_SETTINGS))
    env = dict(os.environ, COURSE_MODE="fast", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    with jupyterlab(root, env) as (base, token):
        yield base, token, root / "notebooks"


def open_notebook(page, base: str, token: str, name: str) -> None:
    """Open a notebook on a fresh workspace and wait until its kernel is attached and idle."""
    page.goto(f"{base}/lab/tree/{name}?token={token}&reset")
    page.wait_for_selector(".jp-Notebook")
    kernel = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    name_shown = page.locator(".jp-Toolbar-kernelName", has_text="Python 3")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog button", has_text="Select")
        if dialog.count():  # a notebook without a kernelspec asks which kernel to start
            dialog.first.click()
        if kernel.count() and name_shown.count():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"{name}: no idle Python kernel after 120 s")


PROMPTS = "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent)"
IDLE = "document.querySelector(\".jp-Notebook-ExecutionIndicator[data-status='idle']\") !== null"


def run_all(page) -> int:
    """Run every cell from the menu, wait until the queue has drained; return how many code cells ran.

    A cell that raises stops the queue (JupyterLab clears the rest), so the count tells a stop from a full run.
    """
    page.locator(".lm-MenuBar-itemLabel:text-is('Run')").click()
    page.locator(".lm-Menu-itemLabel:text-is('Run All Cells')").click()
    page.wait_for_function(f"() => {PROMPTS}.some(t => t.includes('*'))")  # queued
    page.wait_for_function(f"() => !{PROMPTS}.some(t => t.includes('*')) && {IDLE}",
                           timeout=RUN_SECONDS * 1000, polling=1000)
    return page.evaluate(f"() => {PROMPTS}.filter(t => /\\[\\d+\\]/.test(t)).length")


def saved_errors(page, path: Path, before: float) -> list[str]:
    """Save the notebook (Ctrl+S) and return the error outputs in the saved file, one line each."""
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while path.stat().st_mtime <= before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert path.stat().st_mtime > before, f"{path.name}: JupyterLab did not save the notebook after Ctrl+S"
    notebook = nbformat.read(path, as_version=4)
    return [f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def widget_cells(page):
    """The code cells whose outputs hold a rendered widget."""
    return page.locator(".jp-CodeCell").filter(has=page.locator(".jp-OutputArea .jupyter-widgets"))


def view_state(cell) -> tuple[list[str], list[str]]:
    """What the widget shows: digests of the images in its output areas, and its labels' texts."""
    images = cell.locator(".widget-output img").evaluate_all("els => els.map(e => e.src)")
    labels = cell.locator("div.widget-label").all_inner_texts()
    return [hashlib.sha256(src.encode()).hexdigest()[:16] for src in images], labels


def output_errors(cell) -> list[str]:
    """Tracebacks printed into the widget's output areas (a callback that raised)."""
    return cell.locator(".widget-output [data-mime-type='application/vnd.jupyter.error'], "
                        ".widget-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ).all_inner_texts()


def wait_for_change(page, cell, before) -> tuple:
    """Wait until the widget's view differs from ``before`` and the kernel is idle again; return the new view."""
    deadline = time.monotonic() + UPDATE_SECONDS
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count()
        now = view_state(cell)
        if idle and now != before and now[0]:
            page.wait_for_timeout(1000)  # a slider may still be sending values; settle on the last one
            return view_state(cell)
    return view_state(cell)


def controls(cell) -> list[tuple[str, object]]:
    """The widget's sliders (their handles) and dropdowns (their select elements), labelled by description."""
    found = []
    for handle in cell.locator(".noUi-handle").all():
        found.append((f"slider {len(found)}", handle))
    for select in cell.locator(".widget-dropdown select").all():
        found.append((f"dropdown {len(found)}", select))
    return found


def move(control_name: str, control) -> str:
    """Move one control as a learner would: a slider to its end with the keyboard, a dropdown to another option."""
    if control_name.startswith("slider"):
        control.focus()
        now, top = control.get_attribute("aria-valuenow"), control.get_attribute("aria-valuemax")
        control.press("Home" if now == top else "End")
        return f"{now} -> {control.get_attribute('aria-valuenow')}"
    options = control.locator("option").all_inner_texts()
    current = control.input_value()
    values = control.locator("option").evaluate_all("els => els.map(e => e.value)")
    target = next(value for value in reversed(values) if value != current)
    control.select_option(target)
    return f"{options[values.index(current)]} -> {options[values.index(target)]}"


def shot(cell, folder: Path, name: str) -> None:
    """Keep a screenshot of the widget's output area."""
    cell.locator(".jp-OutputArea").first.screenshot(path=str(folder / f"{name}.png"))


@pytest.mark.parametrize("student", course.widget_notebooks(), ids=lambda path: path.stem)
def test_every_control_changes_what_the_widget_shows(lab, student):
    base, token, folder = lab
    path = folder / student.name
    notebook = nbformat.read(path, as_version=4)
    shots = artifacts_dir(f"widgets/{student.stem}")
    with browser_page(viewport=(1280, 1800)) as page:  # tall enough for a widget's figures in one screenshot
        open_notebook(page, base, token, student.name)
        started = path.stat().st_mtime
        ran = run_all(page)
        assert saved_errors(page, path, started) == [], f"{student.name} raised errors when run in the browser"
        assert ran == sum(cell.cell_type == "code" for cell in notebook.cells), "the run stopped early"
        cells = widget_cells(page)
        assert cells.count() >= 1, f"{student.name}: no widget rendered"
        for number in range(cells.count()):
            cell = cells.nth(number)
            cell.scroll_into_view_if_needed()
            found = controls(cell)
            assert found, f"{student.name}: widget {number} has no slider or dropdown"
            shot(cell, shots, f"widget{number}-start")
            for control_name, control in found:
                before = view_state(cell)
                moved = move(control_name, control)
                after = wait_for_change(page, cell, before)
                shot(cell, shots, f"widget{number}-{control_name.replace(' ', '')}")
                assert output_errors(cell) == [], f"{student.name}: {control_name} ({moved}) raised in the kernel"
                assert after != before, f"{student.name}: moving {control_name} ({moved}) changed nothing shown"
                assert after[0], f"{student.name}: after {control_name} ({moved}) the widget shows no figure"
