rule ingest:
    """Read one capture and write its summary (chainlab info --json)."""
    input:
        dynamic_c3d,
    output:
        f"{RESULTS}/ingest/{{trial}}.json",
    log:
        f"{RESULTS}/logs/ingest/{{trial}}.log",
    shell:
        "chainlab info --json {input} > {output} 2> {log}"
