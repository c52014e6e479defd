# Config and sample sheet, validated by chainlab.config against the schemas in
# workflow/schemas/ (a mistake stops the run before any job, naming the key or the line);
# helpers for the rules. Only chainlab.config is imported here: the DAG is built without the
# scientific stack.
import hashlib
import json
import os

from chainlab.config import (OUTPUTS_VERSION, TRIAL_SECTIONS, ConfigError, StudyConfig, load_yaml, read_sheet,
                             sheet_records, subjects_not_in_sheet)

try:
    for _file in workflow.configfiles:
        load_yaml(_file)  # Snakemake's loader keeps the last of a key given twice: refused here
    CONFIG = StudyConfig.from_dict(config, workflow.configfiles[0] if workflow.configfiles else "config")
    # a sheet's relative capture paths are relative to the sheet's folder; read_sheet gives them
    # relative to the study folder (config/../data/x.c3d -> data/x.c3d), so a moved or copied
    # study reruns nothing
    TRIALS = read_sheet(CONFIG.trials).set_index("trial", drop=False)
    # results/<study>, refused unless inside results/
    RESULTS = CONFIG.results_dir("results").as_posix()
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

# every rule runs chainlab's commands; with --software-deployment-method conda, in this environment
CONDA_ENV = "../../environment.yml"

# the subjects table (config key subjects), read and checked with the config: a subject it
# names that the sheet has not is said, not refused (a table shared by several studies)
if _extra := subjects_not_in_sheet(CONFIG, TRIALS):
    logger.warning(_extra)

# an empty static cell: the calibration stored in the dynamic capture is used
_missing = sorted({p for p in TRIALS.static.tolist() + TRIALS.dynamic.tolist() if p and not os.path.exists(p)})
if _missing:
    logger.warning(f"{CONFIG.trials}: {len(_missing)} capture(s) not found; their trials will be listed "
                   f"in {RESULTS}/failures.tsv: " + ", ".join(_missing[:5]) + (" ..." if len(_missing) > 5 else ""))

# A dask.distributed scheduler for the jobs' dask work (chainlab.parallel): the config key
# dask_scheduler (--config dask_scheduler=tcp://HOST:PORT, or a profile's `config:`), else
# $CHAINLAB_DASK_SCHEDULER as set before snakemake. Jobs inherit this process's environment
# (local jobs as subprocesses, SLURM jobs through sbatch --export=ALL); it is not a rule
# parameter, so changing the scheduler reruns nothing. Its peer is trusted with pickled
# messages: docs/workflow.md, "A shared dask scheduler".
# (Written with update(): snakemake --lint takes os.environ[...] for a required variable.)
if config.get("dask_scheduler"):
    os.environ.update(CHAINLAB_DASK_SCHEDULER=str(config["dask_scheduler"]))


def trial_row(wildcards):
    return TRIALS.loc[wildcards.trial]


def trial_inputs(wildcards):
    """A trial's captures that exist: a missing file fails that trial (failures.tsv), not the run."""
    row = trial_row(wildcards)
    return {k: row[k] for k in ("dynamic", "static") if row[k] and os.path.exists(row[k])}


# The trials run in batches (the rule `trials`, one `chainlab trials --batch K` job each,
# workflow/rules/trials.smk) of BATCH_SIZE consecutive rows of the sample sheet, in the
# sheet's order: rows appended to the sheet change only the last batch and add new ones.
BATCH_SIZE = CONFIG.trials_per_job
_n_batches = -(-len(TRIALS) // BATCH_SIZE)
BATCHES = {f"{k:0{max(3, len(str(_n_batches)))}d}": TRIALS.iloc[(k - 1) * BATCH_SIZE : k * BATCH_SIZE]
           for k in range(1, _n_batches + 1)}


def batch_rows(wildcards):
    """A batch's rows as JSON, with its subjects' values when there is a subjects table: the
    rule's params (a changed row reruns its batch alone); the job reads them from the sheet
    itself (--sheet --batch K --batch-size N) and the table (--subjects)."""
    rows = sheet_records(BATCHES[wildcards.batch])
    if CONFIG.subjects:
        return json.dumps({"rows": rows, "subjects": batch_subjects(wildcards)}, sort_keys=True, separators=(",", ":"))
    return json.dumps(rows, separators=(",", ":"))


def batch_subjects(wildcards):
    """The subjects table's values for a batch's subjects (subject -> {name: value})."""
    subjects = sorted(set(BATCHES[wildcards.batch].subject))
    return {s: CONFIG.subject_measurements(s) for s in subjects if s in CONFIG.subject_values}


# With a subjects table (config key subjects), the trials job is given it (--subjects, the
# table an ancient() input: its time reruns nothing) and the batch's parameter carries its
# subjects' values with its rows, so an edited row of the table reruns the batches of that
# subject's trials alone. Without one, the rule's command and parameters are those of a study
# before the key existed: its trials do not rerun.
SUBJECTS_TABLE = [ancient(CONFIG.subjects)] if CONFIG.subjects else []
SUBJECTS_OPTION = " --subjects {input.subjects:q}" if CONFIG.subjects else ""


def batch_inputs(wildcards):
    """A batch's captures that exist: a missing file fails its trial (failures.tsv), not the run."""
    b = BATCHES[wildcards.batch]
    return sorted({p for p in b.dynamic.tolist() + b.static.tolist() if p and os.path.exists(p)})


def trial_file(trial):
    return f"{RESULTS}/trials/{trial}.h5"


def batch_outputs(wildcards):
    """The trial files a batch writes (each named with its checksum in the batch's output)."""
    return [trial_file(t) for t in BATCHES[wildcards.batch].trial]


def batch_mem_mb(wildcards, attempt, threads):
    # one trial at a time; chunks in flight: 2 x threads (chainlab.chunked), 10,000 frames each,
    # ~150 MB; the static captures read (a few MB each) are kept for the batch's other trials
    return (700 + 300 * threads) * attempt


def batch_runtime(wildcards, attempt):
    # minutes: 15 per trial, as with a job per trial (an hour-long capture with the global
    # solver takes ~4.5 min, docs/long_captures.md)
    return 15 * len(BATCHES[wildcards.batch]) * attempt


def checksums(name):
    """The checksum file of an output (sha256sum's format), beside the outputs in checksums/."""
    return f"{RESULTS}/checksums/{name}.sha256"


def trial_checksums():
    return [checksums(f"trials_{b}") for b in BATCHES]


def trial_outputs():
    return [trial_file(t) for t in TRIALS.trial]


def settings(*sections):
    """The config sections a step depends on, as JSON: a rule's params (a change reruns the
    step) and its command's --settings."""
    return CONFIG.settings(*sections)


# Damaged outputs are rebuilt: each step writes the sha256 of its data files (trial files,
# study_tables.h5, study.h5) into checksums/ as an output of its own. A file that no longer
# matches (truncated, overwritten, whatever its modification time) has its checksum file
# removed here, before the DAG is built, with a warning naming it: the checksum file is then a
# missing output, so the step that wrote the damaged file runs again, and the steps after it
# (their input is newer) too. Nothing else is removed: good outputs stay until their own step
# reruns, and that step then reads repaired inputs.
def _damaged(record):
    """The files listed in a checksum file that are missing or no longer match it."""
    bad = []
    with open(record, encoding="utf-8") as f:
        for line in f:
            digest, _, name = line.rstrip("\n").partition("  ")
            try:
                with open(name, "rb") as data:
                    if hashlib.file_digest(data, "sha256").hexdigest() != digest:
                        bad.append(name)
            except OSError:
                bad.append(name)
    return bad


if getattr(workflow, "is_main_process", True):  # not again inside each cluster job
    for _record in [*trial_checksums(), checksums("study_tables.h5"), checksums("study.h5")]:
        if os.path.exists(_record) and (_bad := _damaged(_record)):
            logger.warning(f"{', '.join(_bad)}: missing or not the file its step wrote (checksum in {_record}); "
                           f"its step runs again")
            os.remove(_record)
