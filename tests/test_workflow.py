"""The Snakemake workflow end to end on a tiny study: two real walks, a synthetic trial, a
broken capture and a missing one."""

from __future__ import annotations

import json
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
    for name in ("study_tables.h5", "metrics.csv", "failures.tsv"):
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


def _trials_rerun(dry_run_text: str) -> list[str]:
    """The trial outputs a dry run would write."""
    return sorted(set(re.findall(r"results/tiny/trials/([\w.-]+)\.h5", dry_run_text.split("rule store:")[0])))


STUDY_STEPS = {"store", "statistics", "figures", "report", "all"}
ALL_TRIALS = sorted([*GOOD, "BROKEN", "MISSING"])


@pytest.mark.parametrize("edit, expected", [
    (("permutations: 200", "permutations: 300"), {"statistics", "figures", "report", "all"}),
    (("formats: [html, json, svg]", "formats: [html, json]"), {"figures", "report", "all"}),
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ngait:\n  strike_threshold_N: 25"),
     {"trials_001"} | STUDY_STEPS),
    # the batch size is no setting: 30 leaves the 5 rows in one batch, the same rule job, so
    # nothing reruns; 2 regroups them (new params for every trial): every trial reruns
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ntrials_per_job: 30"), set()),
    (("trials: config/trials.tsv", "trials: config/trials.tsv\ntrials_per_job: 2"),
     {"trials_001", "trials_002", "trials_003"} | STUDY_STEPS),
])
def test_a_config_change_reruns_only_the_steps_it_affects(project, tmp_path, edit, expected):
    copy = tmp_path / "study"
    shutil.copytree(project, copy, symlinks=True)  # metadata and times kept
    cfg = copy / "config" / "config.yaml"
    cfg.write_text(cfg.read_text().replace(*edit))
    run = run_snakemake(copy, "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    text = run.stdout + run.stderr
    jobs = _jobs(text)
    assert set(jobs) == expected, jobs
    if "store" in jobs:  # every trial reruns, the failed ones too
        assert _trials_rerun(text) == ALL_TRIALS


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
    commands = _batch_commands(log)
    assert len(commands) == 3 and all(" --threads 1 " in c for c in commands), commands
    rows = [json.loads(w[w.index("--rows") + 1]) for w in map(shlex.split, commands)]
    assert sorted(len(r) for r in rows) == [1, 2, 2]
    assert sorted(r["trial"] for batch in rows for r in batch) == ALL_TRIALS
    for name in ("trials_001", "trials_002", "trials_003"):
        assert re.search(rf"^(local)?rule {name}:", log, re.M), name
        assert (d / "results" / "tiny" / "logs" / "trials" / f"{name}.log").is_file()
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
    assert _jobs(text) == {"trials_003": 1, "trials_004": 1, **dict.fromkeys(STUDY_STEPS, 1)}, _jobs(text)
    assert _trials_rerun(text) == ["EXTRA1", "EXTRA2", "MISSING"]
    # ... and a row changed in the middle reruns its batch alone
    sheet.write_text(sheet.read_text().replace("\tTurn\tBROKEN\t", "\tTurn2\tBROKEN\t"))
    run = run_snakemake(copy, "--dry-run")
    text = run.stdout + run.stderr
    assert set(_jobs(text)) == {"trials_002", "trials_003", "trials_004"} | STUDY_STEPS, _jobs(text)


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
