# The study statistics (mixed models, SPM, bootstrap bands) and the config's tests (tests.csv) from the store's own table and
# curves, written with the store as results/<study>/study.h5 (chainlab statistics).


rule statistics:
    """The study store with its /statistics group."""
    input:
        tables=f"{RESULTS}/study_tables.h5",
        checksum=checksums("study_tables.h5"),
    output:
        store=f"{RESULTS}/study.h5",
        # the config's tests (written beside the store by chainlab statistics)
        tests=f"{RESULTS}/tests.csv",
        checksum=checksums("study.h5"),
    params:
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
        "chainlab statistics {input.tables:q} --settings {params.settings:q} -o {output.store:q} > {log:q} 2>&1"
        " && test -f {output.tests:q} && sha256sum -- {output.store:q} > {output.checksum:q}"
