# chainlab workflow: one rule file per stage in workflow/rules/.
# Run: snakemake --cores 2   (configuration in config/config.yaml)

configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/ingest.smk"


rule all:
    input:
        ingest_outputs(),
        kinematics_outputs(),
