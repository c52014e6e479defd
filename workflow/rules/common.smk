# Config and sample sheet, validated by chainlab.config against the schemas in
# workflow/schemas/ (a mistake stops the run before any job, naming the key or the line);
# helpers for the rules.
import json
import os
from pathlib import Path

from chainlab.config import SHEET_COLUMNS, ConfigError, StudyConfig, read_sheet, sheet_records
from chainlab.study import TRIAL_SECTIONS

try:
    CONFIG = StudyConfig.from_dict(config, workflow.configfiles[0] if workflow.configfiles else "config")
    # paths as written: relative ones stay relative to the project folder, so a moved or
    # copied project reruns nothing
    TRIALS = read_sheet(CONFIG.trials).set_index("trial", drop=False)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = f"results/{CONFIG.study}"
# every rule runs chainlab's commands; with --software-deployment-method conda, in this environment
CONDA_ENV = "../../environment.yml"

_missing = sorted({p for p in TRIALS.static.tolist() + TRIALS.dynamic.tolist() if not os.path.exists(p)})
if _missing:
    logger.warning(f"{CONFIG.trials}: {len(_missing)} capture(s) not found; their trials will be listed "
                   f"in {RESULTS}/failures.tsv: " + ", ".join(_missing[:5]) + (" ..." if len(_missing) > 5 else ""))

# A dask.distributed scheduler for the jobs' dask work (chainlab.parallel): the config key
# dask_scheduler (--config dask_scheduler=tcp://HOST:PORT, or a profile's `config:`), else
# $CHAINLAB_DASK_SCHEDULER as set before snakemake. Jobs inherit this process's environment
# (local jobs as subprocesses, SLURM jobs through sbatch --export=ALL); it is not a rule
# parameter, so changing the scheduler reruns nothing.
# (Written with update(): snakemake --lint takes os.environ[...] for a required variable.)
if config.get("dask_scheduler"):
    os.environ.update(CHAINLAB_DASK_SCHEDULER=str(config["dask_scheduler"]))


def trial_row(wildcards):
    return TRIALS.loc[wildcards.trial]


def trial_inputs(wildcards):
    """A trial's captures that exist: a missing file fails that trial (failures.tsv), not the run."""
    row = trial_row(wildcards)
    return {k: row[k] for k in ("dynamic", "static") if os.path.exists(row[k])}


def trial_outputs():
    return expand(f"{RESULTS}/trials/{{trial}}.h5", trial=TRIALS.index)


# The trials run in batches (one `chainlab trials` job each, workflow/rules/trials.smk) of
# CONFIG.trials_per_job consecutive rows of the sample sheet, in the sheet's order: rows
# appended to the sheet change only the last batch and add new ones.
BATCHES = [TRIALS.iloc[i : i + CONFIG.trials_per_job] for i in range(0, len(TRIALS), CONFIG.trials_per_job)]
BATCH_NAMES = [f"trials_{k:0{max(3, len(str(len(BATCHES))))}d}" for k in range(1, len(BATCHES) + 1)]
# one argument of the shell command; Linux takes at most 128 KiB per argument
MAX_ROWS_JSON = 100_000


def batch_rows(batch):
    """A batch's rows as the JSON of `chainlab trials --rows` (its params: a changed row reruns the batch)."""
    return json.dumps(sheet_records(batch), separators=(",", ":"))


def batch_inputs(batch):
    """A batch's captures that exist: a missing file fails its trial (failures.tsv), not the run."""
    return sorted({p for p in batch.dynamic.tolist() + batch.static.tolist() if os.path.exists(p)})


def batch_outputs(batch):
    return [f"{RESULTS}/trials/{t}.h5" for t in batch.trial]


def batch_mem_mb(wildcards, attempt, threads):
    # one trial at a time; chunks in flight: 2 x threads (chainlab.chunked), 10,000 frames each,
    # ~150 MB; the static captures read (a few MB each) are kept for the batch's other trials
    return (700 + 300 * threads) * attempt


def batch_runtime(n):
    # minutes: 15 per trial, as with a job per trial (an hour-long capture with the global
    # solver takes ~4.5 min, docs/long_captures.md)
    return lambda wildcards, attempt: 15 * n * attempt


# the whole command is one argument of `bash -c`: the rows, the settings and the paths
_too_long = [n for n, b in zip(BATCH_NAMES, BATCHES)
             if len(batch_rows(b)) + len(CONFIG.settings(*TRIAL_SECTIONS)) + 1_000 > MAX_ROWS_JSON]
if _too_long:
    raise WorkflowError(f"trials_per_job: {CONFIG.trials_per_job} rows make the command line of {_too_long[0]} "
                        f"longer than {MAX_ROWS_JSON:,} characters; set a smaller trials_per_job")


def settings(*sections):
    """The config sections a step depends on, as JSON: a rule's params (a change reruns the
    step) and its command's --settings."""
    return CONFIG.settings(*sections)
