"""Minutes per chapter: every solution notebook executed in lab and in full mode, its wall time and slowest cells.

Each notebook runs alone in a fresh kernel (kernel start included in its time), with all cores, one after the other;
the machine's load average is recorded beside each run, since another process on a 2-core CPU slows it. Results are
merged into ``benchmarks/results/chapter_minutes.{json,md}`` (a run of some chapters or one mode keeps the others),
then the README's chapter table and each solution notebook's header line are rewritten from them
(``course_utils.website.minutes``); run ``python -m course_utils release`` afterwards for the student notebooks.

    .venv/bin/python benchmarks/chapter_minutes.py                      # every chapter, lab then full (hours)
    .venv/bin/python benchmarks/chapter_minutes.py --modes lab          # lab mode only, about 15 minutes
    .venv/bin/python benchmarks/chapter_minutes.py --chapters 04 05 --modes full
    .venv/bin/python benchmarks/chapter_minutes.py --docs-only          # rewrite README and headers from the json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from course_utils.website.execute import cell_seconds, execute_notebook, kernel_environment
from course_utils.website.minutes import BUDGET_MINUTES, MODES, RESULTS_NAME, update_docs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SLOWEST = 3  # cells listed per run
WHY_LONGER = {  # chapter -> the header's reason when a mode overruns its budget
    "02": "Full mode trains its three decoders for 200 s each on all 54,000 training images, so that the comparison at "
          "equal time means something; lab mode runs the same comparison on 2,000 images in under a minute.",
    "04": "Full mode trains the chapter's convolutional denoiser for 10 minutes on all 54,000 training images; lab "
          "mode loads the same design from the course's checkpoint instead.",
    "05": "Full mode trains the low-dose CT denoiser, a residual U-Net, for 10 minutes on 1,500 phantom pairs and "
          "the microscopy denoiser for about 5 more; lab mode loads both from the course's checkpoints.",
    "07": "Full mode trains the chapter's four codecs for 150 s each (the 10-minute budget of the whole "
          "rate-distortion family) on all 54,000 training images and codes the whole 10,000-image test set with all "
          "24 codecs, from bytes; lab mode loads the four codecs from the course's checkpoints and codes 500 images.",
    "08": "Full mode trains the DCGAN for 15 minutes on all 54,000 training images, the training budget of the "
          "chapter's benchmark; lab mode loads the pretrained generator instead.",
}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--chapters", nargs="+", default=None, help="two-digit chapter numbers (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--docs-only", action="store_true", help="measure nothing; rewrite README and headers")
    return parser.parse_args(argv)


def first_line(source: str) -> str:
    """A cell's first non-comment line, shortened, to name it in the table."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    text = lines[0] if lines else source.strip().splitlines()[0] if source.strip() else ""
    return text if len(text) <= 70 else text[:67] + "..."


def measure(path: Path, mode: str) -> dict:
    """Execute one notebook in one mode; its wall time, slowest cells and the load around the run."""
    load_before = os.getloadavg()[0]
    run = execute_notebook(path, kernel_environment(mode))
    cells = [(index, cell_seconds(cell), cell.source) for index, cell in enumerate(run.notebook.cells)
             if cell.cell_type == "code"]
    timed = sorted((item for item in cells if item[1] is not None), key=lambda item: -item[1])
    return {"seconds": round(run.seconds, 1), "cells_seconds": round(sum(item[1] for item in timed), 1),
            "slowest": [{"cell": index, "seconds": round(seconds, 1), "code": first_line(source)}
                        for index, seconds, source in timed[:SLOWEST]],
            "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
            "measured": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}


def to_markdown(result: dict) -> str:
    """The results as a markdown table, with the budget each mode should stay within."""
    intro = (f"Wall time of each solution notebook run alone in a fresh kernel ({result['machine']}), kernel start "
             f"included; budgets: lab {BUDGET_MINUTES['lab']} min, full {BUDGET_MINUTES['full']} min. The 1-minute "
             "load average before each run is about 1-2 from the previous notebook alone on these 2 cores; more "
             "means something else ran too and the minutes are an overestimate.")
    lines = ["# Minutes per chapter", "", intro, "",
             "| chapter | mode | minutes | within budget | slowest cells (s) | load before |", "|---|---|---|---|---|---|"]
    for chapter, modes in sorted(result["chapters"].items()):
        for mode in MODES:
            entry = modes.get(mode)
            if entry is None:
                lines.append(f"| {chapter} | {mode} | not measured | | | |")
                continue
            cells = "; ".join(f"cell {c['cell']}: {c['seconds']:.0f} (`{c['code']}`)" for c in entry["slowest"])
            within = "yes" if entry["seconds"] <= 60 * BUDGET_MINUTES[mode] else "**no**"
            lines.append(f"| {chapter} | {mode} | {entry['seconds'] / 60:.1f} | {within} | {cells} | "
                         f"{entry['load_average_before']:.2f} |")
    reasons = [f"- {chapter}: {modes['why_longer']}" for chapter, modes in sorted(result["chapters"].items())
               if modes.get("why_longer")]
    if reasons:
        lines += ["", "Why a chapter takes longer than its budget (quoted in its header):", "", *reasons]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> None:
    """Save the results (json and md), with the reasons of ``WHY_LONGER`` attached to their chapters."""
    for chapter, modes in result["chapters"].items():
        modes.pop("why_longer", None)
        if chapter in WHY_LONGER:
            modes["why_longer"] = WHY_LONGER[chapter]
    (out / RESULTS_NAME).write_text(json.dumps(result, indent=1) + "\n")
    (out / RESULTS_NAME.replace(".json", ".md")).write_text(to_markdown(result))


def main(argv=None) -> int:
    """Measure, merge into the results, rewrite the docs."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / RESULTS_NAME
    result = (json.loads(path.read_text()) if path.is_file()
              else {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
                    "chapters": {}})
    notebooks = sorted((ROOT / "solutions").glob("*.ipynb"))
    chosen = [nb for nb in notebooks if args.chapters is None or nb.name[:2] in args.chapters]
    for mode in [] if args.docs_only else args.modes:
        for notebook in chosen:
            entry = measure(notebook, mode)
            result["chapters"].setdefault(notebook.name[:2], {})[mode] = entry
            print(f"{notebook.name} {mode}: {entry['seconds'] / 60:.1f} min", flush=True)
            write(result, args.out)
    write(result, args.out)
    if args.out == RESULTS:
        for changed in update_docs(ROOT, path):
            print(f"wrote {changed.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
