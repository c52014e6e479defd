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
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from chainlab.errors import ChainlabError
from chainlab.options import PlateEventOptions

SHEET_COLUMNS = ("subject", "condition", "trial", "static", "dynamic")
#: Columns a sample sheet may have besides :data:`SHEET_COLUMNS` (``plates``: plate-to-foot
#: overrides of the row's trial, ``1=R,2=L``).
OPTIONAL_SHEET_COLUMNS = ("plates",)
SECTIONS = ("kinematics", "gait", "kinetics", "statistics", "figures")
#: The config sections a trial's result depends on (a trial file records their settings).
TRIAL_SECTIONS = ("kinematics", "gait", "kinetics")


class ConfigError(ChainlabError, ValueError):
    """A config or sample sheet that does not follow its schema; the message says where."""


@cache
def schema(name: str) -> dict:
    """The JSON schema ``name`` ("config" or "trials") shipped with the package."""
    import yaml

    text = resources.files("chainlab").joinpath("schemas", f"{name}.schema.yaml").read_text()
    return yaml.safe_load(text)


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


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _message(error, sch: dict) -> str:
    """One line for a jsonschema error: the key, what was found, what was allowed."""
    where = _where(error.absolute_path)
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
    import jsonschema

    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (study: NAME, trials: SHEET.tsv, ...); "
                          f"found {type(config).__name__}")
    sch = schema("config")
    full = _with_defaults(config, sch)
    errors = sorted(jsonschema.Draft202012Validator(sch).iter_errors(full), key=lambda e: list(e.absolute_path))
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
    statistics: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    source: str = "config"
    trials_per_job: int = 20  # the workflow's batch size; not a setting of the results (not in settings())

    @classmethod
    def from_dict(cls, config: dict, source: str = "config") -> StudyConfig:
        from dataclasses import asdict

        from chainlab.model.chain import ChainOptions

        if isinstance(config, dict) and isinstance(config.get("kinetics"), dict) \
                and isinstance(config["kinetics"].get("plates"), dict):  # YAML reads `1: R` with an int key
            config = {**config, "kinetics": {**config["kinetics"],
                                             "plates": {str(k): v for k, v in config["kinetics"]["plates"].items()}}}
        full = validate_config(config, source)
        # the chain's defaults live in ChainOptions; filled in here, so that the settings a
        # trial records (and a rerun compares) are the ones its solver used
        full["kinematics"]["chain"] = asdict(ChainOptions(**full["kinematics"]["chain"]))
        return cls(**{k: full[k] for k in ("study", "trials", *SECTIONS)}, source=source,
                   trials_per_job=int(full["trials_per_job"]))

    @classmethod
    def defaults(cls) -> StudyConfig:
        """Every default (a study without a config file of its own)."""
        return cls.from_dict({"study": "study", "trials": "-"}, "defaults")

    @classmethod
    def load(cls, path: str | Path) -> StudyConfig:
        """Read and validate a YAML config file."""
        import yaml

        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        return cls.from_dict(data, str(path))

    def settings(self, *sections: str) -> str:
        """The named sections as canonical JSON: what a workflow step depends on (its params)
        and what it is given (``--settings``)."""
        return json.dumps({s: getattr(self, s) for s in sections}, sort_keys=True, separators=(",", ":"))

    def kinematics_options(self):
        from chainlab.kinematics import KinematicsOptions
        from chainlab.model.chain import ChainOptions

        k = self.kinematics
        chain = k.get("chain") or {}
        return KinematicsOptions(
            models=tuple(k["models"]), progression=k["progression"], flat_foot=k["flat_foot"],
            partial=k["partial"], solver=k["solver"],
            chain=ChainOptions(**chain),
        )

    def kinetics_options(self, plates: str = "", where: str = "sample sheet"):
        """The kinetics' options of a trial (its sheet row's `plates` over the config's), or
        None when ``kinetics.enabled`` is false. ConfigError for a bad `plates`."""
        from chainlab.kinetics.trial import kinetics_options

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


def settings_from(value: str | None, sections: tuple[str, ...] = SECTIONS) -> StudyConfig:
    """A config from a command's ``--settings``: JSON of some sections (as the workflow passes
    them), a YAML config file, or nothing (every default)."""
    if not value:
        return StudyConfig.defaults()
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--settings: not valid JSON ({exc})") from None
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(f"--settings: unknown section(s) {unknown}; allowed: {list(sections)}")
        return StudyConfig.from_dict({"study": "study", "trials": "-", **data}, "--settings")
    return StudyConfig.load(text)


def read_sheet(path: str | Path) -> pd.DataFrame:
    """The sample sheet (TSV), every row checked against the trials schema.

    Paths stay as written (relative ones are relative to the project folder). Raises
    :class:`ConfigError` naming the file, the line and the column of every problem.
    """
    import jsonschema

    path = Path(path)
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except FileNotFoundError:
        raise ConfigError(f"{path}: sample sheet not found") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a tab-separated sample sheet ({exc})") from None
    missing = [c for c in SHEET_COLUMNS if c not in sheet.columns]
    if missing:
        raise ConfigError(f"{path}: columns {missing} missing; expected tab-separated columns "
                          f"{list(SHEET_COLUMNS)}, found {list(sheet.columns)}")
    unknown = [c for c in sheet.columns if c not in SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS]
    if unknown:
        raise ConfigError(f"{path}: unknown column(s) {unknown}; allowed: {list(SHEET_COLUMNS + OPTIONAL_SHEET_COLUMNS)}")
    validator = jsonschema.Draft202012Validator(schema("trials"))
    problems = []
    for i, row in enumerate(sheet.to_dict("records")):
        line = i + 2  # the header is line 1 (comment lines aside)
        empty = [c for c in SHEET_COLUMNS if not row[c].strip()]
        problems += [f"line {line} (trial {row['trial'] or '?'}): column {c!r} is empty" for c in empty]
        for e in validator.iter_errors({k: v for k, v in row.items() if v.strip()}):
            if e.validator != "required":  # empty cells, said above
                problems.append(f"line {line} (trial {row['trial'] or '?'}): column "
                                f"{_where(e.absolute_path)!r}: {e.message}")
    dup = sorted(set(sheet.trial[sheet.trial.duplicated() & (sheet.trial != "")]))
    if dup:
        problems.append(f"trial ids {dup} appear more than once (each names its output files)")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return sheet


def read_rows(text: str) -> list[dict]:
    """Sample-sheet rows given as JSON (a list of objects with the sheet's columns, as the
    workflow passes a batch to ``chainlab trials --rows``), each checked against the trials
    schema as :func:`read_sheet` checks a sheet's; :class:`ConfigError` naming every problem."""
    from collections import Counter

    import jsonschema

    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--rows: not valid JSON ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError("--rows: expected a JSON list of objects with keys " + ", ".join(SHEET_COLUMNS))
    validator = jsonschema.Draft202012Validator(schema("trials"))
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


def sheet_records(sheet: pd.DataFrame) -> list[dict]:
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
