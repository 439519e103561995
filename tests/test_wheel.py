"""The built package carries what lab mode needs (every registered checkpoint, byte for byte, and the registry)
and the site's page template."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_every_registered_checkpoint_unchanged(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("course_utils-*.whl")
    registry = json.loads((ROOT / "course_utils/weights/registry.json").read_text())["checkpoints"]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "course_utils/weights/registry.json" in names
        assert "course_utils/grading/manifest.json" in names
        assert {"course_utils/website/templates/course/index.html.j2",
                "course_utils/website/templates/course/conf.json"} <= names  # the site's page template
        for name, entry in registry.items():
            path = f"course_utils/weights/{entry['file']}"
            assert path in names, f"checkpoint {name} ({path}) is missing from the wheel"
            assert hashlib.sha256(archive.read(path)).hexdigest() == entry["sha256"], f"{name} differs in the wheel"
