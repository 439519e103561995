"""Environment and GPU check of the course (chapter 00): ``python -m course_utils doctor``.

``check_environment()`` returns an :class:`EnvironmentReport`, a list of :class:`Finding` objects
(name, value, status ``ok``/``warn``/``fail`` and advice), and prints it as text. It reports the
Python, TensorFlow, Keras and NumPy versions, the Keras backend, the CPU and its memory, every GPU
TensorFlow sees (name, compute capability, memory in use), the CUDA/cuDNN versions TensorFlow was
built with, whether an op really runs on the GPU, the memory-growth setting, mixed-precision advice,
a short CPU/GPU timing, and, when there is no GPU, what to do on this platform.

Every probe is guarded: an exception becomes a ``warn`` finding carrying the error text. Only two
things are ``fail``: TensorFlow does not import, or a small op does not run on the CPU; ``main``
exits with 1 then and 0 otherwise (no GPU is not a failure: the course runs on CPU). TensorFlow is
first imported in a fresh Python whose stderr the report quotes, so an import that kills the process
(a CPU without AVX aborts) or fails in native code is reported with its reason, not hidden by the
package's quiet import.

All facts come from a :class:`Sources` object (TensorFlow calls, ``platform.system``, the
environment, ...), so tests can pass fakes. Honest note: the GPU branches of this module were
tested with mocked device lists, device details and build info only; no GPU was available to
run them against real hardware. ``get_memory_info`` reports the memory TensorFlow uses on a GPU,
not the card's capacity (``nvidia-smi`` shows that).
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_PYTHON = (3, 11)  # numpy 2.4, scipy 1.17, matplotlib 3.11 and scikit-image 0.26 need it
# Used where constraints.txt is absent (an install from a wheel); only the leading parts in MATCH_PARTS are compared.
FALLBACK_PINS = {"tensorflow": "2.21", "keras": "3", "numpy": "2"}
LOCK_FILE = Path(__file__).resolve().parents[1] / "constraints.txt"  # in a source checkout
MATCH_PARTS = {"tensorflow": 2, "keras": 1, "numpy": 1}
CPU_ONLY_TIP = "The course runs fine on CPU; use `COURSE_MODE=fast` for quick runs."
MIB = 1024**2
PROBE_LINES = 20  # lines of a failed import's stderr quoted in the report


@dataclass(frozen=True)
class Finding:
    """One checked fact: its name, value, status (ok/warn/fail) and advice."""

    name: str
    value: str
    status: str = OK
    advice: str = ""


@dataclass
class EnvironmentReport:
    """The findings of one environment check, as data, JSON or text."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def can_run(self) -> bool:
        """True when nothing failed, i.e. TensorFlow imports and runs an op on the CPU."""
        return all(f.status != FAIL for f in self.findings)

    def get(self, name: str) -> Finding | None:
        """Return the first finding called ``name`` (None if there is none)."""
        return next((f for f in self.findings if f.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data (``can_run`` plus the findings)."""
        return {"can_run": self.can_run, "findings": [asdict(f) for f in self.findings]}

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """Return the report as aligned, readable lines with advice under each finding."""
        width = max((len(f.name) for f in self.findings), default=0)
        lines = ["Course environment check"]
        for f in self.findings:
            lines.append(f"  [{f.status:<4}] {f.name:<{width}}  {f.value}")
            if f.advice:
                indent = f"  {'':6} {'':<{width}}  "
                lines.append(f"{indent}-> " + f.advice.replace("\n", f"\n{indent}   "))  # multi-line: quoted stderr
        verdict = "the course can run here." if self.can_run else "the course cannot run yet; fix the 'fail' lines."
        lines.append(f"Result: {verdict}")
        return "\n".join(lines)


def _tf() -> Any:
    """Import TensorFlow (only called once the import probe succeeded)."""
    import tensorflow as tf

    return tf


def _probe_import(name: str) -> str | None:
    """Import ``name`` in a fresh Python, without the package's quiet import: None if it works, else why it failed."""
    result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True,
                            errors="replace", check=False)
    if result.returncode == 0:
        return None
    if result.returncode < 0:
        how = f"was killed by {signal.Signals(-result.returncode).name}"
    else:
        how = f"exited with status {result.returncode}"
    lines = result.stderr.strip().splitlines()[-PROBE_LINES:] or ["(nothing on stderr)"]
    return f"`python -c 'import {name}'` {how}; its last stderr lines:\n" + "\n".join(f"| {line}" for line in lines)


def _list_gpus() -> list[Any]:
    """Return the GPUs TensorFlow sees."""
    return _tf().config.list_physical_devices("GPU")


def _device_details(device: Any) -> Mapping[str, Any]:
    """Return TensorFlow's details (device_name, compute_capability) of a physical device."""
    return _tf().config.experimental.get_device_details(device)


def _build_info() -> Mapping[str, Any]:
    """Return how TensorFlow was built (cuda_version, cudnn_version, is_cuda_build)."""
    return _tf().sysconfig.get_build_info()


def _run_matmul(device: str) -> str:
    """Run a small matmul under ``tf.device(device)``; return the device its result lives on."""
    tf = _tf()
    with tf.device(device):
        result = tf.matmul(tf.ones((64, 64)), tf.ones((64, 64)))
    if float(result[0, 0]) != 64.0:
        raise ArithmeticError(f"a 64x64 matmul of ones gave {float(result[0, 0])}, expected 64")
    return result.device


def _memory_info(device: str) -> Mapping[str, int]:
    """Return TensorFlow's current and peak memory use on a device, in bytes."""
    return _tf().config.experimental.get_memory_info(device)


def _get_memory_growth(device: Any) -> bool:
    """Return whether memory growth is on for a physical GPU."""
    return _tf().config.experimental.get_memory_growth(device)


def _set_memory_growth(device: Any, enable: bool) -> None:
    """Turn memory growth on or off for a physical GPU."""
    _tf().config.experimental.set_memory_growth(device, enable)


def _time_op(op: Callable[[], Any], repeats: int) -> float:
    """Return the mean seconds per call of ``op`` after one warm-up call."""
    op().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        result = op()
    result.numpy()  # GPU kernels run asynchronously: wait for the last one
    return (time.perf_counter() - start) / repeats


def _benchmark(device: str, repeats: int = 10) -> dict[str, float]:
    """Time a 512x512 matmul and a 3x3 conv on (32, 28, 28, 16) on a device; seconds per call."""
    tf = _tf()
    with tf.device(device):
        a = tf.random.uniform((512, 512))
        images = tf.random.uniform((32, 28, 28, 16))
        kernel = tf.random.uniform((3, 3, 16, 16))
        ops = {"matmul": lambda: tf.matmul(a, a), "conv": lambda: tf.nn.conv2d(images, kernel, 1, "SAME")}
        return {name: _time_op(op, repeats) for name, op in ops.items()}


def _system() -> str:
    """Return the operating system name (Linux, Windows, Darwin)."""
    return platform.system()


def _cpu_flags() -> frozenset[str]:
    """The CPU's instruction-set flags from /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU instructions oneDNN uses for bfloat16 matmuls and convolutions


@dataclass(frozen=True)
class Sources:
    """Where the check reads its facts; replace any field with a fake in tests."""

    import_module: Callable[[str], Any] = importlib.import_module
    probe_import: Callable[[str], str | None] = _probe_import
    system: Callable[[], str] = _system
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    modules: Mapping[str, Any] = field(default_factory=lambda: sys.modules)
    which: Callable[[str], str | None] = shutil.which
    list_gpus: Callable[[], list[Any]] = _list_gpus
    device_details: Callable[[Any], Mapping[str, Any]] = _device_details
    build_info: Callable[[], Mapping[str, Any]] = _build_info
    run_matmul: Callable[[str], str] = _run_matmul
    memory_info: Callable[[str], Mapping[str, int]] = _memory_info
    get_memory_growth: Callable[[Any], bool] = _get_memory_growth
    set_memory_growth: Callable[[Any, bool], None] = _set_memory_growth
    benchmark: Callable[[str], dict[str, float]] = _benchmark
    cpu_flags: Callable[[], frozenset[str]] = _cpu_flags


def guarded(name: str, probe: Callable[[], list[Finding]]) -> list[Finding]:
    """Run a probe; turn any exception into a 'warn' finding with the error text."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - a check must report, never crash
        return [Finding(name, "unknown", WARN, f"this check failed: {type(exc).__name__}: {exc}")]


def pinned_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """The locked versions (``name==version`` lines of constraints.txt in a source checkout) over the fallback pins."""
    pins = dict(FALLBACK_PINS)
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError:  # installed from a wheel, without the checkout's lock file
        return pins
    for line in lines:
        name, sep, version = line.split("#", 1)[0].partition("==")
        if sep and name.strip().lower() in FALLBACK_PINS:
            pins[name.strip().lower()] = version.strip()
    return pins


def version_finding(label: str, package: str, version: str, pins: Mapping[str, str]) -> Finding:
    """Compare an installed version with the course pin on the leading parts that matter."""
    pin = pins.get(package)
    if pin is None:
        return Finding(label, version)
    parts = MATCH_PARTS.get(package, 2)
    if version.split(".")[:parts] == pin.split(".")[:parts]:
        note = "" if version == pin else f"the course pins {pin}; this version should work too."
        return Finding(label, version, OK, note)
    return Finding(label, version, WARN, f'the course is tested with {pin}: run `pip install -e .` in a fresh venv.')


def python_findings() -> list[Finding]:
    """Report the Python version (3.11 or newer is needed)."""
    version = platform.python_version()
    if sys.version_info[:2] >= MIN_PYTHON:
        return [Finding("Python", version)]
    return [Finding("Python", version, WARN, "the course needs Python 3.11 or newer.")]


def numpy_findings(src: Sources, pins: Mapping[str, str]) -> list[Finding]:
    """Report the NumPy version."""
    numpy = src.import_module("numpy")
    return [version_finding("NumPy", "numpy", numpy.__version__, pins)]


def tensorflow_findings(src: Sources, pins: Mapping[str, str]) -> list[Finding]:
    """Report the TensorFlow version; a failed import is a 'fail' (the course cannot run), with its stderr."""
    install = "`pip install -e .` in a fresh venv"
    crash = None if "tensorflow" in src.modules else src.probe_import("tensorflow")
    if crash is not None:
        advice = (f"{crash}\nFix what these lines name: a CPU without AVX cannot run the official TensorFlow builds "
                  f"(use another machine or Colab); reinstall a missing or broken library with {install}.")
        return [Finding("TensorFlow", "does not import", FAIL, advice)]
    try:
        tf = src.import_module("tensorflow")
    except Exception as exc:  # noqa: BLE001 - ImportError, DLL errors, NumPy ABI mismatches...
        advice = f"{type(exc).__name__}: {exc}. Install the course packages: {install}."
        return [Finding("TensorFlow", "does not import", FAIL, advice)]
    return [version_finding("TensorFlow", "tensorflow", tf.__version__, pins)]


def keras_findings(src: Sources, pins: Mapping[str, str]) -> list[Finding]:
    """Report the Keras version and backend (the course uses the TensorFlow backend)."""
    keras = src.import_module("keras")
    findings = [version_finding("Keras", "keras", keras.__version__, pins)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        findings.append(Finding("Keras backend", backend))
    else:
        advice = "the course uses TensorFlow: set KERAS_BACKEND=tensorflow and restart the kernel."
        findings.append(Finding("Keras backend", backend, WARN, advice))
    return findings


def cpu_name() -> str:
    """Return the CPU model (from /proc/cpuinfo on Linux), else platform.processor() or machine()."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_findings(src: Sources) -> list[Finding]:
    """Report the CPU model, its core count and the memory (total and available)."""
    memory = src.import_module("psutil").virtual_memory()
    total_gib, free_gib = memory.total / 1024**3, memory.available / 1024**3
    findings = [Finding("CPU", f"{cpu_name()}, {os.cpu_count() or '?'} logical cores")]
    if total_gib < 4:
        findings.append(Finding("Memory", f"{total_gib:.1f} GiB", WARN, f"little memory. {CPU_ONLY_TIP}"))
    else:
        findings.append(Finding("Memory", f"{total_gib:.1f} GiB ({free_gib:.1f} GiB available)"))
    return findings


def cpu_op_findings(src: Sources) -> list[Finding]:
    """Check that a small op runs on the CPU; if not, the course cannot run ('fail')."""
    try:
        device = src.run_matmul("/CPU:0")
    except Exception as exc:  # noqa: BLE001
        return [Finding("CPU op", "does not run", FAIL, f"{type(exc).__name__}: {exc}. Reinstall TensorFlow.")]
    return [Finding("CPU op", f"a matmul ran on {short_device(device)}")]


def is_colab(src: Sources) -> bool:
    """True when running in Google Colab."""
    return "google.colab" in src.modules or "COLAB_RELEASE_TAG" in src.environ


def no_gpu_advice(src: Sources) -> str:
    """Return what to do on this platform when TensorFlow sees no GPU."""
    if src.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return f"CUDA_VISIBLE_DEVICES={src.environ['CUDA_VISIBLE_DEVICES']!r} hides every GPU: unset it. {CPU_ONLY_TIP}"
    if is_colab(src):
        return f"In Colab: Runtime -> Change runtime type -> a GPU (e.g. T4), then rerun. {CPU_ONLY_TIP}"
    system = src.system()
    if system == "Linux":
        install = '`pip install -e ".[gpu]"` (tensorflow[and-cuda])'
        if src.which("nvidia-smi"):
            return f"nvidia-smi found, so the driver is there: add the CUDA libraries with {install}. {CPU_ONLY_TIP}"
        return f"with an NVIDIA GPU: install its driver (check with `nvidia-smi`), then {install}. {CPU_ONLY_TIP}"
    if system == "Windows":
        return (
            "TensorFlow >= 2.11 has no native GPU support on Windows: use WSL2 (`wsl --install`) and follow the "
            f'Linux steps there (`pip install -e ".[gpu]"`; the Windows NVIDIA driver serves WSL2). {CPU_ONLY_TIP}'
        )
    if system == "Darwin":
        return (
            "on Apple silicon, `pip install tensorflow-metal` (if it supports this TensorFlow version) adds a GPU; "
            f"Intel Macs have no supported GPU. {CPU_ONLY_TIP}"
        )
    return f"no GPU instructions for {system or 'this platform'}. {CPU_ONLY_TIP}"


def build_findings(src: Sources) -> list[Finding]:
    """Report the CUDA and cuDNN versions TensorFlow was built with."""
    info = src.build_info()
    if info.get("is_cuda_build"):
        value = f"CUDA {info.get('cuda_version', '?')}, cuDNN {info.get('cudnn_version', '?')}"
        return [Finding("TensorFlow build", value)]
    if src.system() == "Linux" and not is_colab(src):
        advice = 'this TensorFlow (e.g. tensorflow-cpu) cannot use NVIDIA GPUs: use `pip install -e ".[gpu]"`.'
        return [Finding("TensorFlow build", "no CUDA", WARN, advice)]
    return [Finding("TensorFlow build", "no CUDA")]


def short_name(device: Any) -> str:
    """Return 'GPU:0' for the physical device '/physical_device:GPU:0'."""
    return device.name.split("physical_device:")[-1]


def short_device(device: str) -> str:
    """Return 'CPU:0' for the tensor device '/job:localhost/replica:0/task:0/device:CPU:0'."""
    return device.rsplit("device:", 1)[-1]


def gpu_finding(src: Sources, gpu: Any) -> tuple[Finding, tuple[int, int] | None]:
    """Describe one GPU (model, compute capability, memory in use); also return its compute capability."""
    try:
        details = src.device_details(gpu)
    except Exception as exc:  # noqa: BLE001
        advice = f"get_device_details failed: {type(exc).__name__}: {exc}"
        return Finding(short_name(gpu), f"compute capability unknown, {memory_text(src, gpu)}", WARN, advice), None
    capability = tuple(details["compute_capability"]) if details.get("compute_capability") else None
    cc = f"compute capability {capability[0]}.{capability[1]}" if capability else "compute capability unknown"
    value = f"{details.get('device_name', 'unknown model')}, {cc}, {memory_text(src, gpu)}"
    return Finding(short_name(gpu), value), capability


def memory_text(src: Sources, device: Any) -> str:
    """Return the GPU memory TensorFlow uses now and at peak, or 'unknown'."""
    try:
        info = src.memory_info(short_name(device))
        return f"TensorFlow uses {info['current'] / MIB:.0f} MiB (peak {info['peak'] / MIB:.0f} MiB)"
    except Exception:  # noqa: BLE001 - not every device or TensorFlow version reports it
        return "memory unknown"


def gpu_op_finding(src: Sources) -> Finding:
    """Check that an op placed with tf.device('/GPU:0') really lands on a GPU."""
    try:
        device = src.run_matmul("/GPU:0")
    except Exception as exc:  # noqa: BLE001
        return Finding("GPU op", "does not run", WARN, f"{type(exc).__name__}: {exc}")
    if "GPU" in device.upper():
        return Finding("GPU op", f"a matmul ran on {short_device(device)}")
    advice = "a GPU is listed but ops fall back to the CPU: check the CUDA/cuDNN libraries and the TensorFlow log."
    return Finding("GPU op", f"ran on {short_device(device)}, not on the GPU", WARN, advice)


def memory_growth_finding(src: Sources, gpus: Sequence[Any]) -> Finding:
    """Report whether memory growth is on for every GPU (TensorFlow grabs nearly all GPU memory otherwise)."""
    if src.environ.get("TF_FORCE_GPU_ALLOW_GROWTH", "").lower() == "true":
        return Finding("Memory growth", "on (TF_FORCE_GPU_ALLOW_GROWTH=true)")
    off = [short_name(gpu) for gpu in gpus if not src.get_memory_growth(gpu)]
    if not off:
        return Finding("Memory growth", "on")
    advice = (
        "call course_utils.environment.enable_memory_growth() at the top of the notebook, before any other "
        "TensorFlow code (or set TF_FORCE_GPU_ALLOW_GROWTH=true before starting Jupyter)."
    )
    return Finding("Memory growth", f"off on {', '.join(off)}", WARN, advice)


def cpu_mixed_precision_finding(cpu_flags: frozenset[str]) -> Finding:
    """Advise on mixed precision without a GPU: only a CPU with bfloat16 instructions can gain from it."""
    native = [flag for flag in BF16_FLAGS if flag in cpu_flags]
    if not native:
        return Finding("Mixed precision", "float32", OK,
                       "no GPU and no bfloat16 instructions on this CPU: mixed precision would only add casts (slower).")
    advice = (f"no GPU, but this CPU has bfloat16 instructions ({', '.join(native)}): "
              "`keras.mixed_precision.set_global_policy('mixed_bfloat16')` can speed up convolution-heavy training "
              "and slow down small models. Time both before choosing (chapter 10, section 7).")
    return Finding("Mixed precision", "float32 or mixed_bfloat16", OK, advice)


def mixed_precision_finding(capabilities: Sequence[tuple[int, int] | None]) -> Finding:
    """Advise on mixed precision from the GPUs' compute capabilities (the weakest GPU decides)."""
    known = [c for c in capabilities if c is not None]
    if not known:
        return Finding("Mixed precision", "unknown", WARN, "compute capability unknown: keep float32 for now.")
    major, minor = min(known)
    if major < 7:
        return Finding("Mixed precision", "float32", OK, f"compute capability {major}.{minor} < 7.0: not worth it.")
    how = "`keras.mixed_precision.set_global_policy('mixed_float16')`"
    if major >= 8:
        advice = f"Ampere or newer: mixed_float16 and mixed_bfloat16 both speed up training: {how}."
        return Finding("Mixed precision", "mixed_float16 or mixed_bfloat16", OK, advice)
    return Finding("Mixed precision", "mixed_float16", OK, f"Volta/Turing Tensor Cores speed up training: {how}.")


def gpu_findings(src: Sources) -> list[Finding]:
    """Report every GPU, whether ops run on it, memory growth and mixed precision; or what to do without one."""
    gpus = src.list_gpus()
    if not gpus:
        return [Finding("GPUs", "none found", WARN, no_gpu_advice(src)),
                *guarded("Mixed precision", lambda: [cpu_mixed_precision_finding(src.cpu_flags())])]
    op = gpu_op_finding(src)  # first, so that memory_info has something to report
    described = [gpu_finding(src, gpu) for gpu in gpus]
    findings = [Finding("GPUs", str(len(gpus))), *(finding for finding, _ in described), op]
    findings += guarded("Memory growth", lambda: [memory_growth_finding(src, gpus)])
    return findings + [mixed_precision_finding([capability for _, capability in described])]


def benchmark_findings(src: Sources, gpu_works: bool) -> list[Finding]:
    """Time a matmul and a conv on the CPU and, when ops run there, on the GPU."""
    devices = ["CPU", "GPU"] if gpu_works else ["CPU"]
    timings = {device: src.benchmark(f"/{device}:0") for device in devices}
    findings = [
        Finding(f"Speed {device}", ", ".join(f"{op} {sec * 1000:.2f} ms" for op, sec in times.items()))
        for device, times in timings.items()
    ]
    if gpu_works:
        speedup = timings["CPU"]["matmul"] / max(timings["GPU"]["matmul"], 1e-9)
        findings.append(Finding("GPU speed-up", f"{speedup:.1f}x on the matmul"))
    return findings


def enable_memory_growth(sources: Sources | None = None) -> Finding:
    """Turn on memory growth for every GPU; errors (e.g. GPUs already initialized) become a 'warn'."""
    src = sources or Sources()
    try:
        gpus = src.list_gpus()
    except Exception as exc:  # noqa: BLE001
        return Finding("Memory growth", "not set", WARN, f"{type(exc).__name__}: {exc}")
    if not gpus:
        return Finding("Memory growth", "no GPU", OK, "nothing to set.")
    errors = []
    for gpu in gpus:
        try:
            src.set_memory_growth(gpu, True)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{short_name(gpu)}: {exc}")
    if not errors:
        return Finding("Memory growth", f"on for {len(gpus)} GPU(s)")
    advice = (
        f"{'; '.join(errors)}. Memory growth must be set before the GPUs are initialized: restart the kernel "
        "and call enable_memory_growth() before any other TensorFlow code."
    )
    return Finding("Memory growth", "not set", WARN, advice)


def collect(src: Sources, bench: bool = True) -> EnvironmentReport:
    """Run every probe; the TensorFlow ones only when TensorFlow imports and runs an op on the CPU."""
    pins = pinned_versions()
    report = EnvironmentReport(guarded("Python", python_findings) + tensorflow_findings(src, pins))
    if report.can_run:  # Keras imports TensorFlow: after a crash in the probe it would crash this process
        report.findings += guarded("Keras", lambda: keras_findings(src, pins))
    report.findings += guarded("NumPy", lambda: numpy_findings(src, pins))
    report.findings += guarded("CPU", lambda: cpu_findings(src))
    if report.can_run:
        report.findings += cpu_op_findings(src)
    if not report.can_run:
        return report
    report.findings += guarded("TensorFlow build", lambda: build_findings(src))
    report.findings += guarded("GPUs", lambda: gpu_findings(src))
    if bench:
        gpu_op = report.get("GPU op")
        report.findings += guarded("Speed", lambda: benchmark_findings(src, gpu_op is not None and gpu_op.status == OK))
    return report


def check_environment(verbose: bool = True, bench: bool = True, *, sources: Sources | None = None) -> EnvironmentReport:
    """Check Python, TensorFlow, Keras, CPU and GPUs; print the report when ``verbose``."""
    report = collect(sources or Sources(), bench=bench)
    if verbose:
        print(report.to_text())
    return report


def main(argv: list[str] | None = None, *, sources: Sources | None = None) -> int:
    """Command line of ``course_utils doctor``: exit 0 when the course can run, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="course_utils doctor", description="Check the environment and the GPU.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-bench", action="store_true", help="skip the short CPU/GPU timings")
    args = parser.parse_args(argv)
    report = check_environment(verbose=False, bench=not args.no_bench, sources=sources)
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.can_run else 1
