# chainlab workflow: one rule file per stage in workflow/rules/.
# Run: snakemake --cores 2   (configuration in config/config.yaml)

configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/study.smk"


rule all:
    input:
        f"{RESULTS}/study.h5",
