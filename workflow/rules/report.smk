# One self-contained HTML report of the study (chainlab report): trials and failures,
# statistics and what they left out, every figure with its caption, provenance.


rule report:
    """results/<study>/report.html, which works offline."""
    input:
        store=f"{RESULTS}/study.h5",
        figures=f"{RESULTS}/figures/index.json",
    output:
        # in Snakemake's report too: the study's own report, every figure interactive in it
        report(f"{RESULTS}/report.html", caption="../report/study_report.rst", category="Study report",
               labels={"file": "report.html"}),
    params:
        figures=lambda w, input: os.path.dirname(input.figures),
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "chainlab report {input.store:q} --figures {params.figures:q} -o {output:q} > {log:q} 2>&1"
