"""The README's Python examples run verbatim (each block marked <!-- python-example: NAME -->)."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def examples():
    text = README.read_text()
    found = re.findall(r"<!-- python-example: (\w+) -->\n```python\n(.*?)```", text, re.S)
    assert {name for name, _ in found} >= {"closure", "numpy"}, "the README lost its Python examples"
    return found


@pytest.mark.parametrize("name,code", examples(), ids=[n for n, _ in examples()])
def test_readme_example_runs(name, code, tmp_path):
    script = tmp_path / f"readme_{name}.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
