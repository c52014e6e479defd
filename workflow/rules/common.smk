import os

import pandas as pd
from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")

TRIALS = pd.read_csv(config["trials"], sep="\t", dtype=str, comment="#").set_index(
    "trial", drop=False
)
validate(TRIALS, schema="../schemas/trials.schema.yaml")
if TRIALS.index.duplicated().any():
    raise ValueError(
        f"{config['trials']}: duplicate trial ids {sorted(set(TRIALS.index[TRIALS.index.duplicated()]))}"
    )

RESULTS = f"results/{config['study']}"

# A dask.distributed scheduler for the jobs' dask work (chainlab.parallel): the config key
# dask_scheduler (--config dask_scheduler=tcp://HOST:PORT, or a profile's `config:`), else
# $CHAINLAB_DASK_SCHEDULER as set before snakemake. Jobs inherit this process's environment
# (local jobs as subprocesses, SLURM jobs through sbatch --export=ALL); it is not a rule
# parameter, so changing the scheduler reruns nothing.
# (Written with update(): snakemake --lint takes os.environ[...] for a required variable.)
if config.get("dask_scheduler"):
    os.environ.update(CHAINLAB_DASK_SCHEDULER=str(config["dask_scheduler"]))


def dynamic_c3d(wildcards):
    return TRIALS.loc[wildcards.trial, "dynamic"]


def static_c3d(wildcards):
    return TRIALS.loc[wildcards.trial, "static"]


def ingest_outputs():
    return expand(f"{RESULTS}/ingest/{{trial}}.json", trial=TRIALS.index)


def kinematics_outputs():
    return expand(f"{RESULTS}/kinematics/{{trial}}.h5", trial=TRIALS.index)
