"""`chainlab new`: a study folder scaffolded from a tree of captures (chainlab.scaffold), and
the one rule for a sample sheet's paths (relative to the sheet's folder) across commands."""

from __future__ import annotations

import shutil
import warnings

import pandas as pd
import pytest
import yaml

from chainlab.cli import main
from chainlab.config import SECTIONS, StudyConfig, read_sheet
from chainlab.scaffold import config_text, discover, new_study

from ._workflow import run_snakemake, snakemake_or_skip
from .conftest import EMBEDDED3, FIXTURES, ROOT, STUDY

BAD = "c3dorg_sample18_bad_parameter_section.c3d"  # its LABELS run past the parameter section


def nexus_tree(raw):
    """data/biomechzoo's three subjects as Nexus lays them out (subject/session/trial.c3d),
    with a truncated capture, a fixture whose parameters are broken, and a note."""
    for subject in EMBEDDED3:
        shutil.copytree(STUDY / subject, raw / subject)
    (raw / "HC033A" / "Turn" / "HC033A99.c3d").write_bytes((STUDY / "HC033A/Turn/HC033A22.c3d").read_bytes()[:20_000])
    shutil.copy(FIXTURES / BAD, raw / "HC030A" / "Straight" / BAD)
    (raw / "HC030A" / "notes.txt").write_text("session notes\n")
    return raw


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    d = tmp_path_factory.mktemp("new")
    raw = nexus_tree(d / "captures")
    return new_study(d / "my_study", raw), raw


def test_subjects_conditions_and_statics_from_a_nexus_tree(scaffolded):
    made, raw = scaffolded
    sheet = read_sheet(made.sheet)  # validates as the workflow reads it
    assert sorted(sheet.subject.unique()) == ["HC002D", "HC030A", "HC033A"]
    assert sorted(sheet.condition.unique()) == ["Straight", "Turn"]
    assert sorted(sheet.trial) == ["HC002D06", "HC002D25", "HC030A05", "HC030A22", "HC033A10", "HC033A22"]
    # each trial takes its own subject's static trial, from the Static folder
    for r in sheet.itertuples():
        assert r.static == str(raw / r.subject / "Static" / next((STUDY / r.subject / "Static").iterdir()).name)
        assert r.dynamic == str(raw / r.subject / r.condition / f"{r.trial}.c3d")
    assert sorted(s.rel.as_posix() for s in made.found.statics) == [
        "HC002D/Static/HC002D02.c3d", "HC030A/Static/HC030A01.c3d", "HC033A/Static/HC033A01.c3d"]
    assert made.found.layout == "subject/session/trial (Nexus)" and made.found.ignored == 1


def test_every_guess_and_every_file_left_out_is_listed(scaffolded):
    made, _ = scaffolded
    text = made.guesses.read_text()
    assert "| HC030A05 | HC030A | Straight | HC030A/Static/HC030A01.c3d | HC030A/Straight/HC030A05.c3d | " \
           "subject and condition from the folders HC030A/Straight |" in text
    assert "| HC033A/Static/HC033A01.c3d | HC033A | in folder 'Static' |" in text
    left = dict(made.found.left_out)
    assert [p.name for p in left] == [BAD, "HC033A99.c3d"]
    reasons = list(left.values())
    assert reasons[0] == "cannot be read: parameter 'LABELS' holds 192 values that run past the parameter section"
    # the first 20,000 bytes: its parameter section cut short
    assert reasons[1] == "cannot be read: parameter 'DESCRIPTIONS' holds 25500 values that run past the parameter section"
    for p, why in made.found.left_out:  # each named once, with its reason
        assert f"| {p.relative_to(made.found.root)} | {why} |" in text
    head = [line for line in made.sheet.read_text().splitlines() if line.startswith("#")]
    assert any("GUESSES.md" in line for line in head) and any("relative to this file's folder" in line for line in head)


def test_the_config_is_complete_and_of_its_own(scaffolded):
    made, _ = scaffolded
    data = yaml.safe_load(made.config.read_text())
    assert data["study"] == "my_study" and data["trials"] == "config/trials.tsv"
    # every section written out, at the defaults a minimal config gets
    assert set(data) >= {"kinematics", "gait", "statistics", "figures", "trials_per_job"}
    full, minimal = StudyConfig.load(made.config), StudyConfig.from_dict({"study": "my_study", "trials": "config/trials.tsv"})
    assert full.settings(*SECTIONS) == minimal.settings(*SECTIONS) and full.trials_per_job == minimal.trials_per_job
    with pytest.raises(Exception, match="already there"):
        new_study(made.folder, made.found.root)
    # Nexus' captures give every measurement: no subjects table, the key at its default
    assert data["subjects"] is None and made.subjects is None and made.lacking == {}
    assert not (made.folder / "config" / "subjects.tsv").exists()


def test_captures_without_measurements_get_a_subjects_table_to_fill(tmp_path, capsys):
    """HC030A's captures with Bodymass removed and HC033A's as Nexus wrote them: `chainlab new`
    writes config/subjects.tsv with a row of empty cells for HC030A alone and names it in the
    config; the study loads as it is, and with the cell filled gives HC030A the body mass."""
    ezc3d = pytest.importorskip("ezc3d")
    raw = tmp_path / "captures"
    for subject in ("HC030A", "HC033A"):
        shutil.copytree(STUDY / subject, raw / subject)
    for capture in (raw / "HC030A").rglob("*.c3d"):
        c = ezc3d.c3d(str(capture))
        del c["parameters"]["PROCESSING"]["Bodymass"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c.write(str(capture))
    assert main(["new", str(tmp_path / "s"), "--captures", str(raw)]) == 0
    out = capsys.readouterr().out
    table = tmp_path / "s" / "config" / "subjects.tsv"
    assert f"1 subject(s) whose captures lack measurements (HC030A): fill {table}" in out
    rows = [line for line in table.read_text().splitlines() if not line.startswith("#")]
    assert rows == ["subject\tBodymass\tHeight\tLLegLength\tRLegLength\tLKneeWidth\tRKneeWidth\tLAnkleWidth"
                    "\tRAnkleWidth", "HC030A" + "\t" * 8]
    assert "Bodymass kg, Height mm, LLegLength mm" in table.read_text()
    assert "| HC030A | Bodymass |" in (tmp_path / "s" / "GUESSES.md").read_text()
    config = tmp_path / "s" / "config" / "config.yaml"
    assert yaml.safe_load(config.read_text())["subjects"] == "config/subjects.tsv"
    assert StudyConfig.load(config).subject_values == {"HC030A": {}}
    table.write_text(table.read_text().replace("HC030A\t", "HC030A\t45.8", 1))
    assert StudyConfig.load(config).kinematics_options("HC030A").subject == {"Bodymass": 45.8}


def test_flat_folder_subject_from_the_capture_and_static_from_the_name(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for src, name in (("HC030A/Static/HC030A01.c3d", "HC030A_Cal01.c3d"),
                      ("HC030A/Straight/HC030A05.c3d", "HC030A_barefoot_05.c3d"),
                      ("HC030A/Turn/HC030A22.c3d", "HC030A_shod_22.c3d"),
                      ("HC033A/Static/HC033A01.c3d", "second static.c3d"),
                      ("HC033A/Straight/HC033A10.c3d", "walk 10.c3d")):
        shutil.copy(STUDY / src, raw / name)
    shutil.copy(FIXTURES / "Gait.c3d", raw / "Gait.c3d")  # no subject named, no static
    found = discover(raw)
    rows = {r["trial"]: (r["subject"], r["condition"], r["static"].name) for r in found.rows}
    assert rows == {"HC030A_barefoot_05": ("HC030A", "barefoot", "HC030A_Cal01.c3d"),
                    "HC030A_shod_22": ("HC030A", "shod", "HC030A_Cal01.c3d"),
                    "walk_10": ("HC033A", "walk", "second static.c3d")}  # subject named in the capture
    assert {s.rel.name: s.static_why for s in found.statics} == {
        "HC030A_Cal01.c3d": "file name 'HC030A_Cal01.c3d'", "second static.c3d": "file name 'second static.c3d'"}
    assert [r["dynamic"].name for r in found.no_static] == ["Gait.c3d"]
    made = new_study(tmp_path / "s", raw)
    assert "\nraw\tGait\tGait\t\t" in made.sheet.read_text()  # the folder as subject; an empty static:
    assert len(read_sheet(made.sheet)) == 4  # the calibration stored in the capture is used
    assert "stored calibration" in made.guesses.read_text()


def test_a_static_guessed_from_its_content_is_said_so(tmp_path):
    """A subject whose captures say nothing: its shortest capture without gait events (HC002D02:
    51 frames, no events) is taken, and the guess says why."""
    raw = tmp_path / "raw" / "P01" / "Session 1"
    raw.mkdir(parents=True)
    shutil.copy(STUDY / "HC002D/Static/HC002D02.c3d", raw / "trial02.c3d")
    shutil.copy(STUDY / "HC002D/Straight/HC002D06.c3d", raw / "trial06.c3d")
    found = discover(tmp_path / "raw")
    assert [(r["subject"], r["condition"], r["trial"], r["static"].name) for r in found.rows] == [
        ("P01", "Session 1", "trial06", "trial02.c3d")]
    assert found.statics[0].static_why.startswith("guessed from its content: no gait events, 51 frames (0.5 s)")


def test_sheet_paths_are_relative_to_the_sheet(tmp_path):
    """The rule for every command: `../x.c3d` in config/trials.tsv is the study folder's x.c3d."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "trials.tsv").write_text(
        "subject\tcondition\ttrial\tstatic\tdynamic\nA\tc\tt1\t../s.c3d\t/abs/d.c3d\n")
    sheet = read_sheet(tmp_path / "config" / "trials.tsv")
    assert sheet.static[0] == str(tmp_path / "s.c3d") and sheet.dynamic[0] == "/abs/d.c3d"
    # the project's own sheet, read as the workflow reads it from the project folder
    import os

    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        default = read_sheet("config/trials.tsv")
    finally:
        os.chdir(cwd)
    assert all(p.startswith("data/biomechzoo/") and (ROOT / p).exists() for p in default.static.tolist() + default.dynamic.tolist())


def test_a_mistake_in_a_scaffolded_sheet_names_its_line(scaffolded, tmp_path):
    made, _ = scaffolded
    sheet = tmp_path / "trials.tsv"
    sheet.write_text(made.sheet.read_text().replace("\tStraight\tHC030A05", "\t\tHC030A05"))
    line = next(i for i, t in enumerate(sheet.read_text().splitlines(), 1) if "\t\tHC030A05" in t)
    with pytest.raises(Exception, match=rf"line {line} \(trial HC030A05\): column 'condition' is empty"):
        read_sheet(sheet)


def test_chainlab_new_prints_what_it_found(tmp_path, capsys):
    raw = nexus_tree(tmp_path / "raw")
    assert main(["new", str(tmp_path / "s"), "--captures", str(raw), "--study", "lab1"]) == 0
    out = capsys.readouterr().out
    assert "6 trial(s) of 3 subject(s) (HC002D, HC030A, HC033A), condition(s) Straight, Turn, 3 static trial(s)" in out
    assert f"left out HC030A/Straight/{BAD}: cannot be read" in out
    assert yaml.safe_load((tmp_path / "s/config/config.yaml").read_text())["study"] == "lab1"
    assert main(["new", str(tmp_path / "s"), "--captures", str(raw)]) == 1
    assert "already there" in capsys.readouterr().err
    assert main(["new", str(tmp_path / "t"), "--captures", str(tmp_path / "nowhere")]) == 1
    assert "not a folder of captures" in capsys.readouterr().err


def test_config_text_is_a_valid_config_for_any_name():
    cfg = StudyConfig.from_dict(yaml.safe_load(config_text("x-1", "sheet.tsv")))
    assert (cfg.study, cfg.trials, cfg.statistics["permutations"]) == ("x-1", "sheet.tsv", 2000)


@pytest.mark.slow
def test_simulate_then_study_on_its_sheet(tmp_path, capsys):
    """`chainlab simulate` writes a study folder whose sheet's paths are relative to the sheet;
    `chainlab study` on it runs every trial (before the rule: every one `cannot open`)."""
    sim = tmp_path / "sim"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["simulate", str(sim), "--static", str(STUDY / "HC030A/Static/HC030A01.c3d"),
                     "--dynamic", str(STUDY / "HC030A/Straight/HC030A05.c3d"), "--subjects", "1", "--trials", "1",
                     "--cycles", "3", "--condition", "control"]) == 0
        assert not pd.read_csv(sim / "trials.tsv", sep="\t").dynamic.str.startswith("/").any()
        capsys.readouterr()
        assert main(["study", str(sim / "config" / "config.yaml"), "--out", str(tmp_path / "results"),
                     "--permutations", "100"]) == 0
    assert "1 trials, " in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "results" / "sim" / "failures.tsv", sep="\t").empty


@pytest.mark.slow
def test_a_scaffolded_study_runs_through_the_workflow_to_its_report(tmp_path):
    """Captures inside the study folder (paths relative to the sheet), a few settings made
    smaller by editing the scaffolded config as a user would; snakemake --directory reads
    that config alone."""
    snakemake_or_skip()
    study = tmp_path / "lab"
    raw = study / "captures"
    raw.mkdir(parents=True)
    for subject in ("HC030A", "HC033A"):
        for session in ("Static", "Straight"):
            shutil.copytree(STUDY / subject / session, raw / subject / session)
    shutil.copy(FIXTURES / BAD, raw / "HC030A" / "Straight" / BAD)
    made = new_study(study, raw)
    assert "\t../captures/HC030A/Static/HC030A01.c3d\t" in made.sheet.read_text()
    cfg = made.config.read_text()
    for old, new in (("permutations: 2000", "permutations: 100"), ('formats: ["html", "json", "svg", "pdf"]',
                                                                   'formats: ["html", "json"]')):
        assert old in cfg
        cfg = cfg.replace(old, new)
    made.config.write_text(cfg)
    run = run_snakemake(study)
    assert run.returncode == 0, run.stderr[-3000:]
    out = study / "results" / "lab"
    assert (out / "report.html").stat().st_size > 0
    assert pd.read_csv(out / "failures.tsv", sep="\t").empty
    metrics = pd.read_csv(out / "metrics.csv")
    assert sorted(metrics.trial.unique()) == ["HC030A05", "HC033A10"]
    assert not (ROOT / "results" / "lab").exists()  # nothing written in the project folder
