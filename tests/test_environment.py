"""Tests of the environment and GPU check (course_utils.environment).

No GPU is available to these tests: every GPU branch runs against fake device lists, device details,
build info and op placements passed in through ``Sources``. Only ``test_real_run_*`` use TensorFlow itself.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest

from course_utils import environment as env
from course_utils.environment import EnvironmentReport, Finding, Sources, check_environment, main

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
CPU_DEVICE = "/job:localhost/replica:0/task:0/device:CPU:0"
GPU_DEVICE = "/job:localhost/replica:0/task:0/device:GPU:0"
CUDA_BUILD = {"cuda_version": "12.5.1", "cudnn_version": "9", "is_cuda_build": True}
NO_CUDA_BUILD = {"is_cuda_build": False}
FAKE_TIMINGS = {"/CPU:0": {"matmul": 0.004, "conv": 0.002}, "/GPU:0": {"matmul": 0.0001, "conv": 0.0001}}
GPU_NAMES = {(6, 1): "NVIDIA GeForce GTX 1080", (7, 5): "Tesla T4", (8, 6): "NVIDIA GeForce RTX 3090"}

FAKE_MODULES = {
    "tensorflow": SimpleNamespace(__version__="2.21.0"),
    "keras": SimpleNamespace(__version__="3.15.1", backend=SimpleNamespace(backend=lambda: "tensorflow")),
    "numpy": SimpleNamespace(__version__="2.4.6"),
    "psutil": SimpleNamespace(virtual_memory=lambda: SimpleNamespace(total=16 * GIB, available=8 * GIB)),
}


def fake_import(missing: tuple[str, ...] = (), **replaced: object):
    """Return an import_module that serves FAKE_MODULES (plus replacements) and fails for ``missing``."""
    modules = {**FAKE_MODULES, **replaced}

    def import_module(name: str) -> object:
        if name in missing:
            raise ImportError(f"No module named {name!r}")
        return modules[name]

    return import_module


def gpu(index: int) -> SimpleNamespace:
    """A stand-in for tf.config.PhysicalDevice."""
    return SimpleNamespace(name=f"/physical_device:GPU:{index}", device_type="GPU")


def placed(device: str) -> str:
    """Fake run_matmul: the op lands where it was asked to go (a working GPU)."""
    return GPU_DEVICE if "GPU" in device else CPU_DEVICE


def fake_sources(**overrides: object) -> Sources:
    """Sources of a Linux machine with the pinned versions, a CUDA build and no GPU; override any field."""
    base = Sources(
        import_module=fake_import(),
        probe_import=lambda name: None,
        system=lambda: "Linux",
        environ={},
        modules={},
        which=lambda name: None,
        list_gpus=list,
        device_details=lambda device: pytest.fail("no GPU, no details"),
        build_info=lambda: CUDA_BUILD,
        run_matmul=placed,
        memory_info=lambda name: {"current": 2 * 1024**2, "peak": 8 * 1024**2},
        get_memory_growth=lambda device: False,
        set_memory_growth=lambda device, enable: None,
        benchmark=lambda device: FAKE_TIMINGS[device],
        cpu_flags=frozenset,
    )
    return dataclasses.replace(base, **overrides)


def gpu_sources(*capabilities: tuple[int, int], **overrides: object) -> Sources:
    """Fake sources with one GPU per compute capability."""
    details = {f"/physical_device:GPU:{i}": cc for i, cc in enumerate(capabilities)}
    defaults = {
        "list_gpus": lambda: [gpu(i) for i in range(len(capabilities))],
        "device_details": lambda d: {"device_name": GPU_NAMES[details[d.name]], "compute_capability": details[d.name]},
    }
    return fake_sources(**{**defaults, **overrides})


def run(src: Sources, bench: bool = False) -> EnvironmentReport:
    """Check the environment quietly."""
    return check_environment(verbose=False, bench=bench, sources=src)


def finding(report: EnvironmentReport, name: str) -> Finding:
    """The finding called ``name``; fails the test if it is missing."""
    found = report.get(name)
    assert found is not None, f"no finding {name!r} in {[f.name for f in report.findings]}"
    return found


# --- no GPU: the right advice for each platform --------------------------------------------------


def test_no_gpu_on_linux_without_driver_advises_driver_and_gpu_extra():
    report = run(fake_sources())
    gpus = finding(report, "GPUs")
    assert (gpus.value, gpus.status) == ("none found", "warn")
    assert 'pip install -e ".[gpu]"' in gpus.advice and "nvidia-smi" in gpus.advice
    assert "COURSE_MODE=fast" in gpus.advice
    assert report.can_run  # no GPU is not a failure


def test_no_gpu_on_linux_with_driver_advises_only_the_cuda_libraries():
    advice = finding(run(fake_sources(which=lambda name: "/usr/bin/nvidia-smi")), "GPUs").advice
    assert "nvidia-smi found" in advice and 'pip install -e ".[gpu]"' in advice


def test_no_gpu_on_windows_advises_wsl2():
    advice = finding(run(fake_sources(system=lambda: "Windows")), "GPUs").advice
    assert "WSL2" in advice and "2.11" in advice and "COURSE_MODE=fast" in advice
    assert "tensorflow-metal" not in advice


def test_no_gpu_on_macos_advises_tensorflow_metal():
    advice = finding(run(fake_sources(system=lambda: "Darwin")), "GPUs").advice
    assert "tensorflow-metal" in advice and "Apple silicon" in advice and "WSL2" not in advice


@pytest.mark.parametrize(
    "colab", [{"modules": {"google.colab": object()}}, {"environ": {"COLAB_RELEASE_TAG": "release-colab_20250101"}}]
)
def test_no_gpu_on_colab_advises_changing_the_runtime(colab):
    advice = finding(run(fake_sources(**colab)), "GPUs").advice
    assert "Runtime -> Change runtime type" in advice
    assert "nvidia-smi" not in advice  # Colab advice wins over the Linux one


def test_hidden_gpus_are_pointed_out():
    advice = finding(run(fake_sources(environ={"CUDA_VISIBLE_DEVICES": "-1"})), "GPUs").advice
    assert "CUDA_VISIBLE_DEVICES='-1'" in advice


def test_no_gpu_advises_against_mixed_precision_on_cpu():
    mixed = finding(run(fake_sources()), "Mixed precision")
    assert mixed.value == "float32" and "no bfloat16 instructions" in mixed.advice


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_a_cpu_with_bfloat16_instructions_gets_told_to_time_mixed_bfloat16(flag):
    mixed = finding(run(fake_sources(cpu_flags=lambda: frozenset({"avx2", flag}))), "Mixed precision")
    assert mixed.value == "float32 or mixed_bfloat16"
    assert flag in mixed.advice and "set_global_policy('mixed_bfloat16')" in mixed.advice and "Time both" in mixed.advice


def test_unreadable_cpu_flags_become_a_warning_not_a_crash():
    def broken() -> frozenset[str]:
        raise PermissionError("/proc/cpuinfo")

    mixed = finding(run(fake_sources(cpu_flags=broken)), "Mixed precision")
    assert mixed.status == "warn" and "PermissionError" in mixed.advice


# --- GPUs: compute capability, several GPUs, failing details ----------------------------------------


@pytest.mark.parametrize(
    ("capability", "policy"),
    [((6, 1), "float32"), ((7, 5), "mixed_float16"), ((8, 6), "mixed_float16 or mixed_bfloat16")],
)
def test_one_gpu_gets_mixed_precision_advice_by_compute_capability(capability, policy):
    report = run(gpu_sources(capability))
    assert finding(report, "GPUs").value == "1"
    gpu0 = finding(report, "GPU:0")
    assert GPU_NAMES[capability] in gpu0.value
    assert f"compute capability {capability[0]}.{capability[1]}" in gpu0.value
    assert "TensorFlow uses 2 MiB (peak 8 MiB)" in gpu0.value
    assert finding(report, "Mixed precision").value == policy
    assert finding(report, "GPU op").status == "ok"
    assert report.get("Mixed precision").status == "ok" and report.can_run


def test_compute_capability_below_7_says_not_worth_it():
    assert "not worth it" in finding(run(gpu_sources((6, 1))), "Mixed precision").advice


def test_two_gpus_are_both_reported_and_the_weaker_decides_mixed_precision():
    report = run(gpu_sources((8, 6), (7, 5)))
    assert finding(report, "GPUs").value == "2"
    assert "RTX 3090" in finding(report, "GPU:0").value
    assert "Tesla T4" in finding(report, "GPU:1").value
    assert finding(report, "Mixed precision").value == "mixed_float16"


def test_get_device_details_raising_becomes_a_warning_not_a_crash():
    def broken(device):
        raise RuntimeError("device details are not available")

    report = run(gpu_sources((8, 6), device_details=broken))
    gpu0 = finding(report, "GPU:0")
    assert gpu0.status == "warn" and "device details are not available" in gpu0.advice
    assert "compute capability unknown" in gpu0.value
    assert finding(report, "Mixed precision").value == "unknown"
    assert report.can_run


def test_gpu_memory_is_unknown_when_tensorflow_cannot_report_it():
    def no_info(name):
        raise ValueError(f"No matching devices found for '{name}'")

    assert "memory unknown" in finding(run(gpu_sources((7, 5), memory_info=no_info)), "GPU:0").value


# --- build info -------------------------------------------------------------------------------------


def test_cuda_build_reports_cuda_and_cudnn_versions():
    build = finding(run(fake_sources(build_info=lambda: CUDA_BUILD)), "TensorFlow build")
    assert (build.value, build.status) == ("CUDA 12.5.1, cuDNN 9", "ok")


def test_non_cuda_build_warns_on_linux():
    build = finding(run(fake_sources(build_info=lambda: NO_CUDA_BUILD)), "TensorFlow build")
    assert (build.value, build.status) == ("no CUDA", "warn") and ".[gpu]" in build.advice


def test_non_cuda_build_is_expected_on_macos():
    src = fake_sources(build_info=lambda: NO_CUDA_BUILD, system=lambda: "Darwin")
    assert finding(run(src), "TensorFlow build").status == "ok"


# --- GPU placement --------------------------------------------------------------------------------


def test_op_landing_on_cpu_although_a_gpu_is_listed_is_reported_as_not_working():
    benchmarked = []

    def benchmark(device):
        benchmarked.append(device)
        return {"matmul": 0.004, "conv": 0.002}

    report = run(gpu_sources((8, 6), run_matmul=lambda device: CPU_DEVICE, benchmark=benchmark), bench=True)
    op = finding(report, "GPU op")
    assert op.status == "warn" and "not on the GPU" in op.value and "CPU:0" in op.value
    assert benchmarked == ["/CPU:0"]  # no GPU timing when the GPU does not work
    assert report.can_run


def test_gpu_op_raising_is_a_warning():
    def run_matmul(device):
        if "GPU" in device:
            raise RuntimeError("CUDA_ERROR_OUT_OF_MEMORY")
        return CPU_DEVICE

    report = run(gpu_sources((7, 5), run_matmul=run_matmul))
    op = finding(report, "GPU op")
    assert op.status == "warn" and "CUDA_ERROR_OUT_OF_MEMORY" in op.advice
    assert report.can_run


def test_working_gpu_is_benchmarked_against_the_cpu():
    report = run(gpu_sources((8, 6)), bench=True)
    assert finding(report, "Speed CPU").value == "matmul 4.00 ms, conv 2.00 ms"
    assert finding(report, "Speed GPU").value == "matmul 0.10 ms, conv 0.10 ms"
    assert finding(report, "GPU speed-up").value == "40.0x on the matmul"


def test_no_bench_skips_timings():
    report = run(fake_sources(benchmark=lambda device: pytest.fail("benchmark must not run")), bench=False)
    assert report.get("Speed CPU") is None


# --- memory growth ----------------------------------------------------------------------------------


def test_memory_growth_off_warns_and_points_to_enable_memory_growth():
    src = gpu_sources((8, 6), (7, 5), get_memory_growth=lambda device: device.name.endswith("1"))
    growth = finding(run(src), "Memory growth")
    assert (growth.value, growth.status) == ("off on GPU:0", "warn")
    assert "enable_memory_growth()" in growth.advice


def test_memory_growth_on_is_ok():
    growth = finding(run(gpu_sources((8, 6), get_memory_growth=lambda d: True)), "Memory growth")
    assert (growth.value, growth.status) == ("on", "ok")


def test_memory_growth_forced_by_environment_is_ok():
    src = gpu_sources((8, 6), environ={"TF_FORCE_GPU_ALLOW_GROWTH": "true"})
    assert finding(run(src), "Memory growth").status == "ok"


def test_enable_memory_growth_sets_every_gpu():
    calls = []
    src = gpu_sources((8, 6), (7, 5), set_memory_growth=lambda device, enable: calls.append((device.name, enable)))
    result = env.enable_memory_growth(src)
    assert (result.value, result.status) == ("on for 2 GPU(s)", "ok")
    assert calls == [("/physical_device:GPU:0", True), ("/physical_device:GPU:1", True)]


def test_enable_memory_growth_after_initialization_reports_the_error():
    def too_late(device, enable):
        raise RuntimeError("Physical devices cannot be modified after being initialized")

    result = env.enable_memory_growth(gpu_sources((8, 6), set_memory_growth=too_late))
    assert (result.value, result.status) == ("not set", "warn")
    assert "cannot be modified after being initialized" in result.advice
    assert "must be set before the GPUs are initialized" in result.advice


def test_enable_memory_growth_without_gpu_has_nothing_to_do():
    result = env.enable_memory_growth(fake_sources())
    assert (result.value, result.status) == ("no GPU", "ok")


# --- failures, odd setups, versions ---------------------------------------------------------------


def test_tensorflow_failing_to_import_exits_1_without_probing_the_gpu(capsys):
    list_gpus = mock.Mock(return_value=[])
    src = fake_sources(import_module=fake_import(missing=("tensorflow", "keras")), list_gpus=list_gpus)
    assert main(["--no-bench"], sources=src) == 1
    out = capsys.readouterr().out
    assert "[fail] TensorFlow" in out and "No module named 'tensorflow'" in out and "cannot run" in out
    list_gpus.assert_not_called()


def test_tensorflow_crashing_in_the_probe_is_a_fail_with_its_stderr_and_nothing_imports_it(capsys):
    crash = "`python -c 'import tensorflow'` was killed by SIGABRT; its last stderr lines:\n| compiled to use AVX"
    imported = []
    src = fake_sources(probe_import=lambda name: crash, import_module=lambda name: imported.append(name) or FAKE_MODULES.get(name),
                       list_gpus=mock.Mock(side_effect=AssertionError("no GPU probe after a crash")))
    assert main(["--no-bench"], sources=src) == 1
    out = capsys.readouterr().out
    tensorflow = out.split("[fail] TensorFlow", 1)[1]
    assert "SIGABRT" in tensorflow and "| compiled to use AVX" in tensorflow and "Keras" not in out
    assert not {"tensorflow", "keras"} & set(imported)  # in this process: a crash would end it


def test_the_probe_reports_a_hard_crash_and_the_doctor_shows_its_reason(tmp_path, monkeypatch):
    message = "The TensorFlow library was compiled to use AVX instructions, but these aren't available"
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(f"import os\nos.write(2, {(message + chr(10)).encode()!r})\nos.abort()\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    assert env._probe_import("json") is None
    report = env._probe_import("tensorflow")
    assert "killed by SIGABRT" in report and f"| {message}" in report
    doctor = subprocess.run([sys.executable, "-m", "course_utils", "doctor", "--no-bench"], capture_output=True,
                            text=True, cwd=tmp_path, check=False, timeout=120)
    assert doctor.returncode == 1 and message in doctor.stdout and "[fail] TensorFlow" in doctor.stdout


def test_tensorflow_blocked_in_sys_modules_exits_1_with_the_default_sources(capsys):
    with mock.patch.dict(sys.modules, {"tensorflow": None}):
        assert main(["--no-bench", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["can_run"] is False
    assert {"name": "TensorFlow", "status": "fail"}.items() <= data["findings"][1].items()


def test_cpu_op_failing_exits_1():
    def broken(device):
        raise RuntimeError("illegal instruction")

    report = run(fake_sources(run_matmul=broken))
    assert finding(report, "CPU op").status == "fail" and not report.can_run
    assert main(["--no-bench"], sources=fake_sources(run_matmul=broken)) == 1


def test_any_probe_raising_becomes_a_warning_with_the_error_text():
    def broken_build_info():
        raise KeyError("cuda_version")

    report = run(fake_sources(build_info=broken_build_info, import_module=fake_import(missing=("psutil",))))
    assert finding(report, "TensorFlow build").status == "warn"
    assert "KeyError" in finding(report, "TensorFlow build").advice
    assert "No module named 'psutil'" in finding(report, "CPU").advice
    assert report.can_run


@pytest.mark.parametrize(
    ("module", "version", "status"),
    [("tensorflow", "2.21.0", "ok"), ("tensorflow", "2.21.3", "ok"), ("tensorflow", "2.20.0", "warn"),
     ("keras", "3.99.0", "ok"), ("keras", "2.15.0", "warn"), ("numpy", "1.26.4", "warn")],
)
def test_versions_are_compared_with_the_pins(module, version, status):
    fake = SimpleNamespace(**{**vars(FAKE_MODULES[module]), "__version__": version})
    report = run(fake_sources(import_module=fake_import(**{module: fake})))
    label = {"tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy"}[module]
    assert (finding(report, label).value, finding(report, label).status) == (version, status)


def test_other_keras_backend_is_a_warning():
    keras = SimpleNamespace(__version__="3.15.1", backend=SimpleNamespace(backend=lambda: "jax"))
    backend = finding(run(fake_sources(import_module=fake_import(keras=keras))), "Keras backend")
    assert backend.status == "warn" and "KERAS_BACKEND=tensorflow" in backend.advice


def test_pins_come_from_the_lock_file_with_a_fallback(tmp_path):
    assert env.pinned_versions()["tensorflow"] == "2.21.0"
    lock = tmp_path / "constraints.txt"
    lock.write_text("# a comment\nkeras==3.99.1  # note\nrequests==1.0\n")
    assert env.pinned_versions(lock) == {**env.FALLBACK_PINS, "keras": "3.99.1"}
    assert env.pinned_versions(tmp_path / "missing.txt") == env.FALLBACK_PINS


def test_text_and_json_forms(capsys):
    src = fake_sources()
    assert main(["--no-bench"], sources=src) == 0
    text = capsys.readouterr().out
    assert text.startswith("Course environment check") and "[warn] GPUs" in text and "-> " in text
    assert main(["--json", "--no-bench"], sources=src) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["can_run"] is True
    assert {f["name"] for f in data["findings"]} >= {"Python", "TensorFlow", "Keras", "NumPy", "CPU", "GPUs"}
    assert all(set(f) == {"name", "value", "status", "advice"} for f in data["findings"])


# --- the real machine (no GPU here) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_report() -> EnvironmentReport:
    """One real check with timings on this machine."""
    pytest.importorskip("tensorflow")
    return check_environment(verbose=False, bench=True)


def test_real_run_can_run_and_times_the_cpu(real_report):
    assert real_report.can_run
    assert finding(real_report, "CPU op").value.endswith("CPU:0")
    assert finding(real_report, "Speed CPU").value.startswith("matmul ")


def test_real_run_without_gpu_gives_the_platform_advice(real_report):
    if real_report.get("GPUs").value != "none found":
        pytest.skip("this machine has a GPU")
    if platform.system() != "Linux":
        pytest.skip("the expected advice is Linux's")
    assert ".[gpu]" in finding(real_report, "GPUs").advice
    bf16 = {"avx512_bf16", "amx_bf16"} & Sources().cpu_flags()
    assert finding(real_report, "Mixed precision").value == ("float32 or mixed_bfloat16" if bf16 else "float32")


def test_real_cpu_flags_are_read_on_linux():
    if platform.system() != "Linux":
        pytest.skip("/proc/cpuinfo is Linux's")
    flags = Sources().cpu_flags()
    assert flags and all(" " not in flag for flag in flags)


def test_real_benchmark_times_both_ops():
    pytest.importorskip("tensorflow")
    timings = Sources().benchmark("/CPU:0")
    assert set(timings) == {"matmul", "conv"} and all(t > 0 for t in timings.values())


def test_real_main_exits_0(capsys):
    assert main(["--no-bench"]) == 0
    assert "Result: the course can run here." in capsys.readouterr().out
