"""The h5py peer of bench_storage: the same work done with Debian's python3-h5py.
Prints the seconds the work took (interpreter start-up and imports excluded).

  storage_peer.py append PATH ROWS BATCH CHUNK   rows of step, tokens (int64) and 10 float64
                                                 metrics, appended BATCH rows at a time to
                                                 chunked datasets (CHUNK rows per chunk)
  storage_peer.py list STUDY_DIR                 every run's attributes, points and last tokens
"""
import os
import sys
import time

import h5py
import numpy as np

METRICS = [f"metric{k}" for k in range(10)]
RUN_ATTRS = ["size", "n_params_nonembedding", "n_params_total", "token_budget", "mitigation", "seed",
             "status", "attempts", "spec_yaml", "last_error"]


def append(path, rows, batch, chunk):
    start = time.perf_counter()
    with h5py.File(path, "w", libver=("earliest", "v108")) as f:
        t = f.create_group("trajectory")
        f.create_group("probe")
        names = ["step", "tokens"] + METRICS
        datasets = {}
        for name in names:
            dtype = np.int64 if name in ("step", "tokens") else np.float64
            fill = 0 if dtype is np.int64 else np.nan
            datasets[name] = t.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(chunk,), dtype=dtype,
                                              fillvalue=fill)
        for begin in range(0, rows, batch):
            i = np.arange(begin, min(begin + batch, rows), dtype=np.int64)
            x = i.astype(np.float64)
            values = {"step": i, "tokens": 512 * i}
            for k, name in enumerate(METRICS):
                values[name] = x * 0.001 + k
            for name in names:
                d = datasets[name]
                d.resize((begin + len(i),))
                d[begin:] = values[name]
    return time.perf_counter() - start


def list_runs(study_dir):
    start = time.perf_counter()
    table = []
    with h5py.File(os.path.join(study_dir, "study.h5"), "r") as f:
        for run_id, group in f["runs"].items():
            row = {name: group.attrs[name] for name in RUN_ATTRS}
            path = os.path.join(study_dir, "runs", run_id, "run.h5")
            if "trajectory" in group:
                add_extent(row, group)
            elif os.path.exists(path):
                with h5py.File(path, "r") as run_file:
                    add_extent(row, run_file)
            table.append(row)
    assert len(table) > 0
    return time.perf_counter() - start


def add_extent(row, parent):
    tokens = parent["trajectory/tokens"]
    row["points"] = tokens.shape[0]
    row["last_tokens"] = int(tokens[-1]) if tokens.shape[0] else None


if __name__ == "__main__":
    if sys.argv[1] == "append":
        print(append(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])))
    else:
        print(list_runs(sys.argv[2]))
