"""Static review of a submission's own cells: code that could beat the grader is reported, never executed.

Each code cell the learner wrote (everything but the released check cells) is parsed with :mod:`ast`
after IPython syntax is neutralised, and matched against the rules below. A finding does not change the
score; it fills the gradebook's ``review`` column with the cell and the reason, for the instructor to read.
The rules aim at what a cheat needs (the reference, the grading internals, hooks into the interpreter,
the course files, other processes), not at ordinary course code: the released notebooks and their
solutions raise none.
"""
from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable, Iterator
from typing import Any

from nbformat import NotebookNode

from course_utils.exercises.core import Exercise
from course_utils.grading.notebook_io import cell_label, course_meta

ALLOWED_IMPORT = ("course_utils.exercises", "check")
INTERNAL_MODULES = ("course_utils.exercises", "course_utils.grading")
MODULE_RULES = {
    "ctypes": "loads native code (ctypes)", "cffi": "loads native code (cffi)",
    "subprocess": "starts processes (subprocess)", "pty": "starts processes (pty)",
    "multiprocessing": "starts processes (multiprocessing)", "signal": "uses signals",
    "importlib": "imports modules dynamically (importlib)", "IPython": "uses IPython internals",
}
CALL_RULES = {
    "sys.settrace": "installs a tracing hook", "sys.setprofile": "installs a profiling hook",
    "threading.settrace": "installs a tracing hook", "threading.setprofile": "installs a profiling hook",
    "sys.addaudithook": "installs an audit hook", "sys._getframe": "inspects interpreter frames",
    "inspect.currentframe": "inspects interpreter frames", "inspect.stack": "inspects interpreter frames",
    "gc.get_objects": "searches the interpreter's objects", "gc.get_referrers": "searches the interpreter's objects",
    "os.kill": "sends signals", "os.killpg": "sends signals", "os.getppid": "looks for the parent process",
    "os.system": "starts processes", "os.popen": "starts processes", "os.fork": "starts processes",
    "os.forkpty": "starts processes", "os.posix_spawn": "starts processes",
    "__import__": "imports modules dynamically (__import__)", "exec": "runs code from a string (exec)",
    "eval": "runs code from a string (eval)", "get_ipython": "uses IPython internals (get_ipython)",
}
CALL_PREFIXES = {"os.exec": "starts processes", "os.spawn": "starts processes", "sys.monitoring.": "installs a "
                 "monitoring hook"}
ATTRIBUTE_RULES = {
    "input_transformers_cleanup": "changes IPython input transformers",
    "input_transformers_post": "changes IPython input transformers",
    "input_transformer_manager": "changes IPython input transformers", "ast_transformers": "changes IPython "
    "AST transformers", "f_back": "inspects interpreter frames", "f_globals": "inspects interpreter frames",
    "f_locals": "inspects interpreter frames", "tb_frame": "inspects interpreter frames",
    "__globals__": "reaches into a function's globals", "__code__": "rewrites or inspects code objects",
    "__builtins__": "patches builtins", "__subclasses__": "searches the interpreter's classes",
}
STRING_RULES = [
    (re.compile(r"/proc\b"), "reads /proc (other processes)"),
    (re.compile(r"(^|[/\\.])solutions([/\\]|$)"), "reads course files (solutions/)"),
    (re.compile(r"course_utils[/\\]|site-packages|manifest\.json"), "reads course files (the installed package)"),
    (re.compile(r"profile_default|\.ipython|ipython_config"), "writes IPython configuration or startup files"),
    (re.compile(r"\.ipynb\b"), "opens notebook files"),
    (re.compile(r"_course_grader"), "touches the grader's own names"),
    (re.compile(r"vnd\.course-grader"), "forges the grader's probe results"),
]
DISPLAY_IMPORTS = {("IPython.display", name) for name in ("display", "Markdown", "HTML", "Image", "Math", "clear_output")}
KNOWN_MODULES = {"np": "numpy", "numpy": "numpy", "builtins": "builtins", "sys": "sys", "os": "os"}
SHELL_LINE = re.compile(r"^\s*(!|%%?(bash|sh|script|system|sx|writefile)\b)|=\s*!")
MAGIC_LINE = re.compile(r"^(\s*)[%!?]")


def reference_names(exercises: Iterable[Exercise]) -> dict[str, str]:
    """The exercises' references by name ('prepare_images', 'DenseAutoencoder'), each with its exercise's name."""
    names = {}
    for exercise in exercises:
        found = inspect.getclosurevars(exercise.reference).nonlocals
        name = found.get("name")
        if not isinstance(name, str):
            name = getattr(exercise.reference(), "__name__", exercise.name)
        names[name] = exercise.name
    return names


def reference_of(full: str, references: dict[str, str]) -> str | None:
    """The reference a dotted name from course_utils refers to (re-exports included), else None."""
    short = full.rsplit(".", 1)[-1]
    return short if full.startswith("course_utils.") and short in references else None


def python_source(source: str) -> tuple[str, list[str]]:
    """The cell as plain Python (IPython magics and shell lines become ``pass``) and the shell findings."""
    lines, findings = [], []
    for line in source.split("\n"):
        if SHELL_LINE.search(line):
            findings.append("runs shell commands (! or %%bash)")
        match = MAGIC_LINE.match(line)
        lines.append(f"{match.group(1)}pass" if match else line)
    return "\n".join(lines), findings


class _Rules(ast.NodeVisitor):
    """Walks one cell, resolving names through the notebook's imports, and collects findings."""

    def __init__(self, aliases: dict[str, str], references: dict[str, str]) -> None:
        self.aliases, self.references, self.findings = aliases, references, []

    def dotted(self, node: ast.AST) -> str:
        """The dotted name an expression refers to ('np.savez' -> 'numpy.savez'), '' when it is not one."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else ""
        if isinstance(node, ast.Call) and self.dotted(node.func) == "get_ipython":
            return "IPython.shell"
        return ""

    def is_module(self, node: ast.AST) -> bool:
        """True when an expression's root is a name bound by an import (a module or something from one)."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.aliases or self.dotted(node) == "IPython.shell"

    def note(self, reason: str) -> None:
        """Record one finding."""
        self.findings.append(reason)

    def _imported(self, module: str, name: str | None, node: ast.AST) -> None:
        """Rules for one imported module or name."""
        full = f"{module}.{name}" if name else module
        reference = reference_of(full, self.references)
        if reference is not None and self.references[reference] == reference:
            self.note(f"imports the exercise reference {full}")
        elif module.startswith(INTERNAL_MODULES) and (module, name) != ALLOWED_IMPORT:
            self.note(f"imports grading internals ({full})")
        if name == "*" and module.startswith("course_utils"):
            self.note(f"imports everything from {module}, which may hold an exercise reference")
        if module.split(".")[0] in MODULE_RULES and not (module, name) in DISPLAY_IMPORTS:
            self.note(MODULE_RULES[module.split(".")[0]])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(alias.name, None, node)
            self.aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            self._imported(module, alias.name, node)
            self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            self._binds_reference([alias.asname or alias.name], ast.Name(alias.asname or alias.name))

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        if name in CALL_RULES:
            self.note(CALL_RULES[name])
        self.note_prefix(name)
        if name.rsplit(".", 1)[-1] == "check" and (name == "check" or name.startswith("course_utils")):
            self.note("calls check() outside its check cell")
        if name in ("setattr", "delattr", "object.__setattr__") and node.args and self.is_module(node.args[0]):
            self.note(f"patches {self.dotted(node.args[0]) or 'a module'} with {name}()")
        self.generic_visit(node)

    def note_prefix(self, name: str) -> None:
        """Rules for families of calls (os.exec*, os.spawn*, sys.monitoring.*)."""
        for prefix, reason in CALL_PREFIXES.items():
            if name.startswith(prefix):
                self.note(reason)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if node.attr in ATTRIBUTE_RULES:
            self.note(ATTRIBUTE_RULES[node.attr])
        reference = reference_of(name, self.references)
        if reference is not None and self.references[reference] == reference:
            self.note(f"uses the exercise reference {name}")
        if name.startswith("IPython.shell.events"):
            self.note("registers IPython event callbacks")
        if name == "sys.modules":
            self.note("changes or searches sys.modules")
        if node.attr in ("__file__", "__path__", "__spec__") and name.startswith("course_utils"):
            self.note("reads course files (the installed package)")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.note(ATTRIBUTE_RULES["__builtins__"])

    def _targets(self, targets: Iterable[ast.AST]) -> None:
        """Assignments to attributes of imported modules (np.savez = ..., builtins.any = ...)."""
        for target in targets:
            if isinstance(target, ast.Attribute) and self.is_module(target):
                self.note(f"patches {self.dotted(target) or 'a module attribute'}")
            elif isinstance(target, (ast.Tuple, ast.List)):
                self._targets(target.elts)

    def _binds_reference(self, names: Iterable[str], value: ast.AST) -> None:
        """An exercise's name bound to (or derived from) its reference: MyAutoencoder = DenseAutoencoder."""
        exercise_names = set(self.references.values())
        for name in set(names) & exercise_names:
            used = {reference_of(self.dotted(n), self.references) for n in ast.walk(value)
                    if isinstance(n, (ast.Name, ast.Attribute))}
            if any(reference is not None and self.references[reference] == name for reference in used):
                self.note(f"binds {name} to the exercise reference")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node.targets)
        names = [target.id for target in node.targets if isinstance(target, ast.Name)]
        self._binds_reference(names, node.value)
        if isinstance(node.value, ast.Call) and self.dotted(node.value.func) == "get_ipython":
            self.aliases.update(dict.fromkeys(names, "IPython.shell"))
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            self._binds_reference([node.name], base)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._targets([node.target])
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        self._targets(node.targets)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.findings += [reason for pattern, reason in STRING_RULES if pattern.search(node.value)]


def _learner_cells(nb: NotebookNode, check_ids: set[str]) -> Iterator[tuple[int, NotebookNode]]:
    """The code cells the learner wrote: all but the released check cells and the grader's own."""
    for index, cell in enumerate(nb.cells):
        is_check = cell.get("id") in check_ids and course_meta(cell, "check") is not None
        if cell.cell_type == "code" and not is_check and "course_grader" not in cell.get("metadata", {}):
            yield index, cell


def review_notebook(nb: NotebookNode, check_ids: set[str], references: dict[str, str]) -> list[str]:
    """Findings for a restored notebook: 'cell 4 (id 'x'): reason', each once per cell."""
    aliases: dict[str, str] = dict(KNOWN_MODULES)
    notes: list[str] = []
    for index, cell in _learner_cells(nb, check_ids):
        source, findings = python_source(cell.source)
        rules = _Rules(aliases, references)
        try:
            rules.visit(ast.parse(source))
        except (SyntaxError, ValueError, RecursionError):
            pass  # the cell fails in the kernel as well; nothing to review
        reasons: dict[str, Any] = dict.fromkeys(findings + rules.findings)
        notes += [f"{cell_label(index, cell)}: {reason}" for reason in reasons]
    return notes
