# Per trial: ingest -> kinematics -> events and cycles -> metrics, in one job per trial
# (chainlab trial; the stages are package functions, see docs/workflow.md for why one job).
# A trial that fails at any stage writes a result file recording the stage and the reason,
# so the study goes on without it.


rule trial:
    """One trial through reading, kinematics, gait events, cycles and per-cycle measures."""
    input:
        unpack(trial_inputs),
    output:
        f"{RESULTS}/trials/{{trial}}.h5",
    params:
        subject=lambda w: trial_row(w).subject,
        condition=lambda w: trial_row(w).condition,
        static=lambda w: trial_row(w).static,
        dynamic=lambda w: trial_row(w).dynamic,
        settings=settings(*TRIAL_SECTIONS),
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/trials/{{trial}}.log",
    threads: 1
    resources:
        # chunks in flight: 2 x threads (chainlab.chunked); 10,000 frames each, ~150 MB
        mem_mb=lambda w, attempt, threads: (700 + 300 * threads) * attempt,
        runtime=lambda w, attempt: 15 * attempt,
    shell:
        "chainlab trial --subject {params.subject:q} --condition {params.condition:q} "
        "--trial {wildcards.trial} --static {params.static:q} --dynamic {params.dynamic:q} "
        "--settings {params.settings:q} --threads {threads} -o {output} > {log} 2>&1"


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
