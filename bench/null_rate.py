"""Rejection rates and interval coverage of the study statistics on simulator-made studies.

    python bench/null_rate.py --seeds 100 [--start 0] [--out null.jsonl]        # no coupling
    python bench/null_rate.py --coupled --seeds 20 --subjects 8 --trials 5 --out cov.jsonl

Each seed is one whole synthetic study through the study path: ``chainlab.simulate``
(forward kinematics of the template subject HC030A, C3D files with plates and events) ->
``run_study`` (reading, the direct models, plate events, cycles, per-cycle metrics) ->
``study_statistics`` (the default mixed models, paired SPM between the two conditions on
subject-mean curves). The only shortcuts: the template cycle is fitted once, not once per
study, and the truth files (``*.truth.h5``, read by no stage) are not written.

Without ``--coupled`` the study has no coupling (transfer, pelvic tilt and lordosis per
degree of eversion all 0) and two identical conditions, so every fixed effect of the models
but the intercept and side is 0 and no curve differs between the conditions: the rate of
p < alpha is the test's false-positive rate (nominal: alpha). With ``--coupled`` the study
has the simulator's built-in effects (0.68, 0.5, 0.3) and a wedge condition (+3 deg
eversion, +1 deg in stance), and the bench reports how often each 95 % interval contains
the truth (nominal 95 %). Rates come with Clopper-Pearson 95 % intervals. One JSON line per
study goes to ``--out`` (appended; seeds already there are skipped, so a run can resume).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "data/biomechzoo/HC030A/Static/HC030A01.c3d"
WALK = ROOT / "data/biomechzoo/HC030A/Straight/HC030A05.c3d"
COUPLED = {"transfer": 0.68, "pelvic_tilt_per_deg": 0.5, "lordosis_per_deg": 0.3}


def truths(coupled: bool) -> dict[tuple[str, str], float]:
    """(response, term) -> the true value of each fixed effect that is tested."""
    t = COUPLED if coupled else dict.fromkeys(COUPLED, 0.0)
    cond = "C(condition)[T.wedge]" if coupled else "C(condition)[T.B]"
    out = {
        ("pelvic_tilt_mean_deg", "peak_eversion_deg"): t["pelvic_tilt_per_deg"],
        ("lordosis_mean_deg", "peak_eversion_deg"): t["lordosis_per_deg"],
        ("tibial_ir_excursion_femur_deg", "eversion_excursion_deg"): t["transfer"],
        ("tibial_ir_excursion_lab_deg", "eversion_excursion_deg"): t["transfer"],
    }
    # the wedge acts only through eversion: given the eversion, the condition adds nothing to
    # the simulator's coordinates. Not to the tibia in the lab (OFM TIBA, not a coordinate of the
    # chain): with the wedge's +3 deg of eversion and 2 deg more internal rotation its excursion
    # grows by ~0.05 deg at the same eversion excursion (Cardan geometry), so it has no truth here.
    out |= {(r, cond): 0.0 for r, _ in list(out) if not (coupled and r == "tibial_ir_excursion_lab_deg")}
    return out


def one_study(seed: int, args, template) -> dict:
    from chainlab import simulate
    from chainlab.simulate import Condition, SimulationOptions, simulate_study
    from chainlab.stats.study import study_statistics
    from chainlab.study import curves_table, metrics_table, run_study, trial_summaries

    if args.coupled:
        conditions, coupling = (Condition("control"), Condition("wedge", 3.0, 1.0)), COUPLED
    else:
        conditions, coupling = (Condition("A"), Condition("B")), dict.fromkeys(COUPLED, 0.0)
    opt = SimulationOptions(subjects=args.subjects, conditions=conditions, trials=args.trials, cycles=args.cycles,
                            noise_mm=args.noise_mm, seed=seed, **coupling)
    work = Path(tempfile.mkdtemp(prefix=f"null_rate_{seed}_"))
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), \
                mock.patch.object(simulate, "load_template", lambda *a: template), \
                mock.patch.object(simulate, "write_truth", lambda *a, **k: None):
            warnings.simplefilter("ignore")
            sheet = simulate_study(STATIC, WALK, work, opt)
            t1 = time.perf_counter()
            result = run_study(sheet, work / "trials", work, progress=lambda m: None)
            t2 = time.perf_counter()
            metrics, curves = metrics_table(result.trials), curves_table(result.trials)
            stats = study_statistics(metrics, curves, n_permutations=args.permutations, seed=seed,
                                     trials=trial_summaries(result), failures=[f.record() for f in result.failures])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t3 = time.perf_counter()
    truth = truths(args.coupled)
    terms = []
    for m in stats.models:
        response = m.formula.split("~")[0].strip()
        for r in m.table.itertuples():
            if (response, r.term) in truth:
                v = truth[(response, r.term)]
                terms.append({"response": response, "term": r.term, "truth": v, "estimate": r.estimate,
                              "ci_low": r.ci_low, "ci_high": r.ci_high, "p": r.p,
                              "covered": bool(r.ci_low <= v <= r.ci_high), "rejected": bool(r.p < args.alpha)})
    return {"seed": seed, "coupled": args.coupled, "cycles": len(metrics), "failures": len(result.failures),
            "problems": stats.problems, "terms": terms,
            "spm": {k: bool(v.significant) for k, v in stats.spm.items()},
            "seconds": {"simulate": t1 - t0, "study": t2 - t1, "statistics": t3 - t2}}


def interval(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def summary(records: list[dict], alpha: float) -> str:
    coupled = records[0]["coupled"]
    n = len(records)
    lines = []
    what = "95 % CI contains the truth" if coupled else f"p < {alpha} (false positive)"
    lines.append(f"| test | truth | {what} | rate | 95 % interval |")
    lines.append("|---|---|---|---|---|")
    truth = truths(coupled)
    keys = sorted({(t["response"], t["term"]) for r in records for t in r["terms"]} & set(truth))
    for resp, term in keys:
        rows = [t for r in records for t in r["terms"] if (t["response"], t["term"]) == (resp, term)]
        k = sum(t["covered"] if coupled else t["rejected"] for t in rows)
        lo, hi = interval(k, len(rows))
        lines.append(f"| LMM {resp} ~ ... {term} | {rows[0]['truth']:g} | {k} of {len(rows)} | "
                     f"{k / len(rows):.3f} | {lo:.3f}-{hi:.3f} |")
    for var in sorted({v for r in records for v in r["spm"]}):
        rows = [r["spm"][var] for r in records if var in r["spm"]]
        k = sum(rows)
        lo, hi = interval(k, len(rows))
        label = "significant cluster" if coupled else "false positive"
        lines.append(f"| SPM paired {var} | {'-' if coupled else 'no difference'} | {k} of {len(rows)} ({label}) | "
                     f"{k / len(rows):.3f} | {lo:.3f}-{hi:.3f} |")
    if not coupled:
        anyspm = sum(any(r["spm"].values()) for r in records)
        lo, hi = interval(anyspm, n)
        lines.append(f"| SPM, any of the {len(records[0]['spm'])} variables | no difference | {anyspm} of {n} | "
                     f"{anyspm / n:.3f} | {lo:.3f}-{hi:.3f} |")
    secs = [sum(r["seconds"].values()) for r in records]
    lines.append("")
    lines.append(f"{n} studies (seeds {min(r['seed'] for r in records)}-{max(r['seed'] for r in records)}), "
                 f"{sum(r['cycles'] for r in records) / n:.0f} cycles each on average, "
                 f"{sum(r['failures'] for r in records)} failed trials; "
                 f"{sum(secs) / n:.1f} s per study ({sum(secs) / 60:.1f} min in all)")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--subjects", type=int, default=6)
    ap.add_argument("--trials", type=int, default=2, help="per subject and condition")
    ap.add_argument("--cycles", type=int, default=3, help="simulated cycles per trial")
    ap.add_argument("--noise-mm", type=float, default=0.0)
    ap.add_argument("--permutations", type=int, default=1000)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--coupled", action="store_true", help="the built-in coupling: interval coverage")
    ap.add_argument("--out", type=Path, default=None, help="JSON lines, one per study (appended, resumable)")
    ap.add_argument("--summary-only", action="store_true", help="summarise --out without running")
    args = ap.parse_args()
    from chainlab.simulate import load_template

    done = []
    if args.out and args.out.exists():
        done = [json.loads(x) for x in args.out.read_text().splitlines() if x.strip()]
    seeds = [s for s in range(args.start, args.start + args.seeds) if s not in {r["seed"] for r in done}]
    if not args.summary_only and seeds:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            template = load_template(STATIC, WALK)
        for s in seeds:
            rec = one_study(s, args, template)
            done.append(rec)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
            rej = [f"{t['response'].split('_')[0]}:{t['term'][:12]}" for t in rec["terms"]
                   if (not t["covered"] if args.coupled else t["rejected"])]
            print(f"seed {s}: {rec['cycles']} cycles, {sum(rec['seconds'].values()):.1f} s, "
                  f"{'missed' if args.coupled else 'rejected'} {rej}, SPM {[k for k, v in rec['spm'].items() if v]}",
                  file=sys.stderr, flush=True)
    records = [r for r in done if args.start <= r["seed"] < args.start + args.seeds]
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: python bench/null_rate.py {' '.join(sys.argv[1:])}")
    print(f"design: {args.subjects} subjects x 2 conditions x {args.trials} trials x {args.cycles} simulated cycles, "
          f"marker noise {args.noise_mm} mm, {args.permutations} SPM permutations, "
          f"{'coupled (0.68, 0.5, 0.3)' if args.coupled else 'no coupling, identical conditions'}\n")
    print(summary(records, args.alpha))


if __name__ == "__main__":
    main()
