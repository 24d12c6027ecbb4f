"""Runs the console's browser checks against a running `strata serve`.

    python3 run.py views URL SHOTS_DIR   # seeds data, runs check_shell.py and every
                                         # check_<view>.py, measures the first load
    python3 run.py auth URL SHOTS_DIR    # check_auth.py (the server has tokens on; the
                                         # tokens come in STRATA_CONSOLE_TOKENS, JSON)

Prints one line per check and exits 1 if any failed (an assertion, an exception, or a
SEVERE browser log entry while it ran). Started by server/tests/console.rs.
"""
import glob
import importlib.util
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import seed  # noqa: E402


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_checks(c, data, paths):
    failed = []
    for path in paths:
        name = os.path.basename(path)[:-3]
        c.errors()  # drop what earlier checks left
        c.allowed = []
        try:
            load(path).run(c, data)
            errs = c.errors()
            if errs:
                raise AssertionError("browser console errors:\n" + harness.dump(errs))
            print(f"ok   {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported, then the next check runs
            failed.append(name)
            print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
            try:
                c.shot(f"failed-{name}")
            except Exception:  # noqa: BLE001
                pass
    return failed


def main():
    mode, url, shots = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    for old in glob.glob(os.path.join(shots, "*.png")):
        os.remove(old)  # a screenshot left by an earlier run would pass for this one's
    c = harness.Console(url, shots)
    try:
        if mode == "views":
            data = seed.seed(url)
            checks = [os.path.join(HERE, "check_shell.py")] + sorted(
                p for p in glob.glob(os.path.join(HERE, "check_*.py"))
                if os.path.basename(p) not in ("check_shell.py", "check_auth.py"))
            failed = run_checks(c, data, checks)
            figures = harness.load_figures(c)
            with open(os.path.join(shots, "first-load.json"), "w") as f:
                json.dump(figures, f, indent=1, sort_keys=True)
            print("first load: " + json.dumps(figures, sort_keys=True), flush=True)
        elif mode == "auth":
            data = {"tokens": json.loads(os.environ["STRATA_CONSOLE_TOKENS"])}
            failed = run_checks(c, data, [os.path.join(HERE, "check_auth.py")])
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    finally:
        c.close()
    if failed:
        print(f"{len(failed)} check(s) failed: {', '.join(failed)}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
