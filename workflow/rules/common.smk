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


def dynamic_c3d(wildcards):
    return TRIALS.loc[wildcards.trial, "dynamic"]


def static_c3d(wildcards):
    return TRIALS.loc[wildcards.trial, "static"]


def ingest_outputs():
    return expand(f"{RESULTS}/ingest/{{trial}}.json", trial=TRIALS.index)


def kinematics_outputs():
    return expand(f"{RESULTS}/kinematics/{{trial}}.h5", trial=TRIALS.index)
