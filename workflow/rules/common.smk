# Config and sample sheet, validated by chainlab.config against the schemas in
# workflow/schemas/ (a mistake stops the run before any job, naming the key or the line);
# helpers for the rules.
import os
from pathlib import Path

from chainlab.config import ConfigError, StudyConfig, read_sheet
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


def settings(*sections):
    """The config sections a step depends on, as JSON: a rule's params (a change reruns the
    step) and its command's --settings."""
    return CONFIG.settings(*sections)
