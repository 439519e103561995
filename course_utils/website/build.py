"""Build the course site: execute the solution notebooks (cached by source), export each to HTML, add an index.

``python -m course_utils site [--mode lab|full|fast] [--out site]``. Pages are nbconvert's JupyterLab template
with every figure embedded and MathJax copied beside them, so the site reads offline from any folder or web
server. By default a page shows what a learner sees (exercise cells as the student stubs, answers to questions
left out) with the outputs of the reference run; ``--answers`` keeps the solutions for an instructors' copy.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from course_utils.config import MODES
from course_utils.grading.notebook_io import SOLUTION, atomic_write, find_regions, student_source, tags
from course_utils.grading.release import SOLUTION_ONLY
from course_utils.website.execute import execute_notebook, kernel_environment

TEMPLATES = Path(__file__).with_name("templates")
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
CACHE_KEY = "course_site"  # notebook metadata key of a cached execution: its source hash and mode
TABLE_ROW = re.compile(r"^\|\s*(\d{2})\s*\|\s*\[(?P<title>[^\]]+)\]\(notebooks/(?P<file>[^)]+\.ipynb)\)\s*\|"
                       r"\s*(?P<follows>[^|]*?)\s*\|(?:\s*(?P<minutes>[^|]*?)\s*\|)?")


@dataclass(frozen=True)
class Chapter:
    """One chapter of the site: its solution notebook, page name, title and the README's summary."""

    solution: Path
    title: str
    follows: str
    minutes: str = ""  # "lab / full", from the README's minutes column (benchmarks/chapter_minutes.py)

    @property
    def page(self) -> str:
        return self.solution.with_suffix(".html").name


def source_hash(path: Path, mode: str) -> str:
    """What decides whether a cached execution is still valid: every cell's type and source, and the run mode."""
    notebook = nbformat.read(path, as_version=4)
    cells = [[cell.cell_type, cell.source] for cell in notebook.cells]
    return hashlib.sha256(json.dumps([mode, cells]).encode()).hexdigest()


def chapters_from_readme(readme: Path, solutions: Path) -> list[Chapter]:
    """The README's chapter table, each row pointing at its solution notebook; an error names a missing one."""
    chapters = []
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = TABLE_ROW.match(line)
        if not match:
            continue
        solution = solutions / match["file"]
        if not solution.is_file():
            raise FileNotFoundError(f"{readme} lists {match['file']}, but {solution} does not exist; "
                                    f"fix the README's chapter table or add the notebook")
        chapters.append(Chapter(solution, f"{match['file'][:2]} · {match['title']}", match["follows"],
                                match["minutes"] or ""))
    if not chapters:
        raise ValueError(f"{readme} has no chapter table rows like '| 01 | [title](notebooks/01_x.ipynb) | ... |'")
    return chapters


def _execute_job(path: str, mode: str, threads: int) -> tuple[str, dict | None, float, str | None]:
    """Worker: execute one notebook; return its path, the executed notebook, seconds and an error (or None)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        run = execute_notebook(Path(path), kernel_environment(mode, threads, static_widgets=True))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:  # a cell raised, hung, or the kernel died
        return path, None, 0.0, f"{type(error).__name__}: {error}"
    return path, run.notebook, run.seconds, None


def cached_execution(cache: Path, chapter: Chapter, mode: str) -> NotebookNode | None:
    """The cached executed notebook when its source and mode still match, else None."""
    path = cache / chapter.solution.name
    if not path.is_file():
        return None
    executed = nbformat.read(path, as_version=4)
    stamp = executed.metadata.get(CACHE_KEY, {})
    return executed if stamp.get("source") == source_hash(chapter.solution, mode) else None


def expected_seconds(chapter: Chapter, mode: str) -> float:
    """How long the chapter ran in ``mode`` when last measured (the README's "lab / full" minutes); 0 if unknown."""
    column = {"lab": 0, "full": 1}.get(mode)
    try:
        return 60.0 * float(chapter.minutes.split("/")[column])
    except (TypeError, IndexError, ValueError):  # fast mode, an empty column or a dash
        return 0.0


def execute_all(chapters: list[Chapter], mode: str, cache: Path, jobs: int, force: bool) -> dict[str, str]:
    """Execute every chapter whose source changed (all with ``force``) into ``cache``; return failures by name.

    The longest chapters start first, so that the last to finish is a short one and no worker idles for long.
    """
    cache.mkdir(parents=True, exist_ok=True)
    todo = [chapter for chapter in chapters if force or cached_execution(cache, chapter, mode) is None]
    todo.sort(key=lambda chapter: expected_seconds(chapter, mode), reverse=True)  # stable: ties keep README order
    for chapter in chapters:
        if chapter not in todo:
            print(f"  {chapter.solution.name}: unchanged since its last {mode} run, reused", flush=True)
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    failures: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_execute_job, str(chapter.solution), mode, threads) for chapter in todo]
        for future in futures:
            path, notebook, seconds, error = future.result()
            name = Path(path).name
            if error is not None:
                failures[name] = error
                print(f"  {name}: FAILED in {mode} mode", flush=True)
                continue
            notebook.metadata[CACHE_KEY] = {"source": source_hash(Path(path), mode), "mode": mode,
                                            "seconds": round(seconds, 1)}
            atomic_write(cache / name, nbformat.writes(notebook))
            print(f"  {name}: executed in {mode} mode in {seconds:.0f} s", flush=True)
    return failures


def reader_view(notebook: NotebookNode, answers: bool) -> NotebookNode:
    """The page's notebook: without ``answers``, exercise cells become the student stubs and answers are left out."""
    view = copy.deepcopy(notebook)
    if answers:
        return view
    view.cells = [cell for cell in view.cells if SOLUTION_ONLY not in tags(cell)]
    for cell in view.cells:
        if cell.cell_type != "code":
            continue
        regions = find_regions(cell.source)
        if regions:
            cell.source = student_source(cell.source, regions)
        if any(region.kind == SOLUTION for region in regions):
            cell.outputs = []  # the reference answer's output would give it away
    return view


def _navigation(chapters: list[Chapter], index: int, mode: str) -> str:
    """The markdown line on top of a chapter page: index, neighbours, the student notebook to download."""
    links = ["[course index](index.html)"]
    if index > 0:
        links.append(f"previous: [{chapters[index - 1].title}]({chapters[index - 1].page})")
    if index + 1 < len(chapters):
        links.append(f"next: [{chapters[index + 1].title}]({chapters[index + 1].page})")
    name = chapters[index].solution.name
    return (" · ".join(links) + f"\n\nDownload the [student notebook](downloads/{name}) to work through it. "
            f"The outputs below come from a run in *{mode}* mode.")


def _index_notebook(chapters: list[Chapter], readme: Path, mode: str, answers: bool) -> NotebookNode:
    """The index page as a markdown notebook: the README's title and opening, then the chapter map."""
    text = readme.read_text(encoding="utf-8")
    title, _, rest = text.partition("\n")
    opening = rest.split("\n## ", 1)[0].strip()
    rows = "\n".join(f"| [{chapter.title}]({chapter.page}) | {chapter.follows} | {chapter.minutes} | "
                     f"[download](downloads/{chapter.solution.name}) |" for chapter in chapters)
    shown = "with the solutions" if answers else "as a learner sees it (exercises left for you)"
    body = (f"{opening}\n\n## Chapters\n\nEach page is a notebook {shown}, with the figures and numbers of a run "
            f"in *{mode}* mode. To run it yourself, download the student notebook and follow the README's "
            f"two commands. Minutes: each notebook's wall time on a 2-core CPU in lab and in full mode.\n\n"
            f"| chapter | covers | minutes (lab / full) | student notebook |\n|---|---|---|---|\n{rows}\n")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(title), nbformat.v4.new_markdown_cell(body)]
    notebook.metadata["title"] = title.lstrip("# ").strip()
    return notebook


def _exporter():
    """nbconvert's HTML exporter with the course template and the local MathJax."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATES)])
    exporter.mathjax_url = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    return exporter


def copy_mathjax(out: Path) -> None:
    """Copy MathJax 2 (from jupyter-server-mathjax) beside the pages, once."""
    import jupyter_server_mathjax

    target = out / "mathjax"
    if not (target / "MathJax.js").is_file():
        source = Path(jupyter_server_mathjax.__file__).parent / "static"
        shutil.copytree(source, target, dirs_exist_ok=True)


def write_site(chapters: list[Chapter], executed: dict[str, NotebookNode], notebooks: Path, readme: Path,
               out: Path, mode: str, answers: bool) -> list[Path]:
    """Write index.html, one page per executed chapter, the student notebooks and MathJax; return the pages."""
    exporter = _exporter()
    (out / "downloads").mkdir(parents=True, exist_ok=True)
    copy_mathjax(out)
    pages = []
    for index, chapter in enumerate(chapters):
        name = chapter.solution.name
        if name not in executed:
            continue
        view = reader_view(executed[name], answers)
        view.cells.insert(0, nbformat.v4.new_markdown_cell(_navigation(chapters, index, mode)))
        view.metadata["title"] = chapter.title
        html, _ = exporter.from_notebook_node(view, resources={"metadata": {"name": chapter.title}})
        atomic_write(out / chapter.page, html)
        shutil.copyfile(notebooks / name, out / "downloads" / name)
        pages.append(out / chapter.page)
    html, _ = exporter.from_notebook_node(_index_notebook(chapters, readme, mode, answers))
    atomic_write(out / "index.html", html)
    return [out / "index.html", *pages]


def build_site(root: Path, out: Path, mode: str, cache: Path, jobs: int = 1, answers: bool = False,
               force: bool = False) -> tuple[list[Path], dict[str, str]]:
    """Execute what changed and write the site; return the pages written and the notebooks that failed."""
    chapters = chapters_from_readme(root / "README.md", root / "solutions")
    failures = execute_all(chapters, mode, cache / mode, jobs, force)
    executed = {chapter.solution.name: found for chapter in chapters
                if (found := cached_execution(cache / mode, chapter, mode)) is not None}
    pages = write_site(chapters, executed, root / "notebooks", root / "README.md", out, mode, answers)
    return pages, failures


def _parser() -> argparse.ArgumentParser:
    """Command-line options of ``site``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils site",
        description="Execute the solution notebooks and build a static HTML site of the course: an index with the "
                    "chapter map, one page per chapter with its figures and numbers (widgets as their static "
                    "figures), the student notebooks as downloads. Only notebooks whose source changed since "
                    "their last run in the same mode are executed again.")
    parser.add_argument("--mode", choices=MODES, default="lab",
                        help="run mode of the executions (default: lab, a few minutes per chapter; full: the "
                             "learners' budgets, the longest)")
    parser.add_argument("--out", type=Path, default=Path("site"), help="folder of the site (default: site)")
    parser.add_argument("--cache", type=Path, default=Path("build/site-cache"),
                        help="folder of executed notebooks, one subfolder per mode (default: build/site-cache)")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="course folder with README.md, solutions/ and notebooks/ (default: .)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once, each with its share of "
                                                            "the cores (default: 1)")
    parser.add_argument("--answers", action="store_true",
                        help="show the solutions and answers (an instructors' copy; default: the learner's view)")
    parser.add_argument("--force", action="store_true", help="execute every notebook again")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Build the site; 0 when every chapter executed, 1 when one failed (its error is printed)."""
    args = _parser().parse_args(argv)
    if args.jobs < 1:
        print(f"--jobs must be 1 or more, got {args.jobs}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    print(f"Building the course site in {args.out} ({args.mode} mode) ...", flush=True)
    try:
        pages, failures = build_site(args.root, args.out, args.mode, args.cache, args.jobs, args.answers, args.force)
    except (FileNotFoundError, ValueError) as error:
        print(f"site failed: {error}", file=sys.stderr)
        return 1
    for name, error in failures.items():
        print(f"\n{name} failed in {args.mode} mode; its page was not written:\n{error}", file=sys.stderr)
    print(f"Wrote {len(pages)} pages in {time.perf_counter() - start:.0f} s; open {args.out / 'index.html'}")
    return 1 if failures else 0
