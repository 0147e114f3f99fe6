"""Checks files left by storage_crash_writer after a kill -9, with plain h5py.

Arguments: run:PATH:ROWS:PROBES or study:PATH:UPDATES. The values mirror
tests/storage/crash_values.h. Exits non-zero on the first mismatch."""
import sys

import h5py
import numpy as np

CYCLE = ["running", "failed", "running", "done"]
RUNS = 12


def check_run(path, rows, probes):
    with h5py.File(path, "r") as f:
        t = f["trajectory"]
        n = min(t[name].shape[0] for name in t)
        assert n >= rows, f"{path}: {n} rows readable, {rows} were flushed"
        i = np.arange(rows)
        assert (t["step"][:rows] == i).all()
        assert (t["tokens"][:rows] == 256 * i).all()
        assert (t["loss"][:rows] == 0.5 * i).all()
        assert (t["lr"][:rows] == i + 0.25).all()
        assert (t["val_loss"][:rows] == np.stack([i + 0.1, i + 0.2], axis=1)).all()
        assert list(t["val_loss"].attrs["columns"]) == ["a", "b"]
        expected = np.stack([i, i + 1, i + 2, i + 3], axis=1).reshape(rows, 2, 2)
        assert (t["attn_entropy"][:rows] == expected).all()
        p = f["probe"]
        if probes:
            k = np.arange(probes)
            assert (p["tokens"][:probes] == 2560 * k).all()
            assert (p["auc"][:probes] == 1000.0 + k).all()
            assert (p["curves"][:probes] == np.stack([k, k + 0.5, k + 0.75], axis=1)).all()
            assert (p["curve_steps"][:] == [0, 5, 10]).all()


def check_study(path, updates):
    with h5py.File(path, "r") as f:
        assert f.attrs["format_version"] == 1
        for run in range(RUNS):
            attrs = f["runs"][f"r{run:02d}"].attrs
            expected = 0
            for k in range(run, updates, RUNS):
                expected = k + 1
            attempts = int(attrs["attempts"])
            in_flight = updates % RUNS == run and attempts == updates + 1
            assert in_flight or attempts == expected, f"{path} r{run:02d}: attempts {attempts}, expected {expected}"
            if attempts == 0:
                assert attrs["status"] == "pending"
            else:
                k = attempts - 1
                assert attrs["status"] == CYCLE[k % 4], (path, run, attrs["status"])
                assert attrs["last_error"] == (f"error {k}" if CYCLE[k % 4] == "failed" else "")


def main():
    for arg in sys.argv[1:]:
        kind, rest = arg.split(":", 1)
        if kind == "run":
            path, rows, probes = rest.rsplit(":", 2)
            check_run(path, int(rows), int(probes))
        else:
            path, updates = rest.rsplit(":", 1)
            check_study(path, int(updates))
    print(f"checked {len(sys.argv) - 1} files")


if __name__ == "__main__":
    main()
