"""Writing figures: HTML and JSON always, SVG and PDF where a browser is.

Each HTML loads plotly.js from ``plotly.min.js`` beside it, written once per folder (about
4.8 MB; the figures themselves are tens of kB), so a folder of figures works offline and
stays a few MB; an HTML copied away from it says so on the page. A fixed div id makes the
same figure give the same bytes on every run. SVG and PDF are drawn by kaleido in a
Chrome/Chromium, run in a child process with a time limit (:mod:`chainlab.figures._export`);
without a browser one message says so and only HTML and JSON are written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import plotly.graph_objects as go

from plotly.offline import get_plotlyjs

from chainlab.io.store import write_text_atomic

FORMATS = ("html", "json", "svg", "pdf")
STATIC = ("svg", "pdf")
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
NO_BROWSER = ("no Chrome/Chromium found (looked for $BROWSER_PATH, " + ", ".join(BROWSER_NAMES)
              + " on PATH and kaleido's own download); writing HTML and JSON only. For SVG and PDF install "
              "one (Debian: apt-get install chromium) or point BROWSER_PATH at it.")
AUTO = "auto"


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido will use: ``$BROWSER_PATH``, then the usual names on
    PATH, then kaleido's own lookup (its typical install paths and ``plotly_get_chrome``'s
    download). None when there is none."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    try:
        from choreographer.browsers.chromium import Chromium

        return Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - a lookup that fails means no browser
        return None


#: The one copy of plotly.js in a folder of figures, which every HTML there loads.
PLOTLYJS = "plotly.min.js"
_MISSING_JS = (f'<script>if (typeof Plotly === "undefined") {{document.body.insertAdjacentHTML("afterbegin", '
               f'"<p style=\\"font:16px sans-serif;color:#D55E00\\">This figure needs {PLOTLYJS} in its folder '
               f'(chainlab figures writes it there); or open the study\'s report.html.</p>");}}</script>')


def _html(fig: go.Figure, name: str) -> str:
    page = fig.to_html(include_plotlyjs="directory", full_html=True, div_id=f"chainlab-{name}",
                       config={"displaylogo": False, "toImageButtonOptions": {"filename": name}})
    return page.replace("</body>", _MISSING_JS + "</body>", 1)


def write_plotlyjs(out_dir: str | os.PathLike) -> Path:
    """``plotly.min.js`` in `out_dir`, written only when it is not there already with the
    same bytes (so a rerun leaves it untouched)."""
    path = Path(out_dir) / PLOTLYJS
    js = get_plotlyjs()
    try:
        if path.stat().st_size == len(js.encode("utf-8")) and path.read_text(encoding="utf-8") == js:
            return path
    except OSError:
        pass
    return write_text_atomic(js, path)


def write_figures(figures: Mapping[str, go.Figure], out_dir: str | os.PathLike,
                  formats: Sequence[str] = FORMATS, browser: str | None = AUTO, timeout: float | None = None,
                  say: Callable[[str], None] | None = None) -> dict[str, list[Path]]:
    """Write each figure as ``name.html`` (loading ``plotly.min.js``, written beside it once)
    and ``name.json``, and as ``name.svg`` /
    ``name.pdf`` when asked for and a browser is there (`browser`: a path, None for none,
    or ``"auto"`` for :func:`find_browser`). All static files are drawn in one child
    process, ended after `timeout` seconds (default 60 + 20 per file). Returns the files
    written per figure."""
    say = say or (lambda msg: print(msg, file=sys.stderr))
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown figure format(s) {unknown}; expected some of {list(FORMATS)}")
    out = Path(out_dir)
    written: dict[str, list[Path]] = {}
    if figures:
        write_plotlyjs(out)
    for name, fig in figures.items():
        written[name] = [write_text_atomic(_html(fig, name), out / f"{name}.html"),
                         write_text_atomic(fig.to_json(), out / f"{name}.json")]
    static = [f for f in STATIC if f in formats]
    if not static or not figures:
        return written
    if browser == AUTO:
        browser = find_browser()
    if not browser:
        say(f"chainlab figures: {NO_BROWSER}")
        return written
    jobs = [(str(out / f"{n}.json"), str(out / f"{n}.{f}"), f) for n in figures for f in static]
    limit = timeout if timeout is not None else 60.0 + 20.0 * len(jobs)
    done = _export(browser, jobs, limit, say)
    for n in figures:
        written[n] += [Path(p) for src, p, _ in jobs if p in done and src == str(out / f"{n}.json")]
    return written


def write_figure(fig: go.Figure, out_dir: str | os.PathLike, name: str, formats: Sequence[str] = FORMATS,
                 browser: str | None = AUTO, timeout: float | None = None) -> list[Path]:
    """One figure: ``name.html`` (with ``plotly.min.js`` beside it), ``name.json``, and ``name.svg`` /
    ``name.pdf`` when a browser is there (see :func:`write_figures`)."""
    return write_figures({name: fig}, out_dir, formats, browser, timeout)[name]


def _export(browser: str, jobs: list[tuple[str, str, str]], limit: float,
            say: Callable[[str], None]) -> set[str]:
    """Run the static export in a child process of its own session; kill the whole group
    (kaleido and its browser) when it overruns `limit`, or when this process is interrupted or
    terminated meanwhile (Ctrl-C, a workflow's SIGTERM): the child's own session does not get
    the signal, and its browser would outlive the job. The files it wrote."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(jobs, f)
    cmd = [sys.executable, "-m", "chainlab.figures._export", browser, f.name]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        with _terminate_raises():
            stdout, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        stdout, stderr = proc.communicate()
        say(f"chainlab figures: SVG/PDF export with {browser} stopped after {limit:.0f} s; "
            "HTML and JSON are written")
    except BaseException:  # interrupted or terminated: the export and its browser go too
        _kill_tree(proc.pid)
        proc.wait()
        raise
    finally:
        os.unlink(f.name)
    done = {line.strip() for line in stdout.splitlines() if line.strip()}
    if proc.returncode not in (0, -signal.SIGKILL):
        tail = " ".join(stderr.strip().splitlines()[-3:])
        say(f"chainlab figures: SVG/PDF export with {browser} failed (exit {proc.returncode}): {tail}")
    return done


@contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM raises SystemExit(143) meanwhile (its default ends the process at once, with no
    cleanup), where a handler can be set (the main thread); the previous handler after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _kill_tree(pid: int) -> None:
    """SIGKILL `pid`'s process group and every descendant (the browser may run in a session of
    its own)."""
    tree = _process_tree(pid)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def _process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc (Linux); only `pid` where there is none."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out
