"""The import graph: the layers of pyproject.toml's contracts (`lint-imports`), no circle
(function-local imports included), few function-local imports, short modules, and a light
`import chainlab` (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import import_graph

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` in `root` (its pyproject.toml) on the package in root/src."""
    exe = shutil.which("lint-imports") or pytest.skip("lint-imports (import-linter, the test extra) is not installed")
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([exe, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_the_contracts_hold():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 broken" in out.stdout, out.stdout


def test_a_wall_broken_inside_a_function_breaks_the_contracts(tmp_path):
    """io importing the kinematics, even inside a function, breaks the layers and io's contract."""
    shutil.copytree(ROOT / "src" / "chainlab", tmp_path / "src" / "chainlab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "src" / "chainlab" / "io" / "store.py", "a") as f:
        f.write("\n\ndef _late():\n    from chainlab.kinematics import compute_kinematics\n\n    return compute_kinematics\n")
    out = _lint_imports(tmp_path)
    assert out.returncode != 0
    assert "chainlab.io is not allowed to import chainlab.kinematics" in out.stdout, out.stdout
    assert "io is the ground floor: it computes nothing BROKEN" in out.stdout, out.stdout


def test_the_source_passes_the_import_graph_check():
    assert import_graph.problems() == []
    imports, _ = import_graph.graph()
    assert len(import_graph.local_imports(imports)) <= import_graph.MAX_LOCAL


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "chainlab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_graph_check_finds_a_circle_through_a_function_and_a_package(tmp_path):
    """a -> b at the top, b -> a inside a function: a circle; and m -> pkg.x where pkg's
    __init__ imports pkg.y, which imports m: a circle through the package's __init__."""
    src = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from chainlab import b\n",
        "b.py": "def f():\n    from chainlab.a import g\n    return g\n",
        "m.py": "from chainlab.pkg.x import X\n",
        "pkg/__init__.py": "from chainlab.pkg.y import Y\n",
        "pkg/x.py": "X = 1\n",
        "pkg/y.py": "import chainlab.m\nY = 2\n",
        "pkg/z.py": "from chainlab.pkg import Y\n",  # a part of a package using it: not a circle
        "long.py": "x = 1\n" * (import_graph.MAX_LINES + 1),
    })
    found = import_graph.problems(src)
    assert "import circle: chainlab.a <-> chainlab.b" in found
    assert "import circle: chainlab.m <-> chainlab.pkg <-> chainlab.pkg.y" in found
    assert f"chainlab.long: {import_graph.MAX_LINES + 1} lines, expected at most {import_graph.MAX_LINES}" in found
    assert len(found) == 3, found
    imports, _ = import_graph.graph(src)
    assert [(i.source, i.target) for i in import_graph.local_imports(imports)] == [("chainlab.b", "chainlab.a")]


def test_the_graph_check_counts_local_imports(tmp_path):
    n = import_graph.MAX_LOCAL + 1
    src = _package(tmp_path, {"__init__.py": "", "c.py": "X = 1\n",
                              "d.py": "".join(f"def f{k}():\n    from chainlab.c import X\n    return X\n"
                                              for k in range(n))})
    found = import_graph.problems(src)
    assert len(found) == 1 and found[0].startswith(f"{n} function-local chainlab imports, expected at most")


def _python(code: str) -> str:
    """The stdout of `code` run in a fresh interpreter on this checkout's src (it must succeed)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_chainlab_is_light():
    """`import chainlab` (and the config the workflow's rule files import, and the options)
    imports none of the scientific stack; `chainlab.read_c3d` is there on first use."""
    code = ("import sys, chainlab, chainlab.config, chainlab.options, chainlab.cli\n"
            "heavy = ['dask', 'distributed', 'scipy', 'statsmodels', 'plotly', 'kaleido', 'xarray', 'pandas',\n"
            "         'numpy', 'h5py', 'numba', 'ezc3d']\n"
            "print(' '.join(m for m in heavy if m in sys.modules))\n"
            "print(chainlab.read_c3d.__module__, 'xarray' in sys.modules)\n")
    assert _python(code).splitlines() == ["", "chainlab.io.c3d True"]


def test_a_one_chunk_kinematics_run_imports_no_dask(tmp_path):
    """`chainlab kinematics` of a short capture with force plates (kinematics, kinetics, the
    file written in one pass) imports none of dask, distributed, scipy or jsonschema (issue
    #17: a second of imports); once dask is imported in the same process, xarray still sees
    its arrays as dask arrays and asks dask for its scheduler (chainlab.io._dataset answers only
    while dask is absent)."""
    data = ROOT / "data" / "biomechzoo" / "HC030A"
    code = ("import sys\n"
            "from chainlab.cli import main\n"
            f"rc = main(['kinematics', {str(data / 'Straight' / 'HC030A05.c3d')!r}, '--static', "
            f"{str(data / 'Static' / 'HC030A01.c3d')!r}, '--models', 'pig', '-o', {str(tmp_path / 'k.h5')!r}])\n"
            "print(rc, sorted(m for m in ('dask', 'distributed', 'scipy', 'jsonschema') if m in sys.modules))\n"
            "import dask.array as da, xarray as xr\n"
            "from xarray.namedarray.pycompat import is_chunked_array\n"
            "v = xr.Variable(('x',), da.zeros(4, chunks=2))\n"
            "from xarray.backends.locks import get_dask_scheduler\n"
            "print(v.chunks, is_chunked_array(v.data), xr.Dataset({'a': v}).chunks['x'], get_dask_scheduler())\n")
    assert _python(code).splitlines()[-2:] == ["0 []", "((2, 2),) True (2, 2) threaded"]
    import h5py

    with h5py.File(tmp_path / "k.h5", "r") as f:  # written in one pass (chainlab.io._netcdf)
        assert "kinetics_absent" in f.attrs and f.attrs["_NCProperties"].decode().startswith("version=2,chainlab=")
