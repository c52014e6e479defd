"""Static export (SVG, PDF) of figures' JSON through kaleido and a Chrome/Chromium.

Run as a child process (``python -m chainlab.figures._export BROWSER JOBS.json``) by
:func:`chainlab.figures.write_figures`, which kills it, with the browser it started, when it
overruns its time limit: a browser that does not answer can never stall the caller. Each job
is ``[figure.json, output path, format]``; outputs are written atomically, SVGs with a fixed id (byte-identical on a rerun). One line per file
is printed as it is written.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from chainlab.io.store import atomic_path

_UID = re.compile(rb'<defs id="defs-([0-9a-f]{6})"')


def stable_svg(data: bytes) -> bytes:
    """The SVG with plotly.js' random per-render id (``defs-3ef4c7``, ``clip3ef4c7xyplot``, ...)
    replaced by a fixed one, so that the same figure gives the same bytes. Only whole element
    ids holding it are replaced (where they are defined and referred to), never a run of
    digits that happens to match inside the drawing's coordinates."""
    m = _UID.search(data)
    if not m:
        return data
    uid = m.group(1)
    for name in sorted(set(re.findall(rb'id="([^"]*' + uid + rb'[^"]*)"', data)), key=len, reverse=True):
        fixed = name.replace(uid, b"c0ffee")
        data = re.sub(rb'(?<=["#])' + re.escape(name) + rb'(?=["\')])', fixed, data)
    return data


def export(browser: str, jobs: list[tuple[str, str, str]], timeout: float = 60.0) -> None:
    import kaleido  # SVG/PDF only: a Chrome driver, not needed for HTML and JSON
    import plotly.io as pio

    os.environ["BROWSER_PATH"] = browser  # kaleido's browser lookup takes this first
    # mathjax=False: no script from the network (the page would wait for it)
    kaleido.start_sync_server(n=1, timeout=timeout, mathjax=False, silence_warnings=True)
    try:
        for source, target, fmt in jobs:
            fig = pio.from_json(Path(source).read_text(encoding="utf-8"), skip_invalid=False)
            for i, trace in enumerate(fig.data):  # plotly.js draws random ids where a trace has none
                if trace.uid is None:
                    trace.uid = f"{i:06x}"
            data = kaleido.calc_fig_sync(fig, opts={"format": fmt})
            if fmt == "svg":
                data = stable_svg(data)
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
            print(target, flush=True)
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


if __name__ == "__main__":  # pragma: no cover - run by write_figures in a child process
    export(sys.argv[1], [tuple(j) for j in json.loads(Path(sys.argv[2]).read_text())])
