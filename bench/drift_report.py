#!/usr/bin/env python3
"""Writes the tables of BENCHMARKS.md's drift-detection comparison from a drift_compare.py result.

    drift_report.py bench/results/<ts>-drift-compare.json BENCHMARKS.md

Only the text between <!-- BEGIN GENERATED: drift-compare --> and
<!-- END GENERATED: drift-compare --> is replaced; the prose around it is kept.
Only the standard library is used.
"""

import json
import os
import re
import sys

BLOCK = "drift-compare"
TOOLS = [("kingmaker", "Kingmaker"), ("evidently", "Evidently"), ("nannyml", "NannyML")]
STREAM_NAMES = {
    "mean_shift": "mean shift (x1 + 0.2 sd)",
    "variance_shift": "variance shift (x1 sd × 1.3)",
    "new_category": "new category (2% of c)",
    "category_mix": "category mix (0.10 moved)",
    "label_shift": "label shift (30% → 38%)",
}


def frac(r):
    return f"{r['flagged']}/{r['of']} ({100 * r['rate']:.0f}%)"


def pct(r):
    return f"{100 * r['rate']:.0f}%"


def seconds(x):
    if x is None:
        return "—"
    return f"{x:.3g}"


def meets_rate(r, stated):
    """Within the stated rate: the 95% interval of the observed rate reaches down to it."""
    return r["ci95"][0] <= stated


def none_chunks(none):
    return [{"rows": c["rows"], "k": c["k"], "rate": c["nannyml_chunk_alerts"]["rate"]} for c in none]


def render(r, rel):
    run = r["run"]
    stated = r["stated_false_alarm_rate"]
    cells = r["cells"]
    none = [c for c in cells if c["stream"] == "none"]
    drifted = [c for c in cells if c["stream"] != "none"]
    out = []
    sizes = ", ".join(f"{int(n):,} rows × {s['reps']} repetition{'s' if s['reps'] != 1 else ''} ({s['seconds']['all']:.0f} s)"
                      for n, s in r["sizes"].items())
    v = run["versions"]
    out.append(f"Figures from **`{run['command']}`**, started {run['started']}, {run['seconds'] / 60:.1f} min in all "
               f"({sizes}); results in [`{rel}`]({rel}). Commit **{run['git_commit']}** "
               f"({run['git_dirty_files']} tracked file{'' if run['git_dirty_files'] == 1 else 's'} modified in the working tree), "
               f"seed {run['seed']}.")
    out.append("")
    out.append(f"- Machine: {run['nproc']} cores; load average (1/5/15 min) {'/'.join(map(str, run['loadavg_start']))} at the start, "
               f"{'/'.join(map(str, run['loadavg_end']))} at the end (other people's work shares the machine: times are noisy).")
    out.append(f"- Software: {run['go']}; Python {run['python']}, evidently {v['evidently']}, nannyml {v['nannyml']}, "
               f"pandas {v['pandas']}, numpy {v['numpy']}, scipy {v['scipy']}.")
    first = next(iter(r["sizes"].values()))
    o = first["kingmaker_options"]
    shown = ", ".join(f"{k} {str(v).lower() if isinstance(v, bool) else v}" for k, v in o.items())
    named = "false_alarm_rate" if "false_alarm_rate" in o else "alpha"
    out.append(f"- Kingmaker's report options (a model's defaults): {shown}; max_drifted_features "
               f"{first['kingmaker_max_drifted_features']}. Stated false-alarm rate: its {named}, **{stated}**.")
    out.append("")

    # False alarms.
    ok = sum(meets_rate(c["window_flagged"]["kingmaker"], stated) for c in none)
    out.append(f"**False alarms** (no drift): windows with any of the 4 columns flagged, and the share of all column "
               f"verdicts that are alarms. Kingmaker within the stated rate {stated} (95% interval reaching it): "
               f"**{ok} of {len(none)}** cells.")
    out.append("")
    out.append("| rows | K | Kingmaker windows | Evidently windows | Evidently dataset drift | NannyML windows | "
               "Kingmaker columns | Evidently columns | NannyML columns |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for c in none:
        w, col = c["window_flagged"], c["column_false_alarms"]
        mark = "" if meets_rate(w["kingmaker"], stated) else " ✗"
        out.append(f"| {c['rows']:,} | {c['k']} | {frac(w['kingmaker'])}{mark} | {frac(w['evidently'])} | "
                   f"{frac(c['evidently_dataset_flagged'])} | {frac(w['nannyml'])} | {pct(col['kingmaker'])} | "
                   f"{pct(col['evidently'])} | {pct(col['nannyml'])} |")
    out.append("")

    # Power.
    wins = sum(c["column_flagged"]["kingmaker"]["rate"] >= max(c["column_flagged"]["evidently"]["rate"],
                                                               c["column_flagged"]["nannyml"]["rate"]) for c in drifted)
    out.append(f"**Detection power**: share of drifted windows whose shifted column is flagged (Evidently's dataset-level "
               f"verdict beside it). Kingmaker at least the best of the two: **{wins} of {len(drifted)}** cells.")
    out.append("")
    bar = max(stated, 0.05)
    out.append(f"† the tool flags the same column in the no-drift windows of that size and K more often than {bar} "
               "(the 95% interval of its rate lies above it; 0.05 is Evidently's own level), so its figure there is not "
               "detection alone.")
    out.append("")
    alone = all("kingmaker_test_alone" in c for c in cells)
    if alone:
        out.append("Kingmaker's test alone: the windows its test flags (adjusted p-value at or below the stated rate) "
                   "before the effect-size floor decides; with no drift it flags "
                   + ", ".join(f"{pct(c['kingmaker_test_alone'])} ({c['rows']:,} rows, K = {c['k']})" for c in none) + ".")
        out.append("")
    out.append("| shift | rows | K | Kingmaker | Evidently | NannyML | Evidently dataset drift | Kingmaker ≥ best |"
               + (" Kingmaker's test alone |" if alone else ""))
    out.append("|---|---|---|---|---|---|---|---|" + ("---|" if alone else ""))
    baseline = {(c["rows"], c["k"]): c["column_false_alarms_by_column"] for c in none}
    for c in sorted(drifted, key=lambda c: (list(STREAM_NAMES).index(c["stream"]), c["rows"], c["k"])):
        f = c["column_flagged"]
        best = max(f["evidently"]["rate"], f["nannyml"]["rate"])
        verdict = "yes" if f["kingmaker"]["rate"] >= best else "**no**"
        base = baseline[(c["rows"], c["k"])]

        def cell(tool):
            noisy = base[tool][c["shifted"]]["ci95"][0] > bar
            return frac(f[tool]) + (" †" if noisy else "")
        out.append(f"| {STREAM_NAMES[c['stream']]} | {c['rows']:,} | {c['k']} | {cell('kingmaker')} | {cell('evidently')} | "
                   f"{cell('nannyml')} | {frac(c['evidently_dataset_flagged'])} | {verdict} |"
                   + (f" {frac(c['kingmaker_test_alone'])} |" if alone else ""))
    out.append("")

    # Time.
    out.append("**Time per window**, wall seconds (CPU seconds of the process in brackets, which the machine's load "
               "inflates far less): reference and window of the same size, 4 columns, no drift; Kingmaker's median over "
               "the repetitions, the others' median of the timed runs; — not timed.")
    out.append("")
    out.append("| rows | K | Kingmaker | Evidently | NannyML | Evidently / Kingmaker (CPU) |")
    out.append("|---|---|---|---|---|---|")
    for n, s in r["sizes"].items():
        for k, t in s["window_seconds"].items():
            ratio = f"{t['evidently_cpu'] / t['kingmaker_cpu']:,.0f}×" if t.get("evidently_cpu") and t.get("kingmaker_cpu") else "—"
            out.append(f"| {int(n):,} | {k} | {seconds(t['kingmaker'])} [{seconds(t.get('kingmaker_cpu'))}] | "
                       f"{seconds(t.get('evidently'))} [{seconds(t.get('evidently_cpu'))}] | "
                       f"{seconds(t.get('nannyml'))} [{seconds(t.get('nannyml_cpu'))}] | {ratio} |")
    out.append("")
    out.append("Whole passes (every column verdict of a size, wall [CPU] s): " + "; ".join(
        f"{int(n):,} rows: Kingmaker {s['seconds']['kingmaker']:.1f} (process), Evidently {s['seconds']['evidently']:.0f} "
        f"[{s['seconds'].get('evidently_cpu', 0):.0f}], NannyML {s['seconds']['nannyml']:.0f} [{s['seconds'].get('nannyml_cpu', 0):.0f}]"
        for n, s in r["sizes"].items()) + ".")
    out.append("")
    methods = {}
    for n, s in r["sizes"].items():
        for tool in ("evidently", "nannyml"):
            for key, m in s[f"{tool}_methods"].items():
                methods.setdefault((tool, m), set()).add(int(n))
    out.append("NannyML flags a window when any of its 10 chunks alerts; per chunk of a no-drift window, its alert rate on a "
               "column is " + ", ".join(f"{100 * c['rate']:.0f}% ({c['rows']:,} rows, K = {c['k']})" for c in none_chunks(none)) + ".")
    out.append("")
    out.append("Tests the tools chose by default: " + "; ".join(
        f"{dict(TOOLS)[tool]} {m} at {', '.join(f'{n:,}' for n in sorted(ns))} rows" for (tool, m), ns in sorted(methods.items())) + ". "
               "NannyML's chunks: " + ", ".join(f"{s['nannyml_chunk_size']:,} rows at {int(n):,}" for n, s in r["sizes"].items()) + ".")
    out.append("")
    out.append("```sh")
    out.append(f"{run['command']}   # all of it; the Kingmaker side of one size alone:")
    for n, s in r["sizes"].items():
        out.append(s["commands"]["kingmaker"])
    out.append("```")
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    block = BLOCK
    if len(args) == 4 and args[0] == "--block":
        block, args = args[1], args[2:]
    if len(args) != 2:
        raise SystemExit("usage: drift_report.py [--block NAME] RESULTS.json BENCHMARKS.md")
    src, md = args
    with open(src) as f:
        r = json.load(f)
    rel = os.path.relpath(os.path.abspath(src), os.path.dirname(os.path.abspath(md)))
    text = open(md).read()
    pat = re.compile(rf"(<!-- BEGIN GENERATED: {block} -->\n).*?(<!-- END GENERATED: {block} -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"drift_report.py: {md} has no block {block!r}")
    try:
        body = render(r, rel)
    except Exception as e:  # a broken table must not lose the file
        body = f"_Could not be generated from {rel}: {type(e).__name__}: {e}_"
    text = pat.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)
    with open(md, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
