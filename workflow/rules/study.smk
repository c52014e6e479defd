rule trial:
    """One trial through reading, kinematics and gait analysis (chainlab trial)."""
    input:
        dynamic=dynamic_c3d,
        static=static_c3d,
    output:
        f"{RESULTS}/trials/{{trial}}.h5",
    params:
        subject=lambda w: TRIALS.loc[w.trial, "subject"],
        condition=lambda w: TRIALS.loc[w.trial, "condition"],
    log:
        f"{RESULTS}/logs/trial/{{trial}}.log",
    threads: 1
    shell:
        "chainlab trial --subject {params.subject} --condition {params.condition} "
        "--trial {wildcards.trial} --static {input.static} --dynamic {input.dynamic} "
        "--threads {threads} -o {output} > {log} 2>&1"


rule study:
    """The study store, per-cycle table and failures from every trial's result (chainlab assemble)."""
    input:
        trials=expand(f"{RESULTS}/trials/{{trial}}.h5", trial=TRIALS.index),
        config=workflow.configfiles[0],
    output:
        store=f"{RESULTS}/study.h5",
        metrics=f"{RESULTS}/metrics.csv",
        failures=f"{RESULTS}/failures.tsv",
    params:
        out=lambda w, output: os.path.dirname(output.store),
        permutations=config.get("statistics", {}).get("permutations", 2000),
    log:
        f"{RESULTS}/logs/study.log",
    shell:
        "chainlab assemble {input.trials} --config {input.config} --out {params.out} "
        "--permutations {params.permutations} > {log} 2>&1"
