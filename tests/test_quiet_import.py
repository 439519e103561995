"""The quiet TensorFlow import of ``course_utils``: silent when the import works, loud when it fails.

Each test runs a fresh Python in which a fake ``tensorflow`` package (first on PYTHONPATH) writes to file
descriptor 2 the way TensorFlow's native libraries do, then succeeds or raises.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOISE = "I0000 00:00:1 123 cpu_feature_guard.cc: native log line"
NATIVE_ERROR = "libtensorflow_cc.so.2: cannot open shared object file"
WRITE_NOISE = f"import os\nos.write(2, {(NOISE + chr(10)).encode()!r})\n"  # a fake that logs on fd 2 and succeeds


def run_with_fake(tmp_path: Path, body: str, code: str, log_level: str = "3") -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python whose ``import tensorflow`` executes ``body``."""
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), TF_CPP_MIN_LOG_LEVEL=log_level)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          check=False, timeout=60)


def test_a_working_import_stays_silent_and_stderr_comes_back(tmp_path):
    code = "import course_utils, os\nimport tensorflow\nos.write(2, b'after the import\\n')\nprint(tensorflow.__name__)"
    result = run_with_fake(tmp_path, WRITE_NOISE, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tensorflow\n"
    assert result.stderr == "after the import\n"


def test_without_course_utils_the_fake_is_heard(tmp_path):
    result = run_with_fake(tmp_path, WRITE_NOISE, "import tensorflow")
    assert result.returncode == 0 and NOISE in result.stderr  # the fake does write: the silence above is the hook's


@pytest.mark.parametrize("error", ["ImportError", "RuntimeError"])
def test_a_failing_import_shows_what_it_printed_and_raises_the_original_error(tmp_path, error):
    body = f"import os\nos.write(2, b'{NATIVE_ERROR}\\n')\nraise {error}('fake TensorFlow: native library missing')\n"
    code = ("import course_utils\ntry:\n    import tensorflow\nexcept Exception as e:\n"
            "    print(type(e).__name__, e)\n    raise\n")
    result = run_with_fake(tmp_path, body, code)
    assert result.returncode == 1
    assert result.stdout == f"{error} fake TensorFlow: native library missing\n"  # the original error, unchanged
    assert NATIVE_ERROR in result.stderr
    assert result.stderr.index(NATIVE_ERROR) < result.stderr.index("Traceback")  # shown before the traceback
    assert result.stderr.count(NATIVE_ERROR) == 1


def test_log_level_0_turns_the_capture_off(tmp_path):
    result = run_with_fake(tmp_path, WRITE_NOISE, "import course_utils\nimport tensorflow", log_level="0")
    assert result.returncode == 0 and NOISE in result.stderr
