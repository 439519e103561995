"""The course's single command-line entry point: ``python -m course_utils <command>``."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "doctor": ("course_utils.environment",
               "check Python, TensorFlow, Keras, CPU and GPU; say what to fix (exit 0 when the course can run)"),
    "release": ("course_utils.grading.release",
                "generate the student notebooks/ from solutions/ (--check: fail if they drifted)"),
    "grade": ("course_utils.grading.grader",
              "grade submitted notebooks in sandboxed kernels; write a gradebook (CSV, JSON) and feedback"),
    "merge": ("course_utils.grading.merge", "merge the gradebooks of `grade --shard K/N` runs into one"),
    "site": ("course_utils.website.build",
             "execute the solution notebooks and build the course's static HTML site (--mode lab|full)"),
}


def _parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<9}{help_text}" for name, (_, help_text) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="python -m course_utils",
        description="Companion tools of the autoencoder course.",
        epilog=f"commands:\n{lines}\n\nRun `python -m course_utils <command> --help` for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command's own ``main(argv)``; print help for no or an unknown command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    parser.add_argument("command", nargs="?", choices=sorted(COMMANDS), metavar="command")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)
