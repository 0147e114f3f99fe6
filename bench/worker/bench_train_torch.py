#!/usr/bin/env python3
"""PyTorch CPU peer of bench/worker/bench_train.cpp: the same GPT (the model class of
tests/reference/gpt_reference.py), float32, the same threads, batch and context, the same
step (zero grad, forward + backward, clip to 1.0, AdamW). Prints the median seconds per
step after the warmup steps as `median_step_seconds X`."""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "reference"))
from gpt_reference import GPT  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    for name in ("layers", "d-model", "heads", "context", "vocab", "mlp-hidden", "sequences", "threads", "warmup",
                 "steps"):
        parser.add_argument(f"--{name}", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = GPT(args.layers, args.d_model, args.heads, args.context, args.vocab, args.mlp_hidden)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    times = []
    for step in range(args.warmup + args.steps):
        inputs = torch.randint(args.vocab, (args.sequences, args.context))
        targets = torch.randint(args.vocab, (args.sequences, args.context))
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(inputs).view(-1, args.vocab), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    print(f"median_step_seconds {statistics.median(times)}")


if __name__ == "__main__":
    main()
