#!/usr/bin/env python3
"""PyTorch reference for plascale's CPU backend (run by tests/reference/test_torch_reference.cpp).

Rebuilds the GPT model of worker/backend.h in PyTorch (float64) from the weights the C++ test
wrote, and checks the C++ logits, loss and every gradient, then trains 10 AdamW steps with
global-norm clipping and checks the 10 losses. Errors are relative and norm-wise per tensor:
||ours - torch|| / ||torch||; every one must be below 1e-5. Exits 0 when all match.

Input file, little-endian, in this order:
  int32[9]    layers, d_model, heads, context, vocab, mlp_hidden, sequences, seq_len, steps
  float64[6]  lr, beta1, beta2, eps, weight_decay, grad_clip
  float32[P]  initial parameters in the flat layout of worker/param_layout.h
  steps x (int32[tokens] inputs, int32[tokens] targets)
  float32[tokens * vocab]  logits of batch 0 before any update
  float32[P]  gradient of batch 0's mean loss before any update
  float64[steps]  loss of each step's batch, before that step's update
"""
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOLERANCE = 1e-5


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, hidden)
        self.mlp_proj = nn.Linear(hidden, d)

    def forward(self, x):
        batch, seq_len, d = x.shape
        head_dim = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (t.view(batch, seq_len, self.heads, head_dim).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / head_dim**0.5
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool).tril()
        attention = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (attention @ v).transpose(1, 2).reshape(batch, seq_len, d)
        x = x + self.proj(y)
        return x + self.mlp_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers, d, heads, context, vocab, hidden):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, hidden) for _ in range(layers))
        self.lnf = nn.LayerNorm(d)

    def forward(self, tokens):
        x = self.wte(tokens) + self.wpe(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.lnf(x) @ self.wte.weight.T  # tied output head

    def layout_order(self):
        """(name, parameter) in the order of worker/param_layout.h."""
        tensors = [("wte", self.wte.weight), ("wpe", self.wpe.weight)]
        for l, b in enumerate(self.blocks):
            for name, p in [("ln1.weight", b.ln1.weight), ("ln1.bias", b.ln1.bias),
                            ("attn.qkv.weight", b.qkv.weight), ("attn.qkv.bias", b.qkv.bias),
                            ("attn.proj.weight", b.proj.weight), ("attn.proj.bias", b.proj.bias),
                            ("ln2.weight", b.ln2.weight), ("ln2.bias", b.ln2.bias),
                            ("mlp.fc.weight", b.fc.weight), ("mlp.fc.bias", b.fc.bias),
                            ("mlp.proj.weight", b.mlp_proj.weight), ("mlp.proj.bias", b.mlp_proj.bias)]:
                tensors.append((f"h.{l}.{name}", p))
        return tensors + [("lnf.weight", self.lnf.weight), ("lnf.bias", self.lnf.bias)]


class Reader:
    def __init__(self, path):
        self.data = open(path, "rb").read()
        self.at = 0

    def take(self, dtype, count):
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values


def relative_error(ours, reference):
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    return np.linalg.norm(ours - reference) / max(np.linalg.norm(reference), 1e-30)


def main(path):
    torch.set_default_dtype(torch.float64)
    reader = Reader(path)
    layers, d, heads, context, vocab, hidden, sequences, seq_len, steps = reader.take("<i4", 9)
    lr, beta1, beta2, eps, weight_decay, grad_clip = reader.take("<f8", 6)
    model = GPT(layers, d, heads, context, vocab, hidden)
    tensors = model.layout_order()
    total = sum(p.numel() for _, p in tensors)
    initial = reader.take("<f4", total)
    tokens = sequences * seq_len
    batches = []
    for _ in range(steps):
        inputs = torch.from_numpy(reader.take("<i4", tokens).astype(np.int64)).view(sequences, seq_len)
        targets = torch.from_numpy(reader.take("<i4", tokens).astype(np.int64)).view(sequences, seq_len)
        batches.append((inputs, targets))
    our_logits = reader.take("<f4", tokens * vocab)
    our_grads = reader.take("<f4", total)
    our_losses = reader.take("<f8", steps)
    assert reader.at == len(reader.data), "trailing bytes in the reference file"

    offset = 0
    with torch.no_grad():
        for _, p in tensors:
            p.copy_(torch.from_numpy(initial[offset:offset + p.numel()].astype(np.float64)).view_as(p))
            offset += p.numel()

    failures = []

    def check(what, ours, reference):
        error = relative_error(ours, reference)
        status = "ok" if error < TOLERANCE else "FAIL"
        print(f"{status:4} {what:24} relative error {error:.2e}")
        if error >= TOLERANCE:
            failures.append(what)

    inputs, targets = batches[0]
    logits = model(inputs)
    loss = F.cross_entropy(logits.view(-1, vocab), targets.view(-1))
    loss.backward()
    check("logits", our_logits, logits.detach().numpy().ravel())
    check("loss", [our_losses[0]], [loss.item()])
    offset = 0
    for name, p in tensors:
        check(f"grad {name}", our_grads[offset:offset + p.numel()], p.grad.numpy().ravel())
        offset += p.numel()

    decay = [p for _, p in tensors if p.dim() >= 2]
    no_decay = [p for _, p in tensors if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=lr, betas=(beta1, beta2), eps=eps)
    model.zero_grad()
    losses = []
    for inputs, targets in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs).view(-1, vocab), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        losses.append(loss.item())
    for step, (ours, reference) in enumerate(zip(our_losses, losses)):
        check(f"loss of step {step + 1}", [ours], [reference])
    if failures:
        print(f"{len(failures)} mismatches: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
