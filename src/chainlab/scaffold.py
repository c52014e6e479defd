"""A study folder from a folder of captures: its config and a sample sheet discovered from the tree.

:func:`new_study` writes ``DIR/config/config.yaml`` (a complete config of the study's own:
every key with its default, from the schema), ``DIR/config/trials.tsv`` (one row per dynamic
trial) and ``DIR/GUESSES.md`` (how each subject, condition and static trial was guessed, and
every file left out with the reason). The study then runs with
``snakemake --cores 2 --directory DIR`` from the chainlab folder, which reads DIR's config
alone (docs/workflow.md, "Your own study").

How the captures are read (:func:`discover`; only each file's header and parameters):

* **Layout.** ``SUBJECT/SESSION/trial.c3d`` (Vicon Nexus' Patient/Session, or any tree two
  folders deep or more: the last two folders): subject and condition from the folders. One
  folder level (``X/trial.c3d``): X is the subject, unless a sibling folder is a static one
  (``Static``, ``Cal...``), when the folders are the sessions of one subject. Flat
  (``trial.c3d``): the subject named in the capture (SUBJECTS:NAMES), else the file name's
  first word. Without a session folder the condition is the file name's words less the
  subject and the numbers (``S01_barefoot_03`` -> ``barefoot``), else ``all``.
* **Static trials.** A capture in a folder named ``Static``/``Cal...``, or whose name says
  static, cal(ibration) or standing, or whose TRIAL_TYPE says static. A subject with none of
  these gets, as a weaker guess, its shortest capture without gait events (at most 10 s).
  Each dynamic trial takes its subject's static in the same folder, else the subject's first.
* **Left out:** files that cannot be read (the reason), captures without markers, and trials
  of a subject without a static trial (written as comment lines at the end of the sheet).
* **Subject measurements.** A subject whose captures (static and dynamic) lack Plug-in Gait's
  measurements or the body mass in their PROCESSING group (another system's captures) gets a
  row in ``DIR/config/subjects.tsv``, a template of empty cells to fill, and the config names
  it (``subjects:``); without it that subject has no Plug-in Gait, or no kinetics.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from chainlab.config import ConfigError, StudyConfig, read_sheet, schema
from chainlab.errors import C3DError
from chainlab.io.c3d import c3d_header
from chainlab.io.store import write_text_atomic
from chainlab.subject_values import PIG_REQUIRED, unit_of

#: folder names of static (calibration) captures
STATIC_FOLDER = re.compile(r"^(static|cal)", re.IGNORECASE)
#: file names of static captures: static, calib(ration), standing, or "cal" as a word of its own
STATIC_NAME = re.compile(r"static|calib|standing|(?<![a-z])cal(?![a-z])", re.IGNORECASE)
#: a capture without gait events this short may be a static trial (when a subject has no other)
STATIC_MAX_S = 10.0
GAIT_EVENTS = ("foot strike", "foot off")
DEFAULT_CONDITION = "all"
#: what a subject's captures must give for Plug-in Gait and its kinetics, else the subjects table asks
NEEDED = ("Bodymass", *PIG_REQUIRED)
#: the columns of the subjects table `chainlab new` writes (any other Nexus name may be added)
TABLE_COLUMNS = ("Bodymass", "Height", *PIG_REQUIRED)


@dataclass
class Capture:
    """One C3D file found under the captures folder."""

    path: Path  # absolute
    rel: Path  # relative to the captures folder
    header: dict | None = None
    error: str = ""
    subject: str = ""
    condition: str = ""
    how: list[str] = field(default_factory=list)  # the guesses made for it, in words
    static_why: str = ""  # why it is taken for a static trial ("" for a dynamic one)

    @property
    def seconds(self) -> float:
        h = self.header or {}
        return h["frames"] / h["rate"] if h.get("rate") else float("inf")

    @property
    def gait_events(self) -> int:
        return sum(e.strip().lower() in GAIT_EVENTS for e in (self.header or {}).get("events", []))


@dataclass
class Discovery:
    """What :func:`discover` made of a captures folder."""

    root: Path
    rows: list[dict] = field(default_factory=list)  # subject, condition, trial, static, dynamic, how
    statics: list[Capture] = field(default_factory=list)
    left_out: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)
    no_static: list[dict] = field(default_factory=list)  # rows without a static trial (static "")
    layout: str = ""
    ignored: int = 0  # files that are not C3D
    headers: dict = field(default_factory=dict)  # capture path -> its header (c3d_header)


@dataclass
class Scaffold:
    """The files :func:`new_study` wrote, and its discovery."""

    folder: Path
    config: Path
    sheet: Path
    guesses: Path
    found: Discovery
    subjects: Path | None = None  # the subjects table template, when some subject lacks measurements
    lacking: dict = field(default_factory=dict)  # subject -> the NEEDED names its captures lack


def _words(stem: str) -> list[str]:
    return [w for w in re.split(r"[\s_\-.]+", stem) if w]


def safe_name(name: str, fallback: str) -> str:
    """`name` as an id of letters, digits, _ . - (the sheet's trial ids; the config's study name)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or fallback


def _static_reason(c: Capture) -> str:
    folders = c.rel.parts[:-1]
    if folders and STATIC_FOLDER.match(folders[-1]):
        return f"in folder {folders[-1]!r}"
    if STATIC_NAME.search(c.rel.stem):
        return f"file name {c.rel.name!r}"
    kind = (c.header or {}).get("trial_type", "")
    if "static" in kind.lower():
        return f"TRIAL_TYPE {kind!r}"
    return ""


def _condition_from_name(stem: str, subject: str) -> str:
    words = [re.sub(r"\d+$", "", w) for w in _words(stem)]
    words = [w for w in words if w and w.lower() != subject.lower() and not w.isdigit()]
    return "_".join(words)


def _place(c: Capture, sessions_of_root: bool, root_name: str) -> None:
    """Subject and condition of `c` from the tree (and its header), with how they were read."""
    folders = c.rel.parts[:-1]
    named = (c.header or {}).get("subjects") or []
    if len(folders) >= 2:
        c.subject, c.condition = folders[-2], folders[-1]
        c.how.append(f"subject and condition from the folders {folders[-2]}/{folders[-1]}")
    elif len(folders) == 1 and not sessions_of_root:
        c.subject = folders[0]
        c.how.append(f"subject from the folder {folders[0]}")
    else:
        if named:
            c.subject = named[0]
            c.how.append(f"subject {named[0]!r} named in the capture (SUBJECTS:NAMES)")
        elif not folders and len(_words(c.rel.stem)) > 1:
            c.subject = _words(c.rel.stem)[0]
            c.how.append("subject from the file name's first word")
        else:
            c.subject = root_name
            c.how.append("subject from the captures folder's name")
        if folders:
            c.condition = folders[0]
            c.how.append(f"condition from the folder {folders[0]}")
    if named and named[0] != c.subject:
        c.how.append(f"the capture names its subject {named[0]!r}")
    if not c.condition:
        c.condition = _condition_from_name(c.rel.stem, c.subject)
        c.how.append("condition from the file name" if c.condition else
                     f"no condition in the folders or file name: {DEFAULT_CONDITION!r}")
        c.condition = c.condition or DEFAULT_CONDITION


def discover(captures: str | Path) -> Discovery:
    """Subjects, conditions, static and dynamic trials of the C3D files under `captures`
    (see the module docstring), reading each file's header alone."""
    root = Path(captures).resolve()
    if not root.is_dir():
        raise ConfigError(f"{captures}: not a folder of captures")
    found = Discovery(root)
    caps = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if p.suffix.lower() != ".c3d":
            found.ignored += 1
            continue
        c = Capture(p, p.relative_to(root))
        try:
            c.header = c3d_header(p)
        except C3DError as exc:
            found.left_out.append((p, f"cannot be read: {exc.reason}"))
            continue
        except OSError as exc:
            found.left_out.append((p, f"cannot be read: {exc.strerror or exc}"))
            continue
        if c.header["markers"] == 0:
            found.left_out.append((p, "no markers (POINT:USED is 0)"))
            continue
        caps.append(c)
        found.headers[p] = c.header
    if not caps:
        raise ConfigError(f"{captures}: no readable C3D capture with markers found"
                          + (f" ({len(found.left_out)} left out: {found.left_out[0][1]} ...)" if found.left_out else ""))
    top = {c.rel.parts[0] for c in caps if len(c.rel.parts) == 2}
    sessions_of_root = any(STATIC_FOLDER.match(t) for t in top)
    depths = sorted({len(c.rel.parts) - 1 for c in caps})
    found.layout = ("subject/session/trial (Nexus)" if min(depths) >= 2 else
                    "session/trial of one subject" if sessions_of_root and depths == [1] else
                    "subject/trial" if depths == [1] else "flat (trial files side by side)" if depths == [0] else
                    f"mixed, {', '.join(map(str, depths))} folder(s) deep")
    for c in caps:
        _place(c, sessions_of_root, root.name)
        c.static_why = _static_reason(c)
    # a subject without a static by name: its shortest capture without gait events, if short
    for subject in sorted({c.subject for c in caps}):
        mine = [c for c in caps if c.subject == subject]
        if not any(c.static_why for c in mine):
            quiet = sorted((c for c in mine if c.gait_events == 0 and c.seconds <= STATIC_MAX_S),
                           key=lambda c: c.seconds)
            if quiet and len(mine) > 1:
                quiet[0].static_why = (f"guessed from its content: no gait events, {quiet[0].header['frames']} "
                                       f"frames ({quiet[0].seconds:.1f} s), the subject's shortest")
    found.statics = [c for c in caps if c.static_why]
    for c in caps:
        if c.static_why:
            continue
        mine = [s for s in found.statics if s.subject == c.subject]
        near = [s for s in mine if s.rel.parent == c.rel.parent] or mine
        how = list(c.how)
        if len(near) > 1:
            how.append(f"static: the first of {len(near)} ({', '.join(s.rel.name for s in near)})")
        row = {"subject": c.subject, "condition": c.condition, "trial": safe_name(c.rel.stem, "trial"),
               "static": near[0].path if near else "", "dynamic": c.path, "how": how}
        (found.rows if near else found.no_static).append(row)
    _unique_ids(found.rows + found.no_static)
    return found


def _unique_ids(rows: list[dict]) -> None:
    """Trial ids made unique (they name the output files): the subject, then the condition,
    then a number put in front of a file name shared by several trials."""
    for extra in (("subject",), ("subject", "condition")):
        seen: dict[str, int] = {}
        for r in rows:
            seen[r["trial"]] = seen.get(r["trial"], 0) + 1
        for r in rows:
            if seen[r["trial"]] > 1:
                r["trial"] = safe_name("_".join([*(r[k] for k in extra), r["dynamic"].stem]), "trial")
                r["how"].append("trial id given the " + " and ".join(extra) + " (file name shared)")
    seen = {}
    for r in rows:
        k = seen[r["trial"]] = seen.get(r["trial"], 0) + 1
        if k > 1:
            r["trial"] = f"{r['trial']}_{k}"


def config_text(study: str, trials: str = "config/trials.tsv", subjects: str | None = None) -> str:
    """A complete config (YAML): `study`, `trials`, `subjects` (the subjects table; None: the
    default, none) and every other key with its default and description, from the config
    schema (keys without a default are commented out)."""
    sch = schema("config")
    lines = ["# chainlab study configuration, written by `chainlab new` (validated against",
             "# src/chainlab/schemas/config.schema.yaml). A config of this study's own: nothing is",
             "# merged from another. Every key below has its default; docs/workflow.md says which",
             "# steps each section affects.",
             f"study: {study}          # outputs go to results/{study}/",
             f"trials: {trials}   # the sample sheet, relative to the study folder; its capture"
             " paths are relative to the sheet's folder"]

    def describe(sub: dict) -> str:
        return " ".join(str(sub.get("description", "")).split())

    def walk(props: dict, indent: str) -> None:
        for key, sub in props.items():
            if key in ("study", "trials"):
                continue
            note = describe(sub)
            if note:  # the schema's description, as comment lines above the key
                lines.extend(textwrap.wrap(note, 96, initial_indent=indent + "# ", subsequent_indent=indent + "# "))
            if sub.get("type") == "object" and "properties" in sub:
                lines.append(f"{indent}{key}:")
                at = len(lines)
                walk(sub["properties"], indent + "  ")
                if all(line.lstrip().startswith("#") for line in lines[at:]):  # every key unset: an
                    lines[at - 1] = f"{indent}{key}: {json.dumps(sub.get('default', {}))}"  # empty mapping, not null
            elif key == "subjects" and indent == "" and subjects:
                lines.append(f"subjects: {json.dumps(subjects)}")
            elif "default" in sub:
                lines.append(f"{indent}{key}: {json.dumps(sub['default'])}")
            else:
                lines.append(f"{indent}# {key}:    (unset: the default the line above gives)")

    walk(sch["properties"], "")
    return "\n".join(lines) + "\n"


def _sheet_path(p: Path, sheet_dir: Path, folder: Path) -> str:
    """A capture's path in the sheet: relative to the sheet's folder when the capture is inside
    the study folder (the folder moves as one), else absolute."""
    p = Path(p).resolve()
    try:
        p.relative_to(folder.resolve())
    except ValueError:
        return str(p)
    return os.path.relpath(p, sheet_dir.resolve())


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def guesses_text(found: Discovery, sheet: str, study: str, lacking: dict | None = None) -> str:
    """GUESSES.md: the layout, each trial with how it was placed, the static trials and why,
    every file left out with the reason, and the subjects whose captures lack measurements
    (`lacking`: :func:`lacking_measurements`)."""
    out = [f"# What `chainlab new` guessed for the study {study}", "",
           f"Captures: `{found.root}` ({len(found.rows) + len(found.no_static) + len(found.statics)} C3D captures read, "
           f"{len(found.left_out)} left out, {found.ignored} other files ignored). Layout: {found.layout}.", "",
           f"Check every line below and edit `{sheet}` where a guess is wrong (subject, condition, "
           "static trial, or a trial to drop); then run the study (docs/workflow.md, \"Your own study\").", "",
           f"## Trials ({len(found.rows)})", "",
           "| trial | subject | condition | static | dynamic | how |", "|---|---|---|---|---|---|"]
    out += [f"| {r['trial']} | {_cell(r['subject'])} | {_cell(r['condition'])} | "
            f"{_cell(Path(r['static']).relative_to(found.root)) if r['static'] else '(stored calibration)'} | {_cell(Path(r['dynamic']).relative_to(found.root))} | "
            f"{_cell('; '.join(r['how']))} |" for r in found.rows]
    out += ["", f"## Static trials ({len(found.statics)})", "", "| static | subject | why static |", "|---|---|---|"]
    out += [f"| {_cell(s.rel)} | {_cell(s.subject)} | {_cell(s.static_why)} |" for s in found.statics]
    left = [(Path(r["dynamic"]), f"subject {r['subject']!r} has no static trial (a comment line at the end of "
             "the sheet: give it a static capture and uncomment it)") for r in found.no_static] + found.left_out
    out += ["", f"## Left out ({len(left)})", ""]
    out += ["| file | reason |", "|---|---|"] + [f"| {_cell(p.relative_to(found.root))} | {_cell(why)} |"
                                                  for p, why in left] if left else ["Nothing."]
    if lacking:
        out += ["", f"## Subject measurements missing from the captures ({len(lacking)})", "",
                "Fill `config/subjects.tsv` (Nexus' units; an empty cell is not given): without them the "
                "subject has no Plug-in Gait or no kinetics.", "", "| subject | missing |", "|---|---|"]
        out += [f"| {_cell(s)} | {', '.join(n)} |" for s, n in lacking.items()]
    return "\n".join(out) + "\n"


def sheet_text(found: Discovery, sheet_dir: Path, folder: Path) -> str:
    """The sample sheet: a comment header, one row per trial, and the trials without a static
    trial as comment lines."""
    head = [f"# Sample sheet written by `chainlab new` from {found.root}.",
            "# Subjects, conditions and static trials are guesses: GUESSES.md (in the study folder) says",
            "# how each was made. Check them and edit this file freely (tab-separated). Capture paths",
            "# are absolute or relative to this file's folder."]
    cols = ("subject", "condition", "trial", "static", "dynamic")

    def line(r: dict) -> str:
        cells = {**r, "static": _sheet_path(r["static"], sheet_dir, folder) if r["static"] else "",
                 "dynamic": _sheet_path(r["dynamic"], sheet_dir, folder)}
        return "\t".join(str(cells[c]) for c in cols)

    body = ["\t".join(cols)] + [line(r) for r in found.rows]
    tail = ["# No static trial found for these (add one in the static column and remove the '# '):"] + \
        ["# " + line(r) for r in found.no_static] if found.no_static else []
    return "\n".join(head + body + tail) + "\n"


def lacking_measurements(found: Discovery) -> dict[str, list[str]]:
    """Subject -> the :data:`NEEDED` measurements that none of its trials' captures (static or
    dynamic) has in PROCESSING (a value of 0 counts as absent); subjects lacking none left out."""
    out: dict[str, set[str]] = {}
    for r in found.rows:
        have = {k for p in (r["static"], r["dynamic"]) if p
                for k, v in (found.headers.get(Path(p)) or {}).get("measurements", {}).items() if v}
        if missing := set(NEEDED) - have:
            out.setdefault(r["subject"], set()).update(missing)
    return {s: [n for n in NEEDED if n in out[s]] for s in sorted(out)}


def subjects_template(lacking: dict[str, list[str]]) -> str:
    """The subjects table `chainlab new` writes: comment lines saying what to fill and in which
    units, the header, and a row of empty cells (not given) per subject of `lacking`."""
    head = ["# Subject measurements, written by `chainlab new`: these subjects' captures lack some in their",
            "# PROCESSING group (" + "; ".join(f"{s}: {', '.join(n)}" for s, n in lacking.items())[:300] + ").",
            "# Without them a subject has no Plug-in Gait (leg lengths, knee and ankle widths) or no kinetics",
            "# (Bodymass). Fill the cells in Nexus' units: " + ", ".join(f"{c} {unit_of(c)}" for c in TABLE_COLUMNS)
            + ";",
            "# an empty cell is not given (the capture's value is used). Any other Nexus name may be added as a",
            "# column: the angular offsets (LTibialTorsion, LStaticPlantFlex ...) in radians (docs/workflow.md).",
            "\t".join(("subject", *TABLE_COLUMNS))]
    return "\n".join(head + ["\t".join([s] + [""] * len(TABLE_COLUMNS)) for s in lacking]) + "\n"


def new_study(folder: str | Path, captures: str | Path, study: str | None = None,
              force: bool = False) -> Scaffold:
    """Scaffold a study folder: ``config/config.yaml``, ``config/trials.tsv`` and ``GUESSES.md``
    (see the module docstring). Both files are checked as the workflow checks them before
    returning; an existing config or sheet is kept unless `force`. Raises
    :class:`chainlab.config.ConfigError` when nothing usable is found."""
    folder = Path(folder)
    config, sheet, guesses = folder / "config" / "config.yaml", folder / "config" / "trials.tsv", folder / "GUESSES.md"
    there = [str(p) for p in (config, sheet) if p.exists()]
    if there and not force:
        raise ConfigError(f"{', '.join(there)}: already there; pass force to write over them")
    name = safe_name(study or folder.resolve().name, "study")
    found = discover(captures)
    for r in found.no_static:  # run from the calibration Nexus stored in the capture (docs/quality.md)
        r["how"] = [*r.get("how", []), "no static trial found: static left empty, so the calibration stored in "
                    "the capture's PROCESSING group is used (docs/quality.md)"]
        r["static"] = ""
    found.rows, found.no_static = found.rows + found.no_static, []
    if not found.rows:
        raise ConfigError(f"{captures}: no dynamic trial with a static trial found; "
                          + ("; ".join(f"{p.name}: {why}" for p, why in found.left_out[:3]) or
                             f"{len(found.no_static)} trial(s) without a static trial"))
    sheet.parent.mkdir(parents=True, exist_ok=True)
    lacking = lacking_measurements(found)
    table = folder / "config" / "subjects.tsv" if lacking else None
    if table is not None and table.exists() and not force:
        raise ConfigError(f"{table}: already there; pass force to write over it")
    write_text_atomic(config_text(name, subjects="config/subjects.tsv" if table else None), config)
    write_text_atomic(sheet_text(found, sheet.parent, folder), sheet)
    if table is not None:
        write_text_atomic(subjects_template(lacking), table)
    write_text_atomic(guesses_text(found, "config/trials.tsv", name, lacking), guesses)
    StudyConfig.load(config)
    read_sheet(sheet)
    return Scaffold(folder, config, sheet, guesses, found, table, lacking)


def summary(s: Scaffold) -> str:
    """A few lines for the terminal: what was written and what to check."""
    f = s.found
    subjects = sorted({r["subject"] for r in f.rows})
    conditions = sorted({r["condition"] for r in f.rows})
    lines = [f"{s.folder}: {len(f.rows)} trial(s) of {len(subjects)} subject(s) ({', '.join(subjects[:8])}"
             f"{' ...' if len(subjects) > 8 else ''}), condition(s) {', '.join(conditions)}, "
             f"{len(f.statics)} static trial(s); layout: {f.layout}"]
    for p, why in f.left_out:
        lines.append(f"  left out {p.relative_to(f.root)}: {why}")
    if f.no_static:
        lines.append(f"  {len(f.no_static)} trial(s) without a static trial: commented out at the end of the sheet")
    if s.subjects is not None:
        lines.append(f"  {len(s.lacking)} subject(s) whose captures lack measurements ({', '.join(list(s.lacking)[:8])}"
                     f"{' ...' if len(s.lacking) > 8 else ''}): fill {s.subjects}")
    lines += [f"  wrote {s.config}, {s.sheet}{f', {s.subjects}' if s.subjects else ''}, {s.guesses}",
              f"  check the guesses in {s.guesses}, then run: snakemake --cores 2 --directory {s.folder}"]
    return "\n".join(lines)
