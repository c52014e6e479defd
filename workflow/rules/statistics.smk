# The study statistics (mixed models, SPM, bootstrap bands) and the config's tests (tests.csv)
# from the trials' per-cycle table, curves and measures, written with the store as
# results/<study>/study.h5 (chainlab statistics): the store's one writer, as `chainlab store`
# and `chainlab study` use it.


rule statistics:
    """The study store with its /statistics group."""
    input:
        # the batches' checksum files: every trial file written and checked (common.smk)
        trials=trial_checksums(),
    output:
        store=f"{RESULTS}/study.h5",
        # the config's tests (written beside the store by chainlab statistics)
        tests=f"{RESULTS}/tests.csv",
        checksum=checksums("study.h5"),
    params:
        trials=trial_outputs(),
        # the measures too: a test is checked against the measures the config names
        settings=settings("measures", "statistics", "tests"),
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/statistics.log",
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 2000 * attempt,
        runtime=lambda w, attempt: 30 * attempt,
    shell:
        "chainlab statistics {params.trials:q} --settings {params.settings:q} -o {output.store:q} > {log:q} 2>&1"
        " && test -f {output.tests:q} && sha256sum -- {output.store:q} > {output.checksum:q}"
