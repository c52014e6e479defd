# Figures from the study store alone (chainlab figures; docs/figures.md): self-contained
# HTML (in Snakemake's report, with the captions of workflow/report/), the figure's JSON,
# and SVG/PDF where a Chrome/Chromium is installed. A reviewer with only the store
# regenerates them with `snakemake figures`.
from chainlab.figures import FIGURES, find_browser

# SVGs are made where a Chrome/Chromium is (chainlab.figures); without one, HTML and JSON only
SVG_IN_REPORT = "svg" in CONFIG.figures["formats"] and find_browser() is not None


report: "../report/workflow.rst"


rule figures:
    """Every figure of the study."""
    input:
        store=f"{RESULTS}/study.h5",
        checksum=checksums("study.h5"),
    output:
        index=f"{RESULTS}/figures/index.json",
        **{f.name: f"{RESULTS}/figures/{f.name}.html" for f in FIGURES},
        # Snakemake's report shows each figure as its SVG, with its caption: the HTML files load
        # plotly.js from the file beside them, which the report does not carry (all the
        # interactive figures are in results/<study>/report.html, itself in Snakemake's report)
        **{
            f"{f.name}_svg": report(
                f"{RESULTS}/figures/{f.name}.svg",
                caption=f"../report/{f.name}.rst",
                category="Figures",
                subcategory="Quality control" if f.name.startswith("qc_") else "Kinetic chain",
                labels={"figure": f.name},
            )
            for f in (FIGURES if SVG_IN_REPORT else ())
        },
    params:
        out=lambda w, output: os.path.dirname(output.index),
        formats=",".join(CONFIG.figures["formats"]),
    conda:
        CONDA_ENV
    log:
        f"{RESULTS}/logs/figures.log",
    threads: 1
    resources:
        mem_mb=2000,  # the SVG/PDF export drives a headless Chromium
        runtime=30,
    shell:
        "chainlab figures {input.store:q} -o {params.out:q} --formats {params.formats:q} > {log:q} 2>&1"
