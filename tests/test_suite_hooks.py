"""The test suite's own report (tests/conftest.py): a run without PyTorch says that it is not a
full run, so that a handful of "skipped" modules is not mistaken for hundreds of passed comparisons."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import conftest

ROOT = Path(__file__).resolve().parents[1]

# Makes `import torch` fail in the subprocess, as on a machine without it.
NO_TORCH = """
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        return None

sys.meta_path.insert(0, _NoTorch())
"""


def test_the_torch_oracle_modules_are_found():
    assert {"test_engine_vs_torch.py", "test_lang_vs_torch.py", "test_hooks.py"} <= set(conftest.TORCH_ORACLE_MODULES)
    assert "test_snapshots.py" not in conftest.TORCH_ORACLE_MODULES


def test_a_run_without_torch_says_it_is_not_a_full_run(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(NO_TORCH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           "tests/engine/test_hooks.py", "tests/test_suite_hooks.py::test_the_torch_oracle_modules_are_found"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    n = len(conftest.TORCH_ORACLE_MODULES)
    line = f"torch not installed: {n} PyTorch oracle modules skipped"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed, 1 skipped" in proc.stdout, proc.stdout
    assert proc.stdout.count(line) == 1 and "this is not a full run" in proc.stdout, proc.stdout


def test_a_run_with_torch_says_nothing_about_it():
    if not conftest.torch_installed():
        pytest.skip("torch is not installed here")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           "tests/test_suite_hooks.py::test_the_torch_oracle_modules_are_found"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0 and "torch not installed" not in proc.stdout, proc.stdout
