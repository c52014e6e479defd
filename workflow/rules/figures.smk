# Figures and the report, from the study store alone (chainlab figures; docs/figures.md).
# Needs RESULTS from common.smk. Target: f"{RESULTS}/figures/index.json".
from chainlab.figures import FIGURES


report: "../report/workflow.rst"


rule figures:
    """Every figure of the study as HTML (in the report), JSON, and SVG/PDF where a Chrome/Chromium is."""
    input:
        f"{RESULTS}/study.h5",
    output:
        index=f"{RESULTS}/figures/index.json",
        **{
            f.name: report(
                f"{RESULTS}/figures/{f.name}.html",
                caption=f"../report/{f.name}.rst",
                category="Figures",
                subcategory="Quality control" if f.name.startswith("qc_") else "Kinetic chain",
                labels={"figure": f.name},
            )
            for f in FIGURES
        },
    params:
        out=lambda w, output: os.path.dirname(output.index),
    log:
        f"{RESULTS}/logs/figures.log",
    threads: 1
    resources:
        mem_mb=2000,  # the SVG/PDF export drives a headless Chromium
        runtime=30,
    shell:
        "chainlab figures {input} -o {params.out} > {log} 2>&1"
