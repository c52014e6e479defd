# Per trial: ingest -> kinematics -> events and cycles -> metrics, run by `chainlab trials`
# for a batch of trials_per_job consecutive rows of the sample sheet per job (config key,
# default 20; BATCHES in common.smk): one Python start per batch, not per trial (see
# docs/workflow.md for why the stages share a job). A trial that fails at any stage writes a
# result file recording the stage and the reason, so the batch and the study go on without it.


rule trials:
    """A batch of rows of the sample sheet: results/<study>/trials/<trial>.h5 for each, and
    their checksums, results/<study>/checksums/trials_<batch>.sha256 (the rule's output)."""
    input:
        # the sheet as a file whose time does not matter: a batch reruns when its own rows
        # change (params.rows), not when another row of the sheet does
        sheet=ancient(CONFIG.trials),
        # the subjects table (config key subjects) likewise: a batch reruns when its subjects'
        # rows change (params.rows); [] without one
        subjects=SUBJECTS_TABLE,
        captures=batch_inputs,
    output:
        checksums("trials_{batch}"),
    params:
        rows=batch_rows,
        settings=settings(*TRIAL_SECTIONS),
        # a new chainlab whose outputs differ reruns the trials (Snakemake's params trigger)
        outputs_version=OUTPUTS_VERSION,
        out=f"{RESULTS}/trials",
        files=batch_outputs,
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/trials/trials_{{batch}}.log",
    threads: 1
    resources:
        mem_mb=batch_mem_mb,
        runtime=batch_runtime,
        # rows per batch: a resource, not a parameter, so that changing it reruns only the
        # batches whose rows change (params.rows)
        rows_per_job=BATCH_SIZE,
    shell:
        # SUBJECTS_OPTION: " --subjects {input.subjects:q}" with a subjects table, else "" (the
        # command of a study before the key existed: its trials do not rerun; common.smk)
        "".join(("chainlab trials --sheet {input.sheet:q} --batch {wildcards.batch} --batch-size {resources.rows_per_job}"
                 " --settings {params.settings:q}", SUBJECTS_OPTION,
                 " --threads {threads} --out-dir {params.out:q} > {log:q} 2>&1"
                 " && sha256sum -- {params.files:q} > {output:q}"))


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
        "chainlab info --json --markers {params.dynamic:q} > {output:q} 2> {log:q}"
