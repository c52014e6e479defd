rule ingest:
    """Read one capture and write its summary (chainlab info --json)."""
    input:
        dynamic_c3d,
    output:
        f"{RESULTS}/ingest/{{trial}}.json",
    log:
        f"{RESULTS}/logs/ingest/{{trial}}.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "chainlab info --json {input} > {output} 2> {log}"


rule kinematics:
    """Plug-in Gait, trunk and lumbar angles of one trial (chainlab kinematics)."""
    input:
        dynamic=dynamic_c3d,
        static=static_c3d,
    output:
        f"{RESULTS}/kinematics/{{trial}}.h5",
    log:
        f"{RESULTS}/logs/kinematics/{{trial}}.log",
    threads: 1
    resources:
        mem_mb=lambda w, attempt: 1000 * attempt,
        runtime=lambda w, attempt: 15 * attempt,
    shell:
        "chainlab kinematics {input.dynamic} --static {input.static} --threads {threads} "
        "-o {output} > {log} 2>&1"
