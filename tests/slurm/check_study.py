"""Checks a study written through Slurm, with h5py only (no plascale code).

usage: check_study.py STUDY [--reference STUDY] [--fits]

Every run is done once, its trajectory is contiguous (tokens strictly increasing from 0 to
the run's budget, no repeated or missing rows), and with --reference every trajectory and
probe dataset equals the reference study's bit for bit (same run ids). With --fits, study.h5
holds /fits/onsets. Prints "OK: N runs" or the first problem, exit 1.
"""
import argparse
import sys

import h5py
import numpy as np


def fail(message):
    print(f"check_study: {message}")
    sys.exit(1)


def datasets(group):
    found = {}
    group.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("study")
    parser.add_argument("--reference")
    parser.add_argument("--fits", action="store_true")
    args = parser.parse_args()
    with h5py.File(f"{args.study}/study.h5", "r") as study:
        runs = study["runs"]
        for run_id in runs:
            run = runs[run_id]
            status = run.attrs["status"]
            status = status.decode() if isinstance(status, bytes) else status
            if status != "done":
                fail(f"run {run_id} is {status}, not done")
            tokens = run["trajectory/tokens"][()]
            if tokens[0] != 0 or tokens[-1] != run.attrs["token_budget"]:
                fail(f"run {run_id}: trajectory spans tokens {tokens[0]}..{tokens[-1]}, not 0..{run.attrs['token_budget']}")
            if not np.all(np.diff(tokens) > 0):
                fail(f"run {run_id}: tokens not strictly increasing (repeated or reordered rows): {tokens.tolist()}")
            for name, values in datasets(run["trajectory"]).items():
                if len(values) != len(tokens):
                    fail(f"run {run_id}: trajectory/{name} has {len(values)} rows, tokens has {len(tokens)}")
        if args.reference:
            with h5py.File(f"{args.reference}/study.h5", "r") as reference:
                if sorted(runs) != sorted(reference["runs"]):
                    fail(f"run ids {sorted(runs)} differ from the reference's {sorted(reference['runs'])}")
                for run_id in runs:
                    for part in ("trajectory", "probe"):
                        ours = datasets(runs[run_id][part])
                        theirs = datasets(reference["runs"][run_id][part])
                        if sorted(ours) != sorted(theirs):
                            fail(f"run {run_id}: {part} datasets {sorted(ours)} differ from {sorted(theirs)}")
                        for name in ours:
                            if not np.array_equal(ours[name], theirs[name], equal_nan=ours[name].dtype.kind == "f"):
                                fail(f"run {run_id}: {part}/{name} differs from the uninterrupted reference")
        if args.fits and ("fits" not in study or "onsets" not in study["fits"]):
            fail("study.h5 has no /fits/onsets: the fit job did not write its results")
        print(f"OK: {len(runs)} runs")


if __name__ == "__main__":
    main()
