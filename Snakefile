# chainlab workflow: raw C3D captures to the study store, figures and a report.
#
#   snakemake --cores 2                  the study of config/config.yaml into results/<study>/
#   snakemake --cores 2 figures          the figures again, from results/<study>/study.h5 alone
#   snakemake --report report.html       Snakemake's report of the run (figures and captions)
#
# One rule file per stage (workflow/rules/); each rule calls one chainlab command, the science
# is in src/chainlab/. docs/workflow.md has the stages, their files and what reruns when.

from snakemake.utils import min_version

# checksum files, ancient() inputs and input functions as used here; tested with 9.x
min_version("8.0")


configfile: "config/config.yaml"


wildcard_constraints:
    batch=r"\d+",
    trial=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",


include: "workflow/rules/common.smk"
include: "workflow/rules/trials.smk"
include: "workflow/rules/store.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        f"{RESULTS}/study.h5",
        f"{RESULTS}/metrics.csv",
        f"{RESULTS}/failures.tsv",
        f"{RESULTS}/problems.tsv",
        f"{RESULTS}/figures/index.json",
        f"{RESULTS}/report.html",
        # the checksum files are targets: one removed because its file is damaged (common.smk)
        # makes its step run again (Snakemake reruns no job for a missing intermediate file
        # whose consumers are up to date)
        trial_checksums(),
        checksums("study_tables.h5"),
        checksums("study.h5"),
    default_target: True


onsuccess:
    # the study's count, from the store step's log: the run's last lines say what was analysed
    _log = Path(f"{RESULTS}/logs/store.log")
    if _log.exists():
        _lines = [x for x in _log.read_text(encoding="utf-8").splitlines() if x.strip()]
        if _lines:
            logger.info(f"{RESULTS}: {_lines[-1]}")
