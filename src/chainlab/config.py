"""A study's configuration and sample sheet, validated once, with every default in one place.

The JSON schemas in ``chainlab/schemas/`` (linked from ``workflow/schemas/``) are the single
source of the keys, their types, ranges and defaults; :func:`validate_config` checks a config
against it and fills the defaults, and :class:`StudyConfig` turns its sections into the
options of each stage. ``chainlab study`` and the Snakemake workflow both go through here, so
they accept the same files and fail on the same mistakes, with a message naming the file, the
key or row, what was found and what was expected.

>>> cfg = StudyConfig.from_dict({"study": "demo", "trials": "config/trials.tsv"})
>>> cfg.statistics["permutations"], cfg.kinematics["solver"]
(2000, 'direct')
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from chainlab.errors import ChainlabError
from chainlab.measure_specs import apply_measure_defaults, parse_measures, parse_tests
from chainlab.options import ChainOptions, KinematicsOptions, PlateEventOptions, kinetics_options
from chainlab.schema import OUTPUTS_VERSION  # noqa: F401  (the workflow reads it from here)
from chainlab.subject_values import SUBJECT_NAMES, check_values, unknown_names

SHEET_COLUMNS = ("subject", "condition", "trial", "static", "dynamic")
#: Columns a sample sheet may have besides :data:`SHEET_COLUMNS` (``plates``: plate-to-foot
#: overrides of the row's trial, ``1=R,2=L``; ``markers``: the row's marker mapping, a preset
#: or a YAML file, empty for the study's).
OPTIONAL_SHEET_COLUMNS = ("plates", "markers")
#: Sheet columns whose cell may be empty: ``static`` (the calibration stored in the capture is used).
MAY_BE_EMPTY = ("static",)
SECTIONS = ("kinematics", "gait", "kinetics", "measures", "statistics", "tests", "figures", "markers")
#: The config sections a trial's result depends on (a trial file records their settings):
#: ``measures`` are computed per trial, ``tests`` with the statistics.
TRIAL_SECTIONS = ("kinematics", "gait", "kinetics", "measures", "markers")


class ConfigError(ChainlabError, ValueError):
    """A config or sample sheet that does not follow its schema; the message says where."""


@cache
def schema(name: str) -> dict:
    """The JSON schema ``name`` ("config" or "trials") shipped with the package."""
    text = resources.files("chainlab").joinpath("schemas", f"{name}.schema.yaml").read_text()
    return yaml.safe_load(text)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (lines {seen[key]} and {key_node.start_mark.line + 1}); "
                            "YAML would keep the last silently: keep one", key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_yaml(path: str | Path) -> Any:
    """A YAML file read with the safe loader, a key given twice refused; :class:`ConfigError`
    naming the file (and the line) when it cannot be read or parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None


def _full_match_pattern(validator, pattern, instance, sch):
    """JSON schema's ``pattern`` as a full match: ``^...$`` in Python's ``re.search`` accepts a
    trailing newline, which a name that reaches a path or a shell command must not have."""
    import jsonschema  # already imported by the validator calling this

    if isinstance(instance, str) and not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _finite_number(validator, value, instance, sch):
    """``type: number`` refusing NaN and infinities (YAML's .nan and .inf)."""
    import jsonschema  # already imported by the validator calling this

    yield from jsonschema.Draft202012Validator.VALIDATORS["type"](validator, value, instance, sch)
    if isinstance(instance, float) and not math.isfinite(instance):
        yield jsonschema.ValidationError(f"{instance!r} is not a finite number")


@cache
def _validator_class():
    """Draft 2020-12 with full-match patterns and finite numbers; jsonschema imported here, when
    a config or sheet is checked (0.1 s of imports that `chainlab kinematics` does not need)."""
    import jsonschema

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"pattern": _full_match_pattern, "type": _finite_number})


def _with_defaults(value: Any, sch: dict) -> Any:
    """`value` with the schema's defaults filled in where keys are absent (recursively)."""
    if not isinstance(value, dict) or sch.get("type") != "object":
        return value
    out = dict(value)
    for key, sub in sch.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if key in out:
            out[key] = _with_defaults(out[key], sub)
    return out


def row_validator():
    """The sample sheet's row schema as a validator (patterns as full matches, numbers finite)."""
    return _validator_class()(schema("trials"))


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _allowed_range(sch: dict) -> str:
    """A number's allowed range from its schema, e.g. "0 < value < 0.5" ("" when none)."""
    low = [f"{sch[k]} {op} " for k, op in (("minimum", "<="), ("exclusiveMinimum", "<")) if k in sch]
    high = [f" {op} {sch[k]}" for k, op in (("maximum", "<="), ("exclusiveMaximum", "<")) if k in sch]
    return f"; allowed: {''.join(low)}value{''.join(high)}" if low or high else ""


def _message(error, sch: dict) -> str:
    """One line for a jsonschema error: the key, what was found, what was allowed."""
    where = _where(error.absolute_path)
    if error.validator in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where}: {error.message}{_allowed_range(error.schema)}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {extra}; allowed: {allowed}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {error.validator_value}"
    return f"{where}: {error.message}"


def validate_config(config: dict, source: str = "config") -> dict:
    """`config` checked against the config schema, with its defaults filled in.

    Raises :class:`ConfigError` naming `source` and every offending key.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (study: NAME, trials: SHEET.tsv, ...); "
                          f"found {type(config).__name__}")
    sch = schema("config")
    full = _with_defaults(config, sch)
    errors = sorted(_validator_class()(sch).iter_errors(full), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(_message(e, sch) for e in errors))
    return full


@dataclass(frozen=True)
class StudyConfig:
    """A validated study configuration (sections as plain dicts, defaults filled in)."""

    study: str
    trials: str
    kinematics: dict = field(default_factory=dict)
    gait: dict = field(default_factory=dict)
    kinetics: dict = field(default_factory=dict)
    measures: list = field(default_factory=list)  # chainlab.gait.measures
    statistics: dict = field(default_factory=dict)
    tests: list = field(default_factory=list)  # chainlab.stats.hypotheses
    figures: dict = field(default_factory=dict)
    markers: str | dict | None = None  # the lab's marker mapping: a preset, a YAML file or {label: name}
    source: str = "config"
    trials_per_job: int = 20  # the workflow's batch size; not a setting of the results (not in settings())
    subjects: str | None = None  # the subjects table, as the config names it (None: none)
    #: subject -> {measurement: value} from the subjects table (:func:`read_subjects`); a
    #: trial records its subject's (``subject_measurements``), not in settings()
    subject_values: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, config: dict, source: str = "config", root: str | Path = ".") -> StudyConfig:
        """The config `config` validated (`source` names it in messages), its subjects table
        read from `root` (the study folder, as the sample sheet's path)."""
        if isinstance(config, dict) and isinstance(config.get("kinetics"), dict) \
                and isinstance(config["kinetics"].get("plates"), dict):  # YAML reads `1: R` with an int key
            config = {**config, "kinetics": {**config["kinetics"],
                                             "plates": {str(k): v for k, v in config["kinetics"]["plates"].items()}}}
        full = validate_config(config, source)
        # measure_defaults written into each measure: the measures section is then the whole
        # of what a trial's measures depend on (its settings, a rerun's comparison)
        full["measures"] = apply_measure_defaults(full.get("measures"), full.pop("measure_defaults", None))
        # the chain's defaults live in ChainOptions; filled in here, so that the settings a
        # trial records (and a rerun compares) are the ones its solver used
        full["kinematics"]["chain"] = asdict(ChainOptions(**full["kinematics"]["chain"]))
        _check_measures(full, source)
        table = full.get("subjects")
        values = read_subjects(Path(root) / table, f"{source}: subjects") if table else {}
        return cls(**{k: full.get(k) for k in ("study", "trials", *SECTIONS)}, source=source,
                   trials_per_job=int(full["trials_per_job"]), subjects=table, subject_values=values)

    @classmethod
    def defaults(cls) -> StudyConfig:
        """Every default (a study without a config file of its own)."""
        return cls.from_dict({"study": "study", "trials": "-"}, "defaults")

    @classmethod
    def load(cls, path: str | Path) -> StudyConfig:
        """Read and validate a YAML config file (``STUDY/config/config.yaml``: its subjects
        table is read relative to STUDY, as ``chainlab study`` reads its sample sheet)."""
        return cls.from_dict(load_yaml(path) or {}, str(path), Path(path).resolve().parent.parent)

    def with_subjects(self, table: str | Path | None) -> StudyConfig:
        """This config with the subjects table `table` (a path as given: ``chainlab trial(s)
        --subjects``) in place of its own; unchanged for None."""
        if table is None:
            return self
        return dataclasses.replace(self, subjects=str(table), subject_values=read_subjects(table, "--subjects"))

    def subject_measurements(self, subject: str) -> dict[str, float]:
        """The measurements the subjects table gives `subject` (empty: none)."""
        return dict(self.subject_values.get(subject, {}))

    def results_dir(self, root: str | Path = "results") -> Path:
        """``root/<study>``, refused unless it is a folder inside `root` (the study's name is
        checked by the schema; this holds even if that check were loosened)."""
        out = Path(root) / self.study
        if self.study in ("", ".", "..") or out.parent != Path(root) or Path(self.study).name != self.study:
            raise ConfigError(f"{self.source}: study: {self.study!r} would put the outputs outside {root}/; "
                              "expected a plain name (letters, digits, _ . -, not starting with a dot)")
        return out

    def settings(self, *sections: str) -> str:
        """The named sections as canonical JSON: what a workflow step depends on (its params)
        and what it is given (``--settings``)."""
        return json.dumps({s: getattr(self, s) for s in sections}, sort_keys=True, separators=(",", ":"))

    def kinematics_options(self, subject: str | None = None) -> KinematicsOptions:
        """The kinematics' options; with `subject`, its measurements from the subjects table
        (the 'config' source of :func:`chainlab.model.measurements.resolve`)."""
        k = self.kinematics
        chain = k.get("chain") or {}
        return KinematicsOptions(
            models=tuple(k["models"]), progression=k["progression"], flat_foot=k["flat_foot"],
            partial=bool(k["partial"]) and not k["strict"], solver=k["solver"],
            chain=ChainOptions(**chain), subject=self.subject_measurements(subject) if subject else {},
        )

    def kinetics_options(self, plates: str = "", where: str = "sample sheet"):
        """The kinetics' options of a trial (its sheet row's `plates` over the config's), or
        None when ``kinetics.enabled`` is false. ConfigError for a bad `plates`."""
        if not self.kinetics.get("enabled", True):
            return None
        try:
            return kinetics_options(self.kinetics, plates, where)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def plate_event_options(self):
        g = self.gait
        return PlateEventOptions(strike_threshold=g["strike_threshold_N"], off_threshold=g["off_threshold_N"],
                                 cutoff_hz=g["cutoff_Hz"])


def _check_measures(full: dict, source: str) -> None:
    """The measures' and tests' rules the schema cannot say (unique names, a side in the
    output's name, a test of a measure that is not defined), as ConfigError. An output no trial
    has is refused at the trial, naming the outputs it has (chainlab.pipeline)."""
    try:
        measures = parse_measures(full.get("measures"), where=f"{source}: measures")
        # without measures (a statistics step's --settings) the tests meet the store's at run time
        parse_tests(full.get("tests"), [m.name for m in measures] if measures else None, where=f"{source}: tests")
    except ValueError as exc:
        raise ConfigError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None


def _unique_json_object(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"--settings: key(s) {dup} given twice")
    return dict(pairs)


def settings_from(value: str | None, sections: tuple[str, ...] = SECTIONS) -> StudyConfig:
    """A config from a command's ``--settings``: JSON of some sections (as the workflow passes
    them), a YAML config file, or nothing (every default)."""
    if not value:
        return StudyConfig.defaults()
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text, object_pairs_hook=_unique_json_object)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--settings: not valid JSON ({exc})") from None
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(f"--settings: unknown section(s) {unknown}; allowed: {list(sections)}")
        return StudyConfig.from_dict({"study": "study", "trials": "-", **data}, "--settings")
    return StudyConfig.load(text)


def _sheet_lines(path: Path, what: str = "sample sheet", expected: str = "") -> tuple[
        int, list[str], list[tuple[int, list[str]]]]:
    """The sheet's header line number and cells, and its rows as (line number, cells): cells
    trimmed, blank lines and whole-line comments (first non-blank character ``#``) skipped,
    so a ``#`` inside a cell (a path) is kept and line numbers are the file's own. `what` names
    the file in the messages (a sample sheet, the subjects table), `expected` its layout."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    expected = expected or ("expected a tab-separated header line " + "\t".join(SHEET_COLUMNS)
                            + " and one row per trial")
    if not data.strip():
        raise ConfigError(f"{path}: the {what} is empty ({len(data)} bytes); {expected}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"{path}: the {what} has only comments and blank lines; {expected}")
    try:
        cells = [(n, [c.strip() for c in next(csv.reader([line], delimiter="\t"))]) for n, line in lines]
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a tab-separated {what} ({exc})") from None
    (header_line, header), rows = cells[0], cells[1:]
    return header_line, header, rows


def read_sheet(path: str | Path):
    """The sample sheet (TSV) as a pandas DataFrame of strings, every row checked.

    Cells are trimmed; blank lines and whole-line comments (``#`` as the first non-blank
    character) are skipped, a ``#`` inside a cell is kept. Names (subject, condition, trial)
    must match the trials schema's pattern in full. A relative capture path is relative to the
    sheet's own folder (docs/workflow.md, "Paths in a sample sheet"); it is returned joined to
    the sheet's path as given, so a sheet read as ``config/trials.tsv`` gives ``data/...`` for
    ``../data/...`` (relative to the current folder, as the workflow wants its inputs), and
    absolute paths stay as written. Raises :class:`ConfigError` naming the file, the line
    (as an editor numbers it, comments counted) and the column of every problem.
    """
    import pandas as pd  # the sheet's table (pandas imports numpy: kept out of the module's import)

    path = Path(path)
    header_line, header, rows = _sheet_lines(path)
    missing = [c for c in SHEET_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{path}: line {header_line}: columns {missing} missing; expected tab-separated columns "
                          f"{list(SHEET_COLUMNS)}, found {header}")
    unknown = [c for c in header if c not in SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS]
    if unknown:
        raise ConfigError(f"{path}: line {header_line}: unknown column(s) {unknown}; "
                          f"allowed: {list(SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS)}")
    if not rows:
        raise ConfigError(f"{path}: no trials: the header (line {header_line}) is followed by no row; "
                          "expected one row per dynamic trial")
    validator = row_validator()
    problems, records = [], []
    for line, cells in rows:
        if len(cells) > len(header):
            problems.append(f"line {line}: {len(cells)} tab-separated cells, the header has {len(header)}")
            cells = cells[: len(header)]
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        records.append(row)
        where = f"line {line} (trial {row['trial'] or '?'})"
        problems += [f"{where}: column {c!r} is empty" for c in SHEET_COLUMNS if not row[c] and c not in MAY_BE_EMPTY]
        for e in validator.iter_errors({k: v for k, v in row.items() if v}):
            if e.validator != "required":  # empty cells, said above
                problems.append(f"{where}: column {_where(e.absolute_path)!r}: {e.message}")
    counts = Counter(r["trial"] for r in records if r["trial"])
    dup = sorted(t for t, n in counts.items() if n > 1)
    if dup:
        problems.append(f"trial ids {dup} appear more than once (each names its output files)")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    sheet = pd.DataFrame(records, columns=header, dtype=str)
    for c in ("static", "dynamic"):  # relative to the sheet's folder (normpath: "config/../data" -> "data")
        sheet[c] = [p if not p or os.path.isabs(p) else os.path.normpath(os.path.join(path.parent, p))
                    for p in sheet[c]]  # an empty static cell stays empty
    return sheet


SUBJECTS_EXPECTED = ("expected a tab-separated header line with subject and Nexus' measurement names (e.g. "
                     "subject\tBodymass\tLLegLength\tRLegLength) and one row per subject")


def read_subjects(path: str | Path, where: str = "subjects") -> dict[str, dict[str, float]]:
    """The subjects table (TSV): subject -> {measurement: value}, the values in Nexus' units
    (:mod:`chainlab.subject_values`), an empty cell not given. Read as a sample sheet is
    (cells trimmed, ``#`` comment lines and blank lines skipped); :class:`ConfigError` naming
    `where`, the file, and for each problem the line, the subject, the column, the value and
    what was expected (a column no model reads with the name it likely meant; a value that is
    not a number or lies outside its human range, an offset typed in degrees with its radians)."""
    path = Path(path)
    header_line, header, rows = _sheet_lines(path, "subjects table", SUBJECTS_EXPECTED)
    head = f"{where}: {path}"
    if "subject" not in header:
        raise ConfigError(f"{head}: line {header_line}: no column 'subject'; {SUBJECTS_EXPECTED}, found {header}")
    columns = [c for c in header if c != "subject"]
    twice = sorted(c for c in set(header) if header.count(c) > 1)
    problems = [f"line {header_line}: column(s) {twice} given twice"] if twice else []
    if text := unknown_names(columns):
        problems.append(f"line {header_line}: column(s) {text}")
    pattern = schema("trials")["properties"]["subject"]["pattern"].removeprefix("^").removesuffix("$")
    out: dict[str, dict[str, float]] = {}
    for line, cells in rows:
        if len(cells) > len(header):
            problems.append(f"line {line}: {len(cells)} tab-separated cells, the header has {len(header)}")
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        subject = row.pop("subject")
        if not re.fullmatch(pattern, subject):
            problems.append(f"line {line}: subject {subject!r} is not a subject id (letters, digits, _ . -; "
                            "as in the sample sheet)")
            continue
        if subject in out:
            problems.append(f"line {line}: subject {subject} given again (one row per subject)")
            continue
        values, bad = check_values({k: v for k, v in row.items() if v and k in SUBJECT_NAMES})  # unknown: said above
        problems += [f"line {line} (subject {subject}): {b}" for b in bad]
        out[subject] = values
    if problems:
        raise ConfigError(f"{head}: " + "; ".join(problems))
    return out


def subjects_not_in_sheet(config: StudyConfig, sheet) -> str:
    """A warning naming the subjects of `config`'s subjects table that no row of `sheet` has
    ('' when none, or without a table): their values are used by no trial."""
    extra = sorted(set(config.subject_values) - set(sheet.subject))
    if not extra:
        return ""
    return (f"{config.subjects}: subject(s) {', '.join(extra)} not in the sample sheet {config.trials}; "
            "their measurements are used by no trial")


def read_rows(text: str) -> list[dict]:
    """Sample-sheet rows given as JSON (a list of objects with the sheet's columns, as the
    workflow passes a batch to ``chainlab trials --rows``), each checked against the trials
    schema as :func:`read_sheet` checks a sheet's; :class:`ConfigError` naming every problem."""
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--rows: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError("--rows: expected a JSON list of objects with keys " + ", ".join(SHEET_COLUMNS))
    validator = row_validator()
    problems = []
    for i, r in enumerate(rows, 1):
        extra = sorted(set(r) - set(SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS))
        if extra:
            problems.append(f"row {i}: unknown key(s) {extra}; allowed: {list(SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS)}")
        problems += [f"row {i} (trial {r.get('trial', '?')}): {'.'.join(map(str, e.absolute_path)) or 'row'}: "
                     f"{e.message}" for e in validator.iter_errors(r)]
    counts = Counter(str(r.get("trial")) for r in rows)
    dup = sorted(t for t, c in counts.items() if c > 1)
    if dup:
        problems.append(f"trial ids {dup} appear more than once (each names its output file)")
    if problems:
        raise ConfigError("--rows: " + "; ".join(problems))
    return rows


def sheet_records(sheet) -> list[dict]:
    """The sheet's rows as dicts of its columns (:data:`SHEET_COLUMNS` and the optional ones
    it has), as ``chainlab trials --rows`` takes them."""
    return sheet[[c for c in SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS if c in sheet.columns]].to_dict("records")


def select_rows(rows: list[dict], only: list[str] | None) -> list[dict]:
    """The rows of the trials `only` names (all without), in their order; ConfigError for a
    name not among them."""
    if not only:
        return rows
    unknown = sorted(set(only) - {r["trial"] for r in rows})
    if unknown:
        raise ConfigError(f"--only: trial(s) {unknown} not among the {len(rows)} rows")
    return [r for r in rows if r["trial"] in set(only)]


def batch_rows(rows: list[dict], batch: int | None, size: int | None) -> list[dict]:
    """The `batch`-th run of `size` consecutive rows (1 is the first: rows (K-1)*N+1 to K*N, the
    workflow's job), all rows when neither is given; ConfigError naming the batches otherwise."""
    if batch is None and size is None:
        return rows
    if batch is None or size is None or batch < 1 or size < 1:
        raise ConfigError("--batch K and --batch-size N go together, both 1 or more (rows (K-1)*N+1 to K*N)")
    if (batch - 1) * size >= len(rows):
        raise ConfigError(f"--batch {batch}: the {len(rows)} rows make {-(-len(rows) // size)} batch(es) of {size}")
    return rows[(batch - 1) * size : batch * size]
