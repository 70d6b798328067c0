#!/usr/bin/env python3
"""Runs Kingmaker's benchmarks and writes bench/results/<timestamp>.json.

scripts/bench.sh calls it after building the Go test binary and the venv; run
it through that script (`scripts/bench.sh quick|full`), which passes:

    run.py --mode quick|full --gobin BIN --python .venv/bin/python --tags xgboost --out results.json [--only serve]

Every measurement runs in a process of its own (a Go benchmark of the test
binary, or sklearn_bench.py), so that the peak RSS os.wait4 reports for it is
that measurement's. Go and Python runs of the same figure alternate, and each
is repeated, so that ratios compare runs made side by side; the reports give
medians and ranges. Only the standard library is used here.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)

# What each mode measures. quick is for CI (about 3 minutes); full is what
# BENCHMARKS.md reports (20-30 minutes on 2 cores).
PLANS = {
    "quick": {
        "window": [100_000], "window_rounds": 3, "profile": False,
        # At 100k rows only what fits the budget (not knn or forest: the skip is reported).
        "train_sizes": [10_000, 100_000], "train_reps": 3, "child_budget_s": 8,
        "drift_rows": 100_000, "drift_reps": 3,
        "retrain": [{"rows": 100_000, "algos": "logistic,id3,forest", "trainings": 1, "reps": 2, "pure": True}],
        "big_retrain": None,
        "promote": {"sequential": 50, "rounds": 5, "contenders": 50},
        "serve": {"rows": 10_000, "duration": "2s", "concurrency": "1,8", "batches": "1"},
    },
    "full": {
        "window": [100_000, 1_000_000], "window_rounds": 5, "profile": True,
        "train_sizes": [10_000, 100_000, 1_000_000], "train_reps": 3, "child_budget_s": 900,
        "drift_rows": 1_000_000, "drift_reps": 3,
        "retrain": [
            {"rows": 100_000, "algos": "logistic,id3,forest", "trainings": 1, "reps": 5, "pure": True},
            {"rows": 100_000, "algos": "logistic,id3,forest", "trainings": 2, "reps": 5, "pure": True},
            {"rows": 100_000, "algos": "logistic,id3,forest", "trainings": 1, "parallel": 0, "reps": 5, "pure": True},
        ],
        "big_retrain": {"rows": 1_000_000, "trainings": 1, "reps": 1, "pure": False},
        "promote": {"sequential": 200, "rounds": 20, "contenders": 50},
        "serve": {"rows": 10_000, "duration": "10s", "concurrency": "1,8", "batches": "1,100"},
    },
}

# The sections, in the order they run (--only picks some).
SECTIONS = ["window_load", "window_profile", "train", "train_all_cores", "drift", "retrain", "promote", "serve"]
# Algorithms in the order of the tables; xgboost only when the binary has it.
ALGOS = ["logistic", "id3", "forest", "naive_bayes", "knn", "xgboost"]
# A Go run projected to take longer than this runs once instead of train_reps times.
ONCE_ABOVE_S = 120
# Passes per drift process (the medians are reported): one pass at 100k rows takes tens of milliseconds.
DRIFT_PASSES = 5
# The environment of the training runs: one thread per process on both sides.
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def envs(env):
    """The environment assignments to show before a command."""
    return "".join(f"{k}={v} " for k, v in (env or {}).items() if k == "OMP_NUM_THREADS")


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def rel(path):
    return os.path.relpath(path, REPO) if path.startswith(REPO) else path


class Runner:
    def __init__(self, args):
        self.args = args
        self.plan = PLANS[args.mode]
        self.logs = tempfile.mkdtemp(prefix="kmbench-")
        self.data = os.path.join(BENCH, "data")
        os.makedirs(self.data, exist_ok=True)
        self.n = 0
        self.failures = []

    def child(self, argv, what, cwd=BENCH, timeout=None, env=None):
        """Runs argv, returning (returncode, wall seconds, ru_maxrss in MiB, log path).

        ru_maxrss includes this process's pages at fork time (about 10 MiB:
        this script imports nothing heavy), so the reports use the peak each
        child reads from its own /proc/self/status (VmHWM) and keep this as a
        cross-check."""
        self.n += 1
        path = os.path.join(self.logs, f"{self.n:03d}-{what.replace('/', '_').replace(' ', '_')}.log")
        began = time.perf_counter()
        with open(path, "w") as out:
            out.write("$ " + shlex.join(argv) + "\n")
            out.flush()
            p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                 env={**os.environ, **(env or {})})
            timer = None
            if timeout:
                timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
                timer.start()
            _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            if timer:
                timer.cancel()
        wall = time.perf_counter() - began
        return p.returncode, wall, ru.ru_maxrss / 1024, path

    def gobench(self, name, flags, what, profile=None, timeout=None, env=None):
        """Runs one Go benchmark once and returns its JSON result with the process's figures."""
        out = os.path.join(self.logs, f"{self.n + 1:03d}-{what.replace('/', '_')}.json")
        argv = [self.args.gobin, "-test.run", "^$", "-test.bench", f"^{name}$", "-test.benchtime", "1x",
                "-test.timeout", "3h", "-kmbench.out", out] + flags
        if profile:
            argv += ["-test.cpuprofile", profile]
        code, wall, rss, logpath = self.child(argv, what, timeout=timeout, env=env)
        cmd = envs(env) + "$KMBENCH " + shlex.join(argv[1:argv.index("-kmbench.out")] + flags)
        if code != 0:
            raise RuntimeError(f"{what} failed (exit {code}); log: {logpath}\n{tail(logpath)}")
        with open(out) as f:
            res = json.load(f)
        return res, {"command": cmd, "wall_seconds": wall, "child_peak_rss_mib": rss}

    def python(self, cmd, flags, what, timeout=None, env=None):
        out = os.path.join(self.logs, f"{self.n + 1:03d}-{what.replace('/', '_')}.json")
        argv = [self.args.python, os.path.join(BENCH, "sklearn_bench.py"), cmd] + flags + ["--out", out]
        code, wall, rss, logpath = self.child(argv, what, cwd=REPO, timeout=timeout, env=env)
        if code != 0:
            raise RuntimeError(f"{what} failed (exit {code}); log: {logpath}\n{tail(logpath)}")
        with open(out) as f:
            res = json.load(f)
        shown = [".venv/bin/python", "bench/sklearn_bench.py", cmd] + flags
        return res, {"command": envs(env) + shlex.join(shown), "wall_seconds": wall, "child_peak_rss_mib": rss}

    # --- sections

    def export(self, rows, drifted=False):
        path = os.path.join(self.data, f"bench_{'drifted_' if drifted else ''}{rows}.npy")
        argv = [self.args.gobin, "-test.run", "^TestExport$", "-kmbench.export", self.data, "-kmbench.rows", str(rows)]
        if drifted:
            argv.append("-kmbench.drifted")
        code, wall, _, logpath = self.child(argv, f"export-{rows}{'-drifted' if drifted else ''}")
        if code != 0:
            raise RuntimeError(f"export of {rows} rows failed; log: {logpath}\n{tail(logpath)}")
        return path

    def window_load(self):
        out = {}
        server = cassandra_pid()
        for rows in self.plan["window"]:
            log(f"window load: {rows:,} rows, {self.plan['window_rounds']} interleaved rounds")
            flags = ["-kmbench.rows", str(rows), "-kmbench.reps", str(self.plan["window_rounds"])]
            if server:
                flags += ["-kmbench.serverpid", str(server)]
            res, meta = self.gobench("BenchmarkWindowLoad", flags, f"window-{rows}")
            out[str(rows)] = {**res, **meta}
        return out

    def window_profiles(self, window):
        """CPU profiles of dataset.Scan and the plain scan on the largest window, when asked or when the target is missed."""
        rows = max(self.plan["window"])
        missed = any(w["ratio"].get("dataset.Scan", {}).get("median", 1) < 0.8 for w in window.values())
        if not (self.plan["profile"] or missed):
            return {}
        out = {}
        for read in ["dataset.Scan", "gocql"]:
            log(f"window load: CPU profile of {read} on {rows:,} rows")
            prof = os.path.join(self.logs, f"window-{read}.pprof")
            res, meta = self.gobench("BenchmarkWindowLoad", ["-kmbench.rows", str(rows), "-kmbench.reps", "3", "-kmbench.variant", read],
                                     f"profile-{read}", profile=prof)
            top = subprocess.run(["go", "tool", "pprof", "-top", "-nodecount=25", self.args.gobin, prof],
                                 capture_output=True, text=True, cwd=REPO).stdout
            cum = subprocess.run(["go", "tool", "pprof", "-top", "-cum", "-nodecount=80", self.args.gobin, prof],
                                 capture_output=True, text=True, cwd=REPO).stdout
            out[read] = {"rows": rows, "rows_per_second": res["rows_per_second"][read]["median"],
                         "command": meta["command"] + f" -test.cpuprofile {read}.pprof && go tool pprof -top $KMBENCH {read}.pprof",
                         "top": strip_pprof(top), "top_cum": strip_pprof(cum)}
        return out

    def train(self, algos, sizes=None, reps=None, env=SINGLE_THREAD, label="train"):
        """Trains every algorithm at every size on both sides, alternating, one process each.

        By default every process is held to one thread (OMP_NUM_THREADS=1: XGBoost,
        HistGradientBoosting and BLAS would otherwise use every core), the way every
        other trainer runs; on 2 cores shared with other people's tests, threads that
        spin-wait at OpenMP barriers make multi-threaded times swing tenfold."""
        results, skipped = [], []
        sizes = sizes or self.plan["train_sizes"]
        reps = reps or self.plan["train_reps"]
        for si, rows in enumerate(sizes):
            path = self.export(rows)
            todo = []
            for algo in algos:
                proj = project(results, algo, sizes[:si], rows)
                if proj and proj["seconds"] > self.plan["child_budget_s"]:
                    skipped.append({"algorithm": algo, "rows": rows, **proj})
                    log(f"{label}: skipping {algo} at {rows:,} rows: {proj['reason']}")
                    continue
                todo.append((algo, reps if not proj or proj["seconds"] < ONCE_ABOVE_S else 1, proj))
            for rep in range(reps):
                for algo, n, proj in todo:
                    if rep >= n:
                        continue
                    log(f"{label}: {algo} at {rows:,} rows, round {rep + 1}/{n}")
                    for side in (["go", "python"] if rep % 2 == 0 else ["python", "go"]):
                        try:
                            if side == "go":
                                res, meta = self.gobench("BenchmarkTrain", ["-kmbench.data", os.path.relpath(path, BENCH), "-kmbench.algo", algo],
                                                         f"{label}-go-{algo}-{rows}", timeout=3 * self.plan["child_budget_s"], env=env)
                            else:
                                res, meta = self.python("train", ["--algo", algo, "--data", rel(path)], f"{label}-py-{algo}-{rows}",
                                                        timeout=3 * self.plan["child_budget_s"], env=env)
                        except RuntimeError as e:
                            self.fail(label, e)
                            continue
                        res.update(meta, rep=rep + 1, reps=n)
                        if proj and rep == 0 and side == "go":
                            res["projected"] = proj
                        results.append(res)
        return results, skipped

    def drift(self):
        rows = self.plan["drift_rows"]
        ref, win = self.export(rows), self.export(rows, drifted=True)
        out = []
        for rep in range(self.plan["drift_reps"]):
            log(f"drift: {rows:,} rows, round {rep + 1}/{self.plan['drift_reps']}")
            for side in (["go", "python"] if rep % 2 == 0 else ["python", "go"]):
                if side == "go":
                    res, meta = self.gobench("BenchmarkDrift", ["-kmbench.data", os.path.relpath(ref, BENCH), "-kmbench.window", os.path.relpath(win, BENCH),
                                                                "-kmbench.reps", str(DRIFT_PASSES)], f"drift-go-{rows}")
                else:
                    res, meta = self.python("drift", ["--data", rel(ref), "--window", rel(win), "--passes", str(DRIFT_PASSES)], f"drift-py-{rows}")
                res.update(meta, rep=rep + 1)
                out.append(res)
        return out

    def retrain(self, fast):
        out = []
        runs = list(self.plan["retrain"])
        if self.plan["big_retrain"]:
            runs.append({**self.plan["big_retrain"], "algos": fast})
        for r in runs:
            what = f"retrain-{r['rows']}-{r['algos'].replace(',', '+')}-t{r['trainings']}" + (f"-p{r['parallel']}" if "parallel" in r else "")
            log(f"retrain: {r['algos']} on {r['rows']:,} rows, {r['trainings']} training(s) at once, {r['reps']} round(s)")
            flags = ["-kmbench.rows", str(r["rows"]), "-kmbench.algos", r["algos"], "-kmbench.trainings", str(r["trainings"]),
                     "-kmbench.reps", str(r["reps"]), f"-kmbench.pure={str(r['pure']).lower()}"]
            if "parallel" in r:
                flags += ["-kmbench.parallel", str(r["parallel"])]
            try:
                res, meta = self.gobench("BenchmarkRetrain", flags, what)
            except RuntimeError as e:
                self.fail("retrain", e)
                continue
            out.append({**res, **meta, "plan": r})
        return out

    def promote(self):
        p = self.plan["promote"]
        log(f"promote: {p['sequential']} sequential, {p['rounds']} rounds of {p['contenders']} contenders")
        res, meta = self.gobench("BenchmarkPromote", ["-kmbench.sequential", str(p["sequential"]), "-kmbench.rounds", str(p["rounds"]),
                                                      "-kmbench.contenders", str(p["contenders"])], "promote")
        return {**res, **meta}

    def serve(self):
        p = self.plan["serve"]
        log(f"serve: every algorithm, {p['concurrency']} clients, batches of {p['batches']} rows, {p['duration']} per point")
        path = self.export(p["rows"])
        res, meta = self.gobench("BenchmarkServe", ["-kmbench.data", os.path.relpath(path, BENCH), "-kmbench.duration", p["duration"],
                                                    "-kmbench.concurrency", p["concurrency"], "-kmbench.batches", p["batches"]], "serve")
        return {**res, **meta}

    def fail(self, section, err):
        log(f"{section}: {err}")
        self.failures.append({"section": section, "error": str(err)})


def project(results, algo, smaller, rows):
    """Projects the Go time of algo at rows from the fastest runs at the smaller sizes of this run."""
    med = {}  # the fastest run at each size: the least disturbed by other work on the machine
    for s in smaller:
        runs = sorted((r for r in results if r["side"] == "go" and r["algorithm"] == algo and r["rows"] == s), key=lambda r: r["seconds"])
        if runs:
            med[s] = (runs[0]["seconds"], runs[0])
    if not med:
        return None
    last = max(med)
    t, sample = med[last]
    prev = [s for s in med if s < last]
    growth = med[last][0] / med[max(prev)][0] if prev else rows / last
    growth = max(growth, rows / last)  # at least linear
    seconds = t * growth
    if algo == "knn":
        # Brute force: every holdout row against every stored training row.
        pair = sample["predict_seconds"] / (sample["holdout_rows"] * sample["train_rows"])
        hold, train = rows * 0.25, rows * 0.75
        seconds = max(seconds, pair * hold * train)
        when = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
        reason = (f"projected {when}: brute-force prediction measured at {pair * 1e9:.2f} ns per (holdout row x stored row) "
                  f"at {last:,} rows ({sample['predict_seconds'] / sample['holdout_rows'] * 1e3:.2f} ms per holdout row against "
                  f"{sample['train_rows']:,} stored rows); at {rows:,} rows that is {hold * train:.2e} pairs")
    else:
        reason = f"projected {seconds:.0f} s from {t:.1f} s at {last:,} rows and the growth measured below it (x{growth:.1f})"
    return {"seconds": seconds, "reason": reason, "from_rows": last}


def cassandra_pid():
    """The pid of the local Cassandra: the one scripts/cassandra.sh started, else the only CassandraDaemon on
    the machine; None when there is none or more than one (a cluster), or it is not local."""
    stack = os.environ.get("KINGMAKER_STACK_DIR") or os.path.join(REPO, ".stack")
    try:
        with open(os.path.join(stack, "cassandra", "cassandra.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"CassandraDaemon" in f.read():
                return pid
    except (OSError, ValueError):
        pass
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if b"org.apache.cassandra.service.CassandraDaemon" in f.read():
                        found.append(int(d))
            except OSError:
                continue
    return found[0] if len(found) == 1 else None


def strip_pprof(text):
    """Keeps pprof's summary lines and table, without the file and build id lines."""
    return "\n".join(l for l in text.splitlines() if not l.startswith(("File:", "Build ID:", "Type:", "Time:")))


def tail(path, n=15):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def sh(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_facts(args):
    """The machine and the software the figures come from."""
    import platform

    facts = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    with open("/proc/cpuinfo") as f:
        facts["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown")
    with open("/proc/meminfo") as f:
        kb = next(int(l.split()[1]) for l in f if l.startswith("MemTotal:"))
    facts["ram_gib"] = round(kb / 2**20, 1)
    facts["go"] = sh("go", "version")
    # In a child: importing them here would grow this process, and every
    # child's ru_maxrss counts what this process had when it forked.
    versions = sh(args.python, "-c", "import json, numpy, scipy, sklearn; "
                  "print(json.dumps({m.__name__: m.__version__ for m in (numpy, scipy, sklearn)}))")
    facts.update(json.loads(versions or "{}"))
    facts["git_commit"] = sh("git", "rev-parse", "--short", "HEAD")
    facts["git_dirty_files"] = len([l for l in sh("git", "status", "--porcelain", "--untracked-files=no").splitlines() if l.strip()])
    facts["build_tags"] = args.tags
    facts["xgboost"] = {"built": "xgboost" in args.tags.split(","), "detail": args.xgboost}
    temporal = os.path.join(REPO, "bin", "temporal")
    if os.path.exists(temporal):
        facts["temporal_cli"] = sh(temporal, "--version")
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=sorted(PLANS), required=True)
    ap.add_argument("--gobin", required=True, help="the test binary: go test -c -o BIN ./bench")
    ap.add_argument("--python", required=True, help="the venv's python, with numpy, scipy and scikit-learn")
    ap.add_argument("--tags", default="", help="the build tags of --gobin (xgboost when it has the xgboost trainer)")
    ap.add_argument("--xgboost", default="", help="what scripts/xgboost.sh check said")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="run only these sections (comma-separated, e.g. serve); empty: every one")
    args = ap.parse_args()
    facts = machine_facts(args)
    r = Runner(args)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    only = [s for s in args.only.split(",") if s]
    if set(only) - set(SECTIONS):
        ap.error(f"--only {args.only}: unknown section(s) {', '.join(sorted(set(only) - set(SECTIONS)))}; the sections are {', '.join(SECTIONS)}")
    command = f"scripts/bench.sh {args.mode}" + (f" {','.join(only)}" if only else "")
    res = {"run": {"mode": args.mode, "command": command, "only": only, "started": started.isoformat(timespec="seconds"),
                   "loadavg_start": loadavg(), "logs": r.logs, **facts},
           "timings": {}}
    algos = [a for a in ALGOS if a != "xgboost" or facts.get("xgboost", {}).get("built")]
    fast = "xgboost" if "xgboost" in algos else "logistic"

    def section(name, fn):
        if only and name not in only:
            return
        s = time.perf_counter()
        try:
            res[name] = fn()
        except Exception as e:  # a broken section must not hide the others
            r.fail(name, e)
        res["timings"][name] = time.perf_counter() - s

    log(f"exporting the benchmark grids into {rel(r.data)} (kept between runs)")
    section("window_load", r.window_load)
    section("window_profile", lambda: r.window_profiles(res.get("window_load", {})))

    def train():
        results, skipped = r.train(algos)
        res["train_skipped"] = skipped
        return results
    section("train", train)
    if "xgboost" in algos:
        # The fast trainer and its reference as users run them: every core.
        largest = max(r.plan["train_sizes"])
        section("train_all_cores", lambda: r.train(["xgboost"], sizes=[largest], env={"OMP_NUM_THREADS": str(os.cpu_count())},
                                                   label="train (all cores)")[0])
    section("drift", r.drift)
    section("retrain", lambda: r.retrain(fast))
    section("promote", r.promote)
    section("serve", r.serve)
    res["run"]["seconds"] = time.perf_counter() - t0
    res["run"]["loadavg_end"] = loadavg()
    res["run"]["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    res["failures"] = r.failures
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    log(f"results in {rel(args.out)} ({res['run']['seconds'] / 60:.1f} min); child logs in {r.logs}")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
