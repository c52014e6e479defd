# Per trial: ingest -> kinematics -> events and cycles -> metrics, run by `chainlab trials`
# for a batch of trials_per_job consecutive rows of the sample sheet per job (config key,
# default 20; BATCHES in common.smk): one Python start per batch, not per trial (see
# docs/workflow.md for why the stages share a job). A trial that fails at any stage writes a
# result file recording the stage and the reason, so the batch and the study go on without it.


for _name, _batch in zip(BATCH_NAMES, BATCHES):

    rule:
        name:
            _name
        input:
            batch_inputs(_batch),
        output:
            batch_outputs(_batch),
        params:
            rows=batch_rows(_batch),
            settings=settings(*TRIAL_SECTIONS),
            out=lambda w, output: os.path.dirname(output[0]),
        conda:
            CONDA_ENV
        log:
            f"{RESULTS}/logs/trials/{_name}.log",
        threads: 1
        resources:
            mem_mb=batch_mem_mb,
            runtime=batch_runtime(len(_batch)),
        shell:
            "chainlab trials --rows {params.rows:q} --settings {params.settings:q} --threads {threads} "
            "--out-dir {params.out} > {log} 2>&1"


rule ingest:
    """A capture's summary (chainlab info --json): rates, frames, markers, plates, events.
    Not part of the study; a target for looking at the data: snakemake results/<study>/ingest/<trial>.json"""
    input:
        unpack(trial_inputs),
    output:
        f"{RESULTS}/ingest/{{trial}}.json",
    params:
        dynamic=lambda w: trial_row(w).dynamic,
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/ingest/{{trial}}.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "chainlab info --json --markers {params.dynamic:q} > {output} 2> {log}"
