"""Reads a study written by tests/storage/interop_test.cpp with plain h5py and pandas and
checks every value. Usage: check_study_h5py.py STUDY_DIR. Exits non-zero on a mismatch."""
import math
import os
import sys

import h5py
import numpy as np
import pandas as pd


def load_docs_example():
    """Runs the Python example of docs/storage.md (up to its usage lines), so the example
    users copy is the code tested here. Returns its trajectory_frame function."""
    docs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "storage.md")
    text = open(docs, encoding="utf-8").read()
    blocks = [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]
    code = next(block for block in blocks if "def trajectory_frame(" in block)
    code = code.split('\ndf = trajectory_frame("my_study"', 1)[0]
    namespace = {}
    exec(code, namespace)
    return namespace["trajectory_frame"]


def main(study_dir):
    trajectory_frame = load_docs_example()
    with h5py.File(f"{study_dir}/study.h5", "r") as f:
        assert f.attrs["format_version"] == 1
        assert f.attrs["sweep_yaml"] == "name: interop\nseeds: [0]\n"
        assert f.attrs["sweep_hash"] == "0123abcd"
        assert sorted(f["runs"]) == ["run0000", "run0001"]

        done = f["runs/run0000"]
        a = done.attrs
        assert a["size"] == "1M" and a["mitigation"] == "none" and a["status"] == "done"
        assert a["n_params_nonembedding"] == 1000000 and a["n_params_total"] == 2000000
        assert a["token_budget"] == 50000000 and a["attempts"] == 1 and a["last_error"] == ""
        assert a["seed"] == 18000000000000000000 and a["seed"].dtype == np.uint64
        assert a["spec_yaml"] == "model: {layers: 2}\nseed: 0\n"

        df = trajectory_frame(study_dir, "run0000")
        x = np.arange(5.0)
        assert list(df.index) == [0, 4096, 8192, 12288, 16384]
        assert (df["step"] == 10 * x).all()
        assert np.allclose(df["train_loss"], 4.0 - 0.5 * x)
        assert math.isnan(df["grad_norm"].iloc[0]) and math.isnan(df["grad_norm"].iloc[1])
        assert (df["grad_norm"].iloc[2:] == x[2:]).all()
        assert (df["val_loss[english]"] == 3.0 + x).all() and (df["val_loss[code]"] == 6.0 + x).all()
        assert np.allclose(df["dormant_fraction[2]"], 0.03 * x)
        assert np.isclose(df["attn_entropy[2,1]"].iloc[3], 3.5)
        entropy = done["trajectory/attn_entropy"]
        assert entropy.shape == (5, 3, 2) and entropy.dtype == np.float64
        assert np.allclose(entropy[4], [[4.0, 4.1], [4.2, 4.3], [4.4, 4.5]])
        assert done["trajectory/tokens"].dtype == np.int64
        assert list(done["trajectory/val_loss"].attrs["columns"]) == ["english", "code"]

        p = done["probe"]
        assert (p["tokens"][:] == [0, 16384]).all() and (p["auc"][:] == [12.5, 14.0]).all()
        assert (p["curves"][:] == [[5.0, 4.0, 3.5], [5.5, 4.75, 4.0]]).all()
        assert (p["curve_steps"][:] == [0, 50, 100]).all()
        assert p["scratch_auc"][()] == 11.0 and (p["scratch_curve"][:] == [5.0, 3.5, 3.0]).all()

        running = f["runs/run0001"]
        assert running.attrs["status"] == "running" and running.attrs["attempts"] == 2
        assert running.attrs["last_error"] == "killed by the node"
        assert "trajectory" not in running  # not merged yet: its data is in runs/<id>/run.h5

        law = f["fits/laws/none"]
        assert (law["coefficients"][:] == [[1, 2], [3, 4]]).all()
        assert [s.decode() for s in law["mitigations"][:]] == ["none", "redo"]
        assert list(law["mitigations"].asstr()[:]) == ["none", "redo"]
        assert law.attrs["model"] == "power_law" and law.attrs["samples"] == 200

    # The running run's own file, opened while its writer still has it open.
    with h5py.File(f"{study_dir}/runs/run0001/run.h5", "r") as f:
        assert f.attrs["format_version"] == 1 and f.attrs["run_id"] == "run0001"
    df = trajectory_frame(study_dir, "run0001")  # not merged: the example falls back to run.h5
    assert list(df.index) == [0, 100, 200] and (df["train_loss"] == [9.0, 8.0, 7.0]).all()
    print("h5py read the study correctly")


if __name__ == "__main__":
    main(sys.argv[1])
