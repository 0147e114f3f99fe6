"""Peer for bench_data: the same work in numpy, timed in the same run.

Usage: bench_data_numpy.py TABLE_DIR SEQUENCES LENGTH REPEATS SHARD VOCAB
Prints two lines, "generate SECONDS" and "validate SECONDS" (medians over REPEATS).

generate: walks the synthetic language exported by bench_data (same successor table,
classes and rank thresholds, same burn-in), vectorised over SEQUENCES sequences.
validate: checks an llm.c shard like worker/data/token_file.cpp does (header magic and
version, file size against the count, every token < VOCAB) on a read-only memory map.
"""
import os
import sys
import time

import numpy as np


def median(values):
    return float(np.median(np.array(values)))


def main():
    table_dir, sequences, length, repeats, shard, vocab = sys.argv[1:7]
    sequences, length, repeats, vocab = int(sequences), int(length), int(repeats), int(vocab)
    meta = dict(line.split() for line in open(os.path.join(table_dir, "meta.txt")))
    branching, class_states = int(meta["branching"]), int(meta["class_states"])
    dropped, classes = int(meta["dropped"]), int(meta["classes"])
    alphabet = np.fromfile(os.path.join(table_dir, "alphabet.i32"), dtype=np.int32)
    alphabet_index = np.fromfile(os.path.join(table_dir, "alphabet_index.i32"), dtype=np.int32)
    token_class = np.fromfile(os.path.join(table_dir, "token_class.u8"), dtype=np.uint8).astype(np.int64)
    successors = np.fromfile(os.path.join(table_dir, "successors.i32"), dtype=np.int32).reshape(-1, branching)
    thresholds = np.fromfile(os.path.join(table_dir, "thresholds.u32"), dtype=np.uint32)
    rng = np.random.Generator(np.random.Philox(1))
    total = dropped + length

    def generate():
        words = rng.integers(0, 2**32, size=(total, sequences), dtype=np.uint32)
        token = alphabet[words[0] % np.uint32(len(alphabet))]
        class_code = np.zeros(sequences, dtype=np.int64)
        out = np.empty((sequences, length), dtype=np.int32)
        for t in range(total):
            if t >= dropped:
                out[:, t - dropped] = token
            if t + 1 == total:
                break
            state = alphabet_index[token].astype(np.int64) * class_states + class_code
            rank = np.searchsorted(thresholds, words[t + 1], side="right")
            if class_states > 1:
                class_code = (class_code * classes + token_class[token]) % class_states
            token = successors[state, rank]
        return out

    def validate():
        header = np.fromfile(shard, dtype=np.int32, count=256)
        if header[0] != 20240520 or header[1] != 1:
            raise SystemExit(f"{shard}: bad header")
        count = int(header[2])
        if os.path.getsize(shard) != 1024 + 2 * count:
            raise SystemExit(f"{shard}: size does not match the count")
        tokens = np.memmap(shard, dtype=np.uint16, mode="r", offset=1024, shape=(count,))
        if (tokens >= vocab).any():
            raise SystemExit(f"{shard}: token outside the vocabulary")

    generate_times, validate_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        generate()
        generate_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        validate()
        validate_times.append(time.perf_counter() - start)
    print("generate", median(generate_times))
    print("validate", median(validate_times))


if __name__ == "__main__":
    main()
