# The study statistics (mixed models, SPM, bootstrap bands) from the store's own table and
# curves, written with the store as results/<study>/study.h5 (chainlab statistics).


rule statistics:
    """The study store with its /statistics group."""
    input:
        tables=f"{RESULTS}/study_tables.h5",
        checksum=checksums("study_tables.h5"),
    output:
        store=f"{RESULTS}/study.h5",
        checksum=checksums("study.h5"),
    params:
        settings=settings("statistics"),
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
        " && sha256sum -- {output.store:q} > {output.checksum:q}"
