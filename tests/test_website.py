"""The course site (``python -m course_utils site``) and the minutes-per-chapter docs, without a browser.

The pages themselves are opened in Chromium by tests/browser/test_site.py.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import Future
from pathlib import Path

import nbformat
import pytest

from course_utils.website import build, minutes

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "def twice(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
CHECK = "twice = 2\n### BEGIN HIDDEN TESTS\nassert twice == 2\n### END HIDDEN TESTS\n"


def _notebook(*cells) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def test_reader_view_shows_the_stub_not_the_answer():
    answer = nbformat.v4.new_markdown_cell("The answer is 42.", metadata={"tags": ["solution-only"]})
    exercise = nbformat.v4.new_code_cell(EXERCISE, outputs=[nbformat.v4.new_output("stream", text="4\n")])
    check = nbformat.v4.new_code_cell(CHECK, outputs=[nbformat.v4.new_output("stream", text="passed\n")])
    notebook = _notebook(nbformat.v4.new_markdown_cell("# 01 · title"), exercise, check, answer)
    view = build.reader_view(notebook, answers=False)
    assert [cell.source for cell in view.cells] == [
        "# 01 · title", "def twice(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n", "twice = 2\n"]
    assert view.cells[1].outputs == []  # the reference answer's output would give it away
    assert view.cells[2].outputs[0].text == "passed\n"  # what the check says stays
    assert build.reader_view(notebook, answers=True) == notebook
    assert notebook.cells[1].source == EXERCISE  # the executed notebook itself is untouched


def test_source_hash_follows_sources_and_mode_not_outputs(tmp_path):
    path = tmp_path / "01_x.ipynb"
    cell = nbformat.v4.new_code_cell("x = 1")
    nbformat.write(_notebook(cell), path)
    first = build.source_hash(path, "lab")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(_notebook(cell), path)
    assert build.source_hash(path, "lab") == first
    assert build.source_hash(path, "full") != first
    nbformat.write(_notebook(nbformat.v4.new_code_cell("x = 2")), path)
    assert build.source_hash(path, "lab") != first


def test_chapters_come_from_the_readme_table():
    chapters = build.chapters_from_readme(ROOT / "README.md", ROOT / "solutions")
    assert [chapter.solution.name for chapter in chapters] == sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert chapters[1].title == "01 · dense autoencoder; linear AE vs PCA"
    assert chapters[1].page == "01_dense_autoencoder.html"


def test_a_readme_row_without_its_notebook_is_named(tmp_path):
    (tmp_path / "solutions").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("| # | notebook | follows |\n|---|---|---|\n| 01 | [one](notebooks/01_one.ipynb) | a |\n")
    with pytest.raises(FileNotFoundError, match="01_one.ipynb"):
        build.chapters_from_readme(readme, tmp_path / "solutions")
    readme.write_text("# A course without a table\n")
    with pytest.raises(ValueError, match="no chapter table"):
        build.chapters_from_readme(readme, tmp_path / "solutions")


def _course(root: Path, sources: dict[str, str]) -> None:
    """A tiny course: a README table, solution notebooks with these code cells, and their student copies."""
    rows = "\n".join(f"| {name[:2]} | [{name[3:]}](notebooks/{name}.ipynb) | {name[3:]} things |" for name in sources)
    (root / "README.md").write_text(f"# Tiny course\n\nOpening words.\n\n## Chapters\n\n"
                                    f"| # | notebook | follows |\n|---|---|---|\n{rows}\n")
    for folder in ("solutions", "notebooks"):
        (root / folder).mkdir(exist_ok=True)
        for name, source in sources.items():
            notebook = _notebook(nbformat.v4.new_markdown_cell(f"# {name[:2]} · {name[3:]}\n\n$$a^2$$"),
                                 nbformat.v4.new_code_cell(source))
            notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            nbformat.write(notebook, root / folder / f"{name}.ipynb")


def test_the_longest_chapters_start_first(tmp_path, monkeypatch):
    chapters = [build.Chapter(tmp_path / f"0{i}.ipynb", f"0{i}", "", minutes)
                for i, minutes in enumerate(["0.2 / 3.0", "1.5 / 2.0", "", "0.9 / 18.1", "— / —"])]
    assert [build.expected_seconds(c, "lab") for c in chapters] == [12.0, 90.0, 0.0, 54.0, 0.0]
    assert [build.expected_seconds(c, "full") for c in chapters] == [180.0, 120.0, 0.0, 1086.0, 0.0]
    assert {build.expected_seconds(c, "fast") for c in chapters} == {0.0}  # not measured: README order
    submitted = []

    class Pool:  # runs nothing: records the order in which execute_all submits the notebooks
        def __init__(self, max_workers):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, job, path, mode, threads):
            submitted.append(Path(path).name)
            future = Future()
            future.set_result((path, None, 0.0, "not run"))
            return future

    monkeypatch.setattr(build, "ProcessPoolExecutor", Pool)
    build.execute_all(chapters, "lab", tmp_path / "cache", jobs=2, force=True)
    assert submitted == ["01.ipynb", "03.ipynb", "00.ipynb", "02.ipynb", "04.ipynb"]
    submitted.clear()
    build.execute_all(chapters, "fast", tmp_path / "cache", jobs=2, force=True)
    assert submitted == ["00.ipynb", "01.ipynb", "02.ipynb", "03.ipynb", "04.ipynb"]


def test_site_executes_once_reuses_its_cache_and_reports_a_failing_notebook(tmp_path, capsys):
    _course(tmp_path, {"01_one": "print('one', 6 * 7)", "02_two": "1 / 0"})
    out, cache = tmp_path / "site", tmp_path / "cache"
    pages, failures = build.build_site(tmp_path, out, "fast", cache)
    assert [page.name for page in pages] == ["index.html", "01_one.html"]
    assert list(failures) == ["02_two.ipynb"] and "ZeroDivisionError" in failures["02_two.ipynb"]
    page = (out / "01_one.html").read_text()
    assert "one 42" in page and "downloads/01_one.ipynb" in page and "mathjax/MathJax.js" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?:", page)  # nothing loaded from the network
    assert (out / "downloads" / "01_one.ipynb").is_file() and (out / "mathjax" / "MathJax.js").is_file()
    assert "02_two.html" in (out / "index.html").read_text()  # listed; its test finds the page missing
    executed = cache / "fast" / "01_one.ipynb"
    stamp = executed.stat().st_mtime_ns
    capsys.readouterr()
    build.build_site(tmp_path, out, "fast", cache)
    assert "01_one.ipynb: unchanged since its last fast run, reused" in capsys.readouterr().out
    assert executed.stat().st_mtime_ns == stamp
    _course(tmp_path, {"01_one": "print('one', 6 * 8)", "02_two": "2 / 1"})
    pages, failures = build.build_site(tmp_path, out, "fast", cache)
    assert failures == {} and len(pages) == 3 and "one 48" in (out / "01_one.html").read_text()


def test_site_command_fails_with_a_clear_message(tmp_path, capsys):
    assert build.main(["--root", str(tmp_path), "--out", str(tmp_path / "site")]) == 1
    assert "README.md" in capsys.readouterr().err
    assert build.main(["--jobs", "0"]) == 2


ENTRY = {"lab": {"seconds": 95.0, "slowest": [{"cell": 7, "seconds": 41.2, "code": "fit()"}]},
         "full": {"seconds": 1200.0, "slowest": [{"cell": 9, "seconds": 900.4, "code": "fit()"}]}}


def test_minutes_header_is_added_once_then_replaced():
    title = "# 01 · The dense autoencoder\n\nAn autoencoder learns..."
    first = minutes.with_header(title, ENTRY)
    assert first.startswith("# 01 · The dense autoencoder\n\n*Time on a 2-core CPU: 1.6 min in "
                            "lab mode, 20.0 min in full mode; slowest cell 41 s in lab, 900 s in full")
    assert first.endswith("\n\nAn autoencoder learns...")
    assert minutes.with_header(first, ENTRY) == first
    faster = {"lab": dict(ENTRY["lab"], seconds=60.0)}
    second = minutes.with_header(first, faster)
    assert "1.0 min in lab mode, full mode not measured yet" in second and second.count(minutes.MARKER) == 1
    assert minutes.header_line(dict(ENTRY, why_longer="It trains for 15 minutes.")).endswith(
        " It trains for 15 minutes. <!-- minutes -->")  # full overruns 15 min: the reason is quoted
    assert "trains" not in minutes.header_line(dict(faster, why_longer="It trains for 15 minutes."))
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    assert "<em>Time on a 2-core CPU" in markdown2html_mistune(first)  # rendered as markdown, not raw HTML


def test_readme_minutes_column():
    readme = ("x\n| # | notebook | follows |\n|---|---|---|\n| 01 | [one](notebooks/01_one.ipynb) | a |\n"
              "| 02 | [two](notebooks/02_two.ipynb) | b |\n")
    once = minutes.with_readme_minutes(readme, {"01": ENTRY})
    assert "| # | notebook | follows | minutes (lab / full) |\n|---|---|---|---|" in once
    assert "| 01 | [one](notebooks/01_one.ipynb) | a | 1.6 / 20.0 |" in once
    assert "| 02 | [two](notebooks/02_two.ipynb) | b | – / – |" in once
    assert minutes.with_readme_minutes(once, {"01": ENTRY}) == once


def test_readme_and_headers_quote_the_measured_minutes():
    """The numbers are regenerated by benchmarks/chapter_minutes.py, never typed: nothing here differs from it."""
    results = ROOT / "benchmarks" / "results" / minutes.RESULTS_NAME
    chapters = minutes.load_results(results)
    assert chapters, "run benchmarks/chapter_minutes.py"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert minutes.with_readme_minutes(readme, chapters) == readme
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        title = nbformat.read(path, as_version=4).cells[0].source
        assert path.name[:2] in chapters, f"{path.name} has no measured minutes"
        assert minutes.with_header(title, chapters[path.name[:2]]) == title, f"{path.name}: header out of date"
    measured = json.loads(results.read_text())["chapters"]
    for chapter, entry in measured.items():
        over = [mode for mode in minutes.MODES if entry.get(mode)
                and entry[mode]["seconds"] > 60 * minutes.BUDGET_MINUTES[mode]]
        assert not over or entry.get("why_longer"), f"chapter {chapter} overruns {over} without saying why"


def test_the_index_quotes_the_readme_minutes(tmp_path):
    readme = tmp_path / "README.md"
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_one.ipynb").write_text("{}")
    readme.write_text("# Course\n\nWords.\n\n| # | notebook | follows | minutes (lab / full) |\n|---|---|---|---|\n"
                      "| 01 | [one](notebooks/01_one.ipynb) | a thing | 1.6 / 20.0 |\n")
    (chapter,) = build.chapters_from_readme(readme, tmp_path / "solutions")
    assert (chapter.follows, chapter.minutes) == ("a thing", "1.6 / 20.0")
    index = build._index_notebook([chapter], readme, "lab", answers=False).cells[1].source
    assert "| [01 · one](01_one.html) | a thing | 1.6 / 20.0 | [download](downloads/01_one.ipynb) |" in index


def test_update_docs_changes_only_the_title_line_and_the_readme_column(tmp_path):
    (tmp_path / "solutions").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("| # | notebook | follows |\n|---|---|---|\n| 01 | [one](notebooks/01_one.ipynb) | a |\n")
    text = ('{\n "cells": [\n  {\n   "source": [\n    "# 01 · One\\n",\n    "\\n",\n    "Words."\n   ],\n'
            '   "cell_type": "markdown",\n   "metadata": {},\n   "id": "a"\n  }\n ],\n "metadata": {},\n'
            ' "nbformat": 4,\n "nbformat_minor": 5\n}\n')
    (tmp_path / "solutions" / "01_one.ipynb").write_text(text)
    results = tmp_path / "chapter_minutes.json"
    results.write_text(json.dumps({"chapters": {"01": ENTRY}}))
    changed = minutes.update_docs(tmp_path, results)
    assert sorted(path.name for path in changed) == ["01_one.ipynb", "README.md"]
    new = (tmp_path / "solutions" / "01_one.ipynb").read_text()
    assert new.replace(f'    "{minutes.header_line(ENTRY)}\\n",\n    "\\n",\n', "") == text  # layout kept
    assert "| 01 | [one](notebooks/01_one.ipynb) | a | 1.6 / 20.0 |" in readme.read_text()
    assert minutes.update_docs(tmp_path, results) == []
