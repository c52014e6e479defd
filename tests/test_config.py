"""The study config and sample sheet: schema defaults, the options each stage gets, and
messages that name the file, the key or line, what was found and what was allowed."""

from __future__ import annotations

import json

import pytest

from chainlab.config import ConfigError, StudyConfig, read_sheet, settings_from, validate_config
from chainlab.options import DEFAULT_SLIDES

from .conftest import ROOT


def test_the_shipped_config_and_sheet_are_valid():
    cfg = StudyConfig.load(ROOT / "config" / "config.yaml")
    sheet = read_sheet(ROOT / cfg.trials)
    assert cfg.study == "default" and len(sheet) == 12 and sheet.subject.nunique() == 6
    assert all((ROOT / p).is_file() for p in sheet.static.tolist() + sheet.dynamic.tolist())


def test_defaults_are_filled_and_reach_the_stages():
    cfg = StudyConfig.from_dict({"study": "s", "trials": "t.tsv"})
    assert cfg.statistics == {"permutations": 2000, "alpha": 0.05, "seed": 0}
    opt = cfg.kinematics_options()
    assert opt.solver == "direct" and tuple(opt.models) == ("pig", "ofm", "trunk", "lumbar")
    assert opt.chain.slides == DEFAULT_SLIDES and opt.chain.template == "trial"  # the chain's own defaults
    plates = cfg.plate_event_options()
    assert (plates.strike_threshold, plates.off_threshold, plates.cutoff_hz) == (20.0, 10.0, 25.0)
    given = StudyConfig.from_dict({"study": "s", "trials": "t.tsv", "gait": {"strike_threshold_N": 30},
                                   "kinematics": {"solver": "global", "chain": {"slides": {}, "dofs": {"knee": "y"}}}})
    assert given.plate_event_options().strike_threshold == 30 and given.gait["off_threshold_N"] == 10
    assert given.kinematics_options().chain.slides == {} and given.kinematics_options().chain.dofs == {"knee": "y"}


def test_trials_per_job_is_not_a_setting_of_the_results():
    """The workflow's batch size (default 20) is kept out of every step's settings, so that
    changing it alone changes no rule's settings parameter."""
    a = StudyConfig.from_dict({"study": "s", "trials": "t"})
    b = StudyConfig.from_dict({"study": "s", "trials": "t", "trials_per_job": 3})
    assert (a.trials_per_job, b.trials_per_job) == (20, 3)
    assert a.settings("kinematics", "gait", "statistics", "figures") == b.settings("kinematics", "gait", "statistics",
                                                                                   "figures")
    assert StudyConfig.from_dict({"study": "s", "trials": "t", "trials_per_job": 4.0}).trials_per_job == 4  # YAML 4.0


def test_settings_are_canonical_json_of_the_sections():
    a = StudyConfig.from_dict({"study": "s", "trials": "t", "statistics": {"seed": 1, "alpha": 0.01}})
    b = StudyConfig.from_dict({"study": "other", "trials": "u", "statistics": {"alpha": 0.01, "seed": 1}})
    assert a.settings("statistics") == b.settings("statistics")  # key order and other sections aside
    assert json.loads(a.settings("statistics", "gait"))["statistics"]["permutations"] == 2000
    assert settings_from(a.settings("statistics")).statistics == a.statistics
    with pytest.raises(ConfigError, match=r"--settings: unknown section\(s\) \['study'\]"):
        settings_from('{"study": "x"}')


@pytest.mark.parametrize("config, message", [
    ({"study": "s"}, "(top level): 'trials' is a required property"),
    ({"study": "a b", "trials": "t"}, "study: 'a b' does not match"),
    ({"study": "s", "trials": "t", "statistics": {"permutations": 50}},
     "statistics.permutations: 50 is less than the minimum of 100"),
    ({"study": "s", "trials": "t", "statistics": {"permutation": 500}},
     "statistics: unknown key(s) ['permutation']; allowed: ['alpha', 'permutations', 'seed']"),
    ({"study": "s", "trials": "t", "kinematics": {"solver": "glob"}},
     "kinematics.solver: 'glob' is not one of ['direct', 'global']"),
    ({"study": "s", "trials": "t", "figures": {"formats": ["png"]}}, "figures.formats.0: 'png' is not one of"),
    (["study"], "expected a mapping of keys"),
    ({"study": "s", "trials": "t", "trials_per_job": 0}, "trials_per_job: 0 is less than the minimum of 1"),
    ({"study": "s", "trials": "t", "trials_per_job": "ten"}, "trials_per_job: 'ten' is not of type 'integer'"),
    ({"study": "s", "trials": "t", "trials_per_job": 2.5}, "trials_per_job: 2.5 is not of type 'integer'"),
])
def test_config_mistakes_are_named(config, message):
    with pytest.raises(ConfigError) as err:
        validate_config(config, "config/config.yaml")
    assert str(err.value).startswith("config/config.yaml: ") and message in str(err.value)


def test_sheet_mistakes_are_named_by_line_and_column(tmp_path):
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("subject\tcondition\ttrial\tstatic\tdynamic\n"
                     "A\tc\tt1\ts.c3d\td.c3d\n"
                     "A\t\tt 2\ts.c3d\td.c3d\n"
                     "A\tc\tt1\ts.c3d\t\n")
    with pytest.raises(ConfigError) as err:
        read_sheet(sheet)
    text = str(err.value)
    assert text.startswith(f"{sheet}: ")
    assert "line 3 (trial t 2): column 'condition' is empty" in text
    assert "line 3 (trial t 2): column 'trial': 't 2' does not match" in text
    assert "line 4 (trial t1): column 'dynamic' is empty" in text
    assert "trial ids ['t1'] appear more than once" in text
    sheet.write_text("subject\ttrial\n")
    with pytest.raises(ConfigError, match=r"columns \['condition', 'static', 'dynamic'\] missing"):
        read_sheet(sheet)
    with pytest.raises(ConfigError, match="sample sheet not found"):
        read_sheet(tmp_path / "nothere.tsv")


def test_a_config_file_that_is_not_yaml_is_named(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("study: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{p}: not valid YAML"):
        StudyConfig.load(p)


HEADER = "subject\tcondition\ttrial\tstatic\tdynamic\n"


def test_sheet_cells_are_trimmed_and_only_whole_lines_are_comments(tmp_path):
    """`HC030A ` is HC030A (not a second subject), `Straight ` is Straight, a `#` inside a path
    is part of it, and a line starting with `#` (after blanks) is a comment."""
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("# the pilot\n" + HEADER
                     + " HC030A \tStraight \tT1\ts.c3d\tfx/hash#dir/x.c3d \n"
                     + "   # T2 left out: marker dropout\n\n"
                     + "HC030A\tStraight\tT3\ts.c3d\td#3.c3d\n")
    rows = read_sheet(sheet)
    assert list(rows.trial) == ["T1", "T3"]
    assert set(rows.subject) == {"HC030A"} and set(rows.condition) == {"Straight"}
    assert list(rows.dynamic) == [str(tmp_path / "fx/hash#dir/x.c3d"), str(tmp_path / "d#3.c3d")]  # sheet-relative


def test_sheet_line_numbers_count_comment_lines(tmp_path):
    sheet = tmp_path / "trials.tsv"
    sheet.write_text("# a comment\n# another\n" + HEADER + "A\tc\tT1\ts.c3d\td.c3d\n# dropped\nA\tc\t\ts.c3d\td.c3d\n")
    with pytest.raises(ConfigError, match=r"line 6 \(trial \?\): column 'trial' is empty"):
        read_sheet(sheet)
    sheet.write_text("# a comment\nsubject\ttrial\n")
    with pytest.raises(ConfigError, match=r"line 2: columns \['condition', 'static', 'dynamic'\] missing"):
        read_sheet(sheet)


@pytest.mark.parametrize("column, value", [
    ("trial", "."), ("trial", ".."), ("trial", ".hidden"), ("trial", "a/b"), ("trial", "a\\b"),
    ("trial", "T1\\n"), ("subject", "../S01"), ("subject", "S 01"), ("condition", "wedge;ls"),
    ("condition", "$(ls)"),
])
def test_sheet_names_are_refused_unless_they_match_in_full(tmp_path, column, value):
    """Names reach paths and commands: a separator, a leading dot ("." and ".." too), a blank,
    shell characters or a newline (a trailing one too, which `^...$` would accept) are refused."""
    cells = {"subject": "S01", "condition": "c", "trial": "T1", "static": "s.c3d", "dynamic": "d.c3d"}
    cells[column] = value.replace("\\n", "\n")
    row = "\t".join(f'"{v}"' if "\n" in v else v for v in cells.values())
    sheet = tmp_path / "trials.tsv"
    sheet.write_text(HEADER + row + "\n")
    with pytest.raises(ConfigError, match=f"{sheet}: line 2"):
        read_sheet(sheet)
    assert validate_config({"study": "s", "trials": "t"})["study"] == "s"
    with pytest.raises(ConfigError, match="study: .* does not match"):
        validate_config({"study": value.replace("\\n", "\n"), "trials": "t"})


def test_the_study_folder_stays_inside_the_results_root():
    assert StudyConfig.from_dict({"study": "pilot.v2", "trials": "t"}).results_dir("results").as_posix() == \
        "results/pilot.v2"
    for name in ("..", ".", "a/b", "/tmp/x", "nls\n"):
        with pytest.raises(ConfigError, match="study"):
            StudyConfig.from_dict({"study": name, "trials": "t"})
    import dataclasses

    loose = dataclasses.replace(StudyConfig.defaults(), study="..")  # as if the schema were loosened
    with pytest.raises(ConfigError, match=r"study: '\.\.' would put the outputs outside results/"):
        loose.results_dir("results")


def test_empty_sheets_are_named_at_validation(tmp_path):
    sheet = tmp_path / "trials.tsv"
    sheet.write_bytes(b"")
    with pytest.raises(ConfigError, match=rf"{sheet}: the sample sheet is empty \(0 bytes\); expected a tab"):
        read_sheet(sheet)
    sheet.write_text(HEADER)
    with pytest.raises(ConfigError, match=rf"{sheet}: no trials: the header \(line 1\) is followed by no row"):
        read_sheet(sheet)
    sheet.write_text("# nothing yet\n\n")
    with pytest.raises(ConfigError, match="only comments and blank lines"):
        read_sheet(sheet)
    sheet.write_bytes(HEADER.encode() + b"S\tc\tT\ts.c3d\t\xff.c3d\n")
    with pytest.raises(ConfigError, match=rf"{sheet}: line 2: not UTF-8"):
        read_sheet(sheet)


@pytest.mark.parametrize("text, message", [
    ("statistics:\n  alpha: .nan\n", "statistics.alpha: nan is not a finite number; allowed: 0 < value < 0.5"),
    ("gait:\n  cutoff_Hz: .inf\n", "gait.cutoff_Hz: inf is not a finite number; allowed: 0 < value"),
    ("gait:\n  strike_threshold_N: -.inf\n", "gait.strike_threshold_N: -inf is not a finite number; allowed: 0 < value"),
    ("statistics:\n  alpha: 0.7\n", "statistics.alpha: 0.7 is greater than or equal to the maximum of 0.5; "
                                    "allowed: 0 < value < 0.5"),
    ("kinematics:\n  chain:\n    weights: {LASI: .nan}\n", "kinematics.chain.weights.LASI: nan is not a finite number"),
    ("kinematics:\n  chain:\n    dofs: {knee: \"y\\n\"}\n", "kinematics.chain.dofs.knee: 'y\\n' does not match"),
])
def test_non_finite_and_out_of_range_values_name_the_key_and_range(tmp_path, text, message):
    p = tmp_path / "config.yaml"
    p.write_text("study: s\ntrials: t.tsv\n" + text)
    with pytest.raises(ConfigError) as err:
        StudyConfig.load(p)
    assert str(err.value).startswith(f"{p}: ") and message in str(err.value), str(err.value)


def test_a_key_given_twice_is_refused_naming_it_and_its_lines(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("study: s\ntrials: t.tsv\nstatistics:\n  alpha: 0.01\n  seed: 1\n  alpha: 0.05\n")
    with pytest.raises(ConfigError, match=r"key 'alpha' given twice \(lines 4 and 6\)"):
        StudyConfig.load(p)
    with pytest.raises(ConfigError, match=r"--settings: key\(s\) \['gait'\] given twice"):
        settings_from('{"gait": {}, "gait": {"cutoff_Hz": 6}}')


def _table(tmp_path, text: str, name: str = "subjects.tsv"):
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config" / name).write_text(text)
    return {"study": "s", "trials": "config/trials.tsv", "subjects": f"config/{name}"}


def test_a_subjects_table_gives_each_subject_its_measurements(tmp_path):
    """Read relative to the study folder (as the sheet), comments and blank lines skipped, an
    empty cell not given; the values reach the subject's kinematics options alone; a YAML
    config is read relative to the folder above its own."""
    cfg = _table(tmp_path, "# measurements of the study's subjects (Nexus' units)\n"
                           "subject\tBodymass\tLLegLength\tLTibialTorsion\tInterAsisDistance\n\n"
                           "S01\t70.5\t880\t-0.3\t0\nS02\t\t 910 \t\t\n")
    c = StudyConfig.from_dict(cfg, "config.yaml", tmp_path)
    assert c.subject_values == {"S01": {"Bodymass": 70.5, "LLegLength": 880.0, "LTibialTorsion": -0.3,
                                        "InterAsisDistance": 0.0}, "S02": {"LLegLength": 910.0}}
    assert dict(c.kinematics_options("S02").subject) == {"LLegLength": 910.0}
    assert dict(c.kinematics_options("S03").subject) == {} == dict(c.kinematics_options().subject)
    (tmp_path / "config" / "config.yaml").write_text(json.dumps(cfg))
    assert StudyConfig.load(tmp_path / "config" / "config.yaml").subject_values == c.subject_values
    assert "subjects" not in c.settings("kinematics")  # a trial records its own subject's values instead


@pytest.mark.parametrize("text, said", [
    # a name no model reads: refused with the one it likely meant, as --subject's
    ("subject\tLLegLenght\nS01\t880\n", ["subjects.tsv: line 1: column(s) LLegLenght (did you mean LLegLength?): "
                                         "not a measurement the models read"]),
    # an offset typed in degrees: the file, line, subject, column, value, range, unit and its radians
    ("subject\tRTibialTorsion\nS01\t-15\n",
     ["subjects.tsv: line 2 (subject S01): RTibialTorsion = -15 is outside -1..1 rad",
      "the offsets are radians, as Nexus stores them (-15 deg would be -0.2618 rad)"]),
    ("subject\tBodymass\tLKneeWidth\n# kg, mm\nS01\t70\t10.5\n",
     ["line 3 (subject S01): LKneeWidth = 10.5 is outside 50..200 mm (knee width"]),
    ("subject\tBodymass\nS01\t70,5\nS02\tnan\n", ["line 2 (subject S01): Bodymass = '70,5': not a number; expected kg",
                                                   "line 3 (subject S02): Bodymass = nan: not a finite number (kg)"]),
    ("subject\tBodymass\nS01\t70\nS01\t71\n", ["line 3: subject S01 given again (one row per subject)"]),
    ("Subject\tBodymass\nS01\t70\n", ["line 1: no column 'subject'"]),
    ("subject\tBodymass\n../x\t70\n", ["line 2: subject '../x' is not a subject id"]),
])
def test_a_bad_subjects_table_is_refused_naming_what_is_wrong(tmp_path, text, said):
    with pytest.raises(ConfigError) as err:
        StudyConfig.from_dict(_table(tmp_path, text), "config.yaml", tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"config.yaml: subjects: {tmp_path / 'config' / 'subjects.tsv'}"), msg
    for part in said:
        assert part in msg, msg


def test_a_missing_subjects_table_and_subjects_not_in_the_sheet(tmp_path):
    from chainlab.config import subjects_not_in_sheet

    with pytest.raises(ConfigError, match="subjects.tsv: subjects table not found"):
        StudyConfig.from_dict({"study": "s", "trials": "t", "subjects": "config/subjects.tsv"}, "c", tmp_path)
    c = StudyConfig.from_dict(_table(tmp_path, "subject\tBodymass\nS01\t70\nS09\t80\n"), "c", tmp_path)
    (tmp_path / "config" / "trials.tsv").write_text("subject\tcondition\ttrial\tstatic\tdynamic\n"
                                                   "S01\tc\tT1\ts.c3d\td.c3d\n")
    sheet = read_sheet(tmp_path / "config" / "trials.tsv")
    assert subjects_not_in_sheet(c, sheet) == ("config/subjects.tsv: subject(s) S09 not in the sample sheet "
                                               "config/trials.tsv; their measurements are used by no trial")
    assert subjects_not_in_sheet(StudyConfig.from_dict({"study": "s", "trials": "t"}), sheet) == ""
