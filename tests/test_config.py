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
    assert cfg.study == "default" and len(sheet) == 6
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
