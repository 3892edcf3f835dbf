"""benchmarks/profile_step.py: its time split still finds the products, the folds and the
threads' wait in a real step (a renamed or bypassed hook would silently report 0 ms)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _profile(model: str, threads: int) -> str:
    env = {**os.environ, "GRADBOX_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "profile_step.py"), model, "--steps", "3"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=300).stdout


def _categories(out: str) -> dict[str, tuple[float, float]]:
    rows = re.findall(r"^  (.+?)\s+([\d.]+) ms\s+([\d.]+)%$", out, flags=re.M)
    return {name: (float(ms), float(pct)) for name, ms, pct in rows}


def test_profile_step_splits_a_lenet_step_into_products_folds_and_waits():
    out = _profile("lenet5_64", 2)
    cats = _categories(out)
    assert cats["matrix products"][0] > 0, out
    assert cats["im2col/col2im"][0] > 0, out
    assert cats["waiting for the other thread"][0] > 0, out
    assert cats["pooling"][0] > 0, out
    split = float(re.search(r"^inside ops split over the threads \(2\): ([\d.]+) ms", out, flags=re.M).group(1))
    assert split > 0, out


def test_profile_step_serial_run_has_no_split_and_no_wait():
    cats = _categories(out := _profile("lenet5_64", 1))
    assert "waiting for the other thread" not in cats, out
    assert cats["matrix products"][0] > 0, out
    assert re.search(r"^inside ops split over the threads \(1\): 0\.00 ms", out, flags=re.M), out
