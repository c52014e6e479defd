# The study store without statistics, assembled from every trial's result file, with the
# per-cycle table, the failures and the problems beside it (chainlab store). Its log ends with
# the study's count (N trials: A analysed, C without cycles (...), Q with a quality problem
# (...)), which the workflow repeats when it ends (Snakefile, onsuccess).


rule store:
    """Cycles, metrics, trials' time series and provenance of the study (docs/schema.md)."""
    input:
        # the batches' checksum files: every trial file written and checked (common.smk)
        trials=trial_checksums(),
    output:
        tables=f"{RESULTS}/study_tables.h5",
        metrics=f"{RESULTS}/metrics.csv",
        failures=f"{RESULTS}/failures.tsv",
        problems=f"{RESULTS}/problems.tsv",
        checksum=checksums("study_tables.h5"),
    params:
        trials=trial_outputs(),
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/store.log",
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "chainlab store {params.trials:q} -o {output.tables:q} > {log:q} 2>&1"
        " && sha256sum -- {output.tables:q} > {output.checksum:q}"
