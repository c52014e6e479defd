"""The Snakemake workflow end to end on a tiny study: two real walks, a synthetic trial, a
broken capture and a missing one."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal

import numpy as np
import pandas as pd
import pytest

from chainlab.figures import FIGURES, find_browser
from chainlab.io.study_store import open_study
from chainlab.study import StudyConfig, open_trial_files, write_study

from ._workflow import (
    assert_report_embeds_the_figures,
    make_tiny_study,
    run_snakemake,
    snakemake_or_skip,
    start_snakemake,
    stop_when,
)
from .conftest import ROOT
from .outputs import assert_same_outputs

GOOD = ["HC030A05", "HC033A10", "SYNTH01"]


@pytest.fixture(scope="module")
def project(tiny_run):
    return tiny_run[0]


def test_the_study_completes_without_the_bad_trials(project):
    out = project / "results" / "tiny"
    fails = pd.read_csv(out / "failures.tsv", sep="\t")
    assert list(fails.trial) == ["BROKEN", "MISSING"] and list(fails.stage) == ["read", "read"]
    assert "broken.c3d" in fails.reason[0] and "not_there.c3d" in fails.reason[1]  # the file named
    s = open_study(out / "study.h5")
    assert s.trials == GOOD
    assert len(pd.read_csv(out / "metrics.csv")) == s.cycles.sizes["cycle"] > 0
    assert set(s.metrics.trial) == set(GOOD)  # every good trial has its cycles
    assert sorted(s.provenance.failure_trial.values) == ["BROKEN", "MISSING"]
    assert "estimate" in s.statistics  # the statistics step ran on the store


def test_the_run_ends_counting_the_trials(tiny_run):
    """The store step's last line, repeated as the run's last words, counts every trial of the
    sheet; problems.tsv lists the problems of those computed (columns of chainlab.problems)."""
    project, log = tiny_run
    counted = re.findall(r"results/tiny: (5 trials: .*)$", log, re.M)
    assert counted and counted[-1].endswith("2 failed (BROKEN, MISSING) (failures.tsv, problems.tsv)"), log[-2000:]
    n = int(re.match(r"5 trials: (\d) analysed", counted[-1]).group(1))
    problems = pd.read_csv(project / "results" / "tiny" / "problems.tsv", sep="\t")
    assert list(problems.columns) == ["trial", "stage", "check", "markers", "segment", "value", "threshold", "message"]
    doubtful = set(problems.trial[problems.check != "model_not_run"])
    assert n == 3 - len(doubtful) and doubtful <= set(GOOD)


def test_the_statistics_step_equals_the_one_pass_study(project, tmp_path):
    """The workflow's store (trial files -> store -> statistics) holds what `chainlab study`'s
    one pass computes from the same trials (the standing chain included: each trial file
    records its static's, so no static capture is read again, from wherever this runs)."""
    out = project / "results" / "tiny"
    config = StudyConfig.load(project / "config" / "config.yaml")
    one = write_study(open_trial_files(sorted((out / "trials").glob("*.h5"))), tmp_path, config)
    a, b = open_study(out / "study.h5"), open_study(one)
    for name in ("estimate", "ci_low", "ci_high", "p", "band_mean", "standing_slope", "standing_n"):
        np.testing.assert_array_equal(a.statistics[name].values, b.statistics[name].values, err_msg=name)
    assert a.subjects.equals(b.subjects) and len(a.subjects) == a.metrics.subject.nunique()
    assert a.statistics.attrs["problems"] == b.statistics.attrs["problems"]
    assert a.provenance.attrs["config"] == b.provenance.attrs["config"]
    assert json.loads(a.provenance.attrs["config"])["statistics"]["permutations"] == 200


def test_the_store_step_rebuilds_the_workflows_store(project, tmp_path):
    """`chainlab store`'s assembler reads the trial files as views (tables at once, time series
    one trial at a time while writing): run again on the workflow's trial files, it writes the
    workflow's study_tables.h5, metrics.csv and failures.tsv."""
    from chainlab.study import store_tables

    from .outputs import assert_same_outputs

    out = project / "results" / "tiny"
    paths = sorted((out / "trials").glob("*.h5"))
    views = open_trial_files(paths)
    assert len(views.trials) == 3 and len(views.failures) == 2
    assert not hasattr(views.trials[0], "kinematics")  # a view, not a loaded result
    store_tables(views, tmp_path / "again" / "study_tables.h5")
    (tmp_path / "workflow").mkdir()
    for name in ("study_tables.h5", "metrics.csv", "failures.tsv", "problems.tsv"):
        shutil.copyfile(out / name, tmp_path / "workflow" / name)
    compared = assert_same_outputs(tmp_path / "workflow", tmp_path / "again")
    assert "study_tables.h5" in compared
    s = open_study(tmp_path / "again" / "study_tables.h5")
    one = s.trial(GOOD[0])
    assert one.sizes["frame"] > 100 and np.isfinite(one.angles.values).mean() > 0.5


def test_figures_and_report(project):
    out = project / "results" / "tiny"
    index = json.loads((out / "figures" / "index.json").read_text())
    assert [f["name"] for f in index["figures"]] == [f.name for f in FIGURES]
    browser = find_browser()
    for f in FIGURES:
        html = (out / "figures" / f"{f.name}.html").read_text()
        assert f'id="chainlab-{f.name}"' in html and not re.search(r"<script[^>]+src=\"https?:", html)
        if browser:
            svg = (out / "figures" / f"{f.name}.svg").read_text()
            assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    if not browser:
        pytest.skip("no Chrome/Chromium: SVG not drawn (.ci/run installs Debian's chromium)")
    report = (out / "report.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?:", report)  # self-contained
    for f in FIGURES:
        assert f'id="report-{f.name}"' in report and f.caption[:60] in report.replace("&#x27;", "'")
    assert "BROKEN" in report and "MISSING" in report  # the failures listed
    assert "peak_eversion_deg" in report  # the model table


def test_snakemake_report_is_self_contained(project):
    run = run_snakemake(project, "--report", "report.html")
    assert run.returncode == 0, run.stderr[-3000:]
    assert_report_embeds_the_figures(project / "report.html", project / "results" / "tiny" / "figures",
                                     [f.name for f in FIGURES])


def test_a_second_run_does_nothing(project):
    run = run_snakemake(project, "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Nothing to be done" in run.stdout + run.stderr


def _jobs(dry_run_text: str) -> dict[str, int]:
    """Job counts per rule from a dry run's job table ({} when there is nothing to do)."""
    if "Nothing to be done" in dry_run_text:
        return {}
    table = dry_run_text.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def _batches_rerun(dry_run_text: str) -> list[str]:
    """The batches of the rule `trials` a dry run would run ("001", ...)."""
    return sorted(set(re.findall(r"wildcards: batch=(\d+)", dry_run_text)))


STUDY_STEPS = {"store", "statistics", "figures", "report", "all"}


@pytest.mark.parametrize("edit, expected, batches", [
    (("permutations: 200", "permutations: 300"), {"statistics", "figures", "report", "all"}, []),
    (("formats: [html, json, svg]", "formats: [html, json]"), {"figures", "report", "all"}, []),
    # the config's measures are computed per trial: a new one reruns the trials
    (("trials: config/trials.tsv", "trials: config/trials.tsv\nmeasures:\n  - {name: hip_add_max, output: HipAngles, "
      "component: y, side: right, window: stance, stat: max}"), {"trials"} | STUDY_STEPS, ["001"]),
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ngait:\n  strike_threshold_N: 25"),
     {"trials"} | STUDY_STEPS, ["001"]),
    # the batch size is no setting: 30 leaves the 5 rows in one batch, the same rule job, so
    # nothing reruns; 2 regroups them (new rows for every batch): every trial reruns
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ntrials_per_job: 30"), set(), []),
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ntrials_per_job: 2"),
     {"trials"} | STUDY_STEPS, ["001", "002", "003"]),
])
def test_a_config_change_reruns_only_the_steps_it_affects(project, tmp_path, edit, expected, batches):
    copy = tmp_path / "study"
    shutil.copytree(project, copy, symlinks=True)  # metadata and times kept
    cfg = copy / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace(*edit))
    run = run_snakemake(copy, "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    text = run.stdout + run.stderr
    jobs = _jobs(text)
    assert set(jobs) == expected, jobs
    assert _batches_rerun(text) == batches  # every trial reruns, the failed ones too


@pytest.fixture(scope="module")
def batched(tmp_path_factory):
    """The tiny study run with trials_per_job: 2 (batches of rows 1-2, 3-4, 5): (project, log)."""
    snakemake_or_skip()
    d = make_tiny_study(tmp_path_factory.mktemp("batched") / "study")
    cfg = d / "config" / "config.yaml"
    cfg.write_text(cfg.read_text() + "trials_per_job: 2\n")
    run = run_snakemake(d)
    assert run.returncode == 0, run.stderr[-3000:]
    return d, run.stdout + run.stderr


def _batch_commands(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("Shell command: chainlab trials ")]


def test_batches_of_two_give_the_outputs_of_the_default_batch(project, tiny_run, batched):
    d, log = batched
    assert len(_batch_commands(tiny_run[1])) == 1  # the default, 20 per job: the 5 rows in one job
    commands = [shlex.split(c.removeprefix("Shell command: ")) for c in _batch_commands(log)]
    assert len(commands) == 3 and all(w[w.index("--threads") + 1] == "1" for w in commands), commands
    assert all(w[w.index("--sheet") + 1] == "config/trials.tsv" and "--rows" not in w for w in commands)
    assert sorted((w[w.index("--batch") + 1], w[w.index("--batch-size") + 1]) for w in commands) == [
        ("001", "2"), ("002", "2"), ("003", "2")]
    for batch in ("001", "002", "003"):
        assert (d / "results" / "tiny" / "logs" / "trials" / f"trials_{batch}.log").is_file()
        listed = (d / "results" / "tiny" / "checksums" / f"trials_{batch}.sha256").read_text().splitlines()
        assert len(listed) == (1 if batch == "003" else 2)  # each trial file of the batch, with its sha256
    compared = assert_same_outputs(project / "results" / "tiny", d / "results" / "tiny")
    assert {"study.h5", "metrics.csv", "failures.tsv", "report.html", "trials/BROKEN.h5"} <= set(compared)


def test_appending_rows_reruns_only_the_last_batch_and_the_new_ones(batched, tmp_path):
    """Two rows appended to the sheet of the batched run: the last batch (row 5, now rows 5-6)
    and a new one (row 7) run, with the study steps; the first two batches do not."""
    copy = tmp_path / "study"
    shutil.copytree(batched[0], copy, symlinks=True)  # metadata and times kept
    sheet = copy / "config" / "trials.tsv"
    first = sheet.read_text().splitlines()[1].split("\t")  # HC030A05's row
    sheet.write_text(sheet.read_text() + "".join("\t".join([*first[:2], name, *first[3:]]) + "\n"
                                                 for name in ("EXTRA1", "EXTRA2")))
    run = run_snakemake(copy, "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    text = run.stdout + run.stderr
    assert _jobs(text) == {"trials": 2, **dict.fromkeys(STUDY_STEPS, 1)}, _jobs(text)
    assert _batches_rerun(text) == ["003", "004"]  # MISSING's batch, now with EXTRA1; EXTRA2's
    # ... and a row changed in the middle reruns its batch alone
    sheet.write_text(sheet.read_text().replace("\tTurn\tBROKEN\t", "\tTurn2\tBROKEN\t"))
    run = run_snakemake(copy, "--dry-run")
    text = run.stdout + run.stderr
    assert set(_jobs(text)) == {"trials"} | STUDY_STEPS and _batches_rerun(text) == ["002", "003", "004"], text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_run_rerun_gives_the_same_outputs(project, tmp_path, sig):
    """Stopped once a trial is done (SIGTERM: Ctrl-C or a cancelled job; SIGKILL: the machine
    lost, which leaves Snakemake's lock behind), then run again: the outputs equal those of
    the uninterrupted run."""
    d = make_tiny_study(tmp_path / "study")
    trials = d / "results" / "tiny" / "trials"
    proc = start_snakemake(d)
    stop_when(proc, lambda: any(trials.glob("*.h5")), sig)
    assert not (d / "results" / "tiny" / "study.h5").exists()
    if sig == signal.SIGKILL:
        run = run_snakemake(d)
        assert run.returncode != 0 and "cannot be locked" in run.stdout + run.stderr, run.stderr[-2000:]
        assert run_snakemake(d, "--unlock").returncode == 0
    run = run_snakemake(d)
    assert run.returncode == 0, run.stderr[-3000:]
    compared = assert_same_outputs(project / "results" / "tiny", d / "results" / "tiny")
    assert {"study.h5", "metrics.csv", "failures.tsv", "report.html", "figures/spm.html"} <= set(compared)
    assert [p.name for p in (d / "results").rglob(".*.tmp")] == []  # no half-written file left


def _truncate_keeping_its_time(path):
    """Half of `path` left, its modification time as before (a damage make cannot see)."""
    st = path.stat()
    path.write_bytes(path.read_bytes()[: st.st_size // 2])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_truncated_trial_file_is_rebuilt_by_the_next_run(project, tmp_path):
    """A trial file cut in half (its old time kept): the next run names it, reruns its batch
    and the steps after it, and the study equals the uninterrupted one; a third run does nothing."""
    copy = tmp_path / "study"
    shutil.copytree(project, copy, symlinks=True)  # metadata and times kept
    _truncate_keeping_its_time(copy / "results" / "tiny" / "trials" / "HC033A10.h5")
    run = run_snakemake(copy)
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout + run.stderr
    assert "results/tiny/trials/HC033A10.h5: missing or not the file its step wrote" in text
    compared = assert_same_outputs(project / "results" / "tiny", copy / "results" / "tiny")
    assert {"trials/HC033A10.h5", "study.h5", "metrics.csv", "report.html"} <= set(compared)
    again = run_snakemake(copy, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_truncated_store_is_rebuilt_keeping_the_good_outputs(project, tmp_path):
    """study.h5 cut in half (its old time kept): the next run reruns statistics, figures and the
    report from the intact tables; metrics.csv and the tables are not touched."""
    copy = tmp_path / "study"
    shutil.copytree(project, copy, symlinks=True)
    out = copy / "results" / "tiny"
    _truncate_keeping_its_time(out / "study.h5")
    kept = {n: (out / n).stat().st_mtime_ns for n in ("metrics.csv", "failures.tsv", "study_tables.h5")}
    dry = run_snakemake(copy, "--dry-run")
    assert _jobs(dry.stdout + dry.stderr) == {"statistics": 1, "figures": 1, "report": 1, "all": 1}
    run = run_snakemake(copy)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {n: (out / n).stat().st_mtime_ns for n in kept} == kept
    assert "study.h5" in assert_same_outputs(project / "results" / "tiny", out)


@pytest.mark.parametrize("config, sheet, message", [
    ("study: ..", None, "study: '..' does not match"),
    ('study: "nls\\n"', None, "study: 'nls\\n' does not match"),
    ("study: a/b", None, "study: 'a/b' does not match"),
    ("study: .hidden", None, "study: '.hidden' does not match"),
    ("study: tiny\nstudy: other", None, "key 'study' given twice (lines 1 and 2)"),
    (None, ("\tSYNTH01\t", "\t..\t"), "line 4 (trial ..): column 'trial': '..' does not match"),
    (None, ("\tSYNTH01\t", "\tx/../../y\t"), "line 4 (trial x/../../y): column 'trial'"),
    (None, ("S01\t", "S01\\n\t"), "line 4 (trial SYNTH01): column 'subject': 'S01\\\\n' does not match"),
    (None, ("HC033A\tStraight", ".HC033A\tStraight"), "line 3 (trial HC033A10): column 'subject': '.HC033A'"),
])
def test_odd_names_are_refused_before_any_job(tmp_path, config, sheet, message):
    """A study or row name that would leave results/<study>, hide a file or reach the shell
    stops the run before any job, naming the key or line; nothing is written."""
    snakemake_or_skip()
    d = make_tiny_study(tmp_path / "study")
    if config:
        cfg = d / "config" / "config.yaml"
        cfg.write_text(cfg.read_text().replace("study: tiny", config))
    if sheet:
        tsv = d / "config" / "trials.tsv"
        tsv.write_text(tsv.read_text().replace(*sheet, 1))
    before = sorted(p for p in tmp_path.rglob("*") if ".snakemake" not in p.parts)
    run = run_snakemake(d)
    text = run.stdout + run.stderr
    assert run.returncode != 0 and message in text, text[-2000:]
    assert sorted(p for p in tmp_path.rglob("*") if ".snakemake" not in p.parts) == before


def test_paths_reach_the_commands_quoted(tmp_path):
    """A sheet whose path has a space, a # and a quote: each rule's command, split as the shell
    splits it, passes the path as one argument."""
    snakemake_or_skip()
    d = make_tiny_study(tmp_path / "study")
    odd = d / "config" / "my #1 'trials'.tsv"
    (d / "config" / "trials.tsv").rename(odd)
    cfg = d / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("trials: config/trials.tsv", f'trials: "config/{odd.name}"'))
    run = run_snakemake(d, "--dry-run", "--printshellcmds")
    assert run.returncode == 0, run.stderr[-2000:]
    commands = [shlex.split(line.removeprefix("Shell command: ")) for line in (run.stdout + run.stderr).splitlines()
                if line.startswith("Shell command: chainlab trials")]
    assert len(commands) == 1 and commands[0][commands[0].index("--sheet") + 1] == f"config/{odd.name}"


def test_config_mistakes_stop_the_run_naming_the_key_or_line(tmp_path):
    snakemake_or_skip()
    d = make_tiny_study(tmp_path / "study")
    cfg = d / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("permutations: 200", "permutations: 20\n  permutation: 3"))
    run = run_snakemake(d, "--dry-run")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert "statistics.permutations: 20 is less than the minimum of 100" in text
    assert "unknown key(s) ['permutation']" in text
    cfg.write_text("study: tiny\ntrials: config/trials.tsv\n")
    sheet = d / "config" / "trials.tsv"
    sheet.write_text(sheet.read_text().replace("\tSYNTH01\t", "\tSYNTH 01\t").replace("HC033A\tStraight", "HC033A\t"))
    run = run_snakemake(d, "--dry-run")
    text = run.stdout + run.stderr
    assert run.returncode != 0
    assert "line 3 (trial HC033A10): column 'condition' is empty" in text
    assert "line 4 (trial SYNTH 01): column 'trial'" in text


def test_lint_is_clean():
    exe = snakemake_or_skip()
    import subprocess

    run = subprocess.run([exe, "--snakefile", str(ROOT / "Snakefile"), "--lint"],
                         capture_output=True, text=True, cwd=ROOT)
    text = run.stdout + run.stderr
    assert run.returncode == 0 and "Congratulations, your workflow is in a good condition" in text, text[-3000:]


def test_a_subjects_table_reaches_the_trials_and_an_edited_row_reruns_its_subject_alone(tmp_path):
    """config key subjects: the trials job is given the table (--subjects), each trial records
    its subject's values; editing one subject's row reruns the batch of that subject's trial
    alone; a subject the sheet lacks is warned of; a bad table stops the run before any job."""
    snakemake_or_skip()
    from .conftest import STUDY

    d = tmp_path / "study"
    (d / "config").mkdir(parents=True)
    rows = [("HC030A", "HC030A05", "HC030A/Static/HC030A01.c3d", "HC030A/Straight/HC030A05.c3d"),
            ("HC033A", "HC033A10", "HC033A/Static/HC033A01.c3d", "HC033A/Straight/HC033A10.c3d")]
    (d / "config" / "trials.tsv").write_text("subject\tcondition\ttrial\tstatic\tdynamic\n" + "".join(
        f"{s}\tStraight\t{t}\t{STUDY / st}\t{STUDY / dy}\n" for s, t, st, dy in rows))
    (d / "config" / "config.yaml").write_text("study: s\ntrials: config/trials.tsv\nsubjects: config/subjects.tsv\n"
                                              "trials_per_job: 1\nkinematics:\n  models: [pig]\n")
    table = d / "config" / "subjects.tsv"
    table.write_text("subject\tBodymass\tHeight\nHC030A\t46\t\nHC033A\t60\t1650\nNOBODY\t70\t\n")
    targets = ["results/s/checksums/trials_001.sha256", "results/s/checksums/trials_002.sha256"]
    run = run_snakemake(d, *targets, "--printshellcmds")
    text = run.stdout + run.stderr
    assert run.returncode == 0, text[-3000:]
    assert "config/subjects.tsv: subject(s) NOBODY not in the sample sheet" in text
    commands = [shlex.split(line.removeprefix("Shell command: ")) for line in text.splitlines()
                if line.startswith("Shell command: chainlab trials")]
    assert len(commands) == 2 and all(c[c.index("--subjects") + 1] == "config/subjects.tsv" for c in commands)
    trials = d / "results" / "s" / "trials"
    assert open_trial_files([trials / "HC033A10.h5"]).trials[0].subject_measurements == {"Bodymass": 60.0,
                                                                                          "Height": 1650.0}
    assert _jobs(run_snakemake(d, *targets, "--dry-run").stdout) == {}
    table.write_text(table.read_text().replace("HC033A\t60\t1650", "HC033A\t61\t1650"))
    dry = run_snakemake(d, *targets, "--dry-run")
    assert _batches_rerun(dry.stdout + dry.stderr) == ["002"], dry.stdout + dry.stderr
    table.write_text(table.read_text().replace("HC033A\t61\t1650", "HC033A\t61\t1.65"))  # metres: refused
    bad = run_snakemake(d, *targets, "--dry-run")
    assert bad.returncode != 0 and "line 3 (subject HC033A): Height = 1.65 is outside 700..2400 mm" in \
        bad.stdout + bad.stderr
