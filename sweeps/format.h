#pragma once
// Exact, locale-independent text for numbers and strings, shared by run ids, RunSpec
// YAML and `plan --json`, so that what is written reads back to the same bits.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plascale {

// Shortest "%.17g"-style text that parses back to exactly `value` ("0.001", "1e-08").
std::string exact_number(double value);

// A double-quoted string valid in both JSON and YAML (control characters as \uXXXX).
std::string double_quoted(std::string_view text);

// Token counts as written in specs: 5000000, 5e6, 2.5e6, "50M", "2B", "1.5K" (K, M, B, T are
// powers of 1000). Exact: the value must be a whole number that fits in int64, else nullopt.
std::optional<int64_t> parse_token_count(std::string_view text);

// 50000000 -> "50M", 1500 -> "1.5K", 123 -> "123": exact, for tables.
std::string format_token_count(int64_t tokens);

// 64-bit FNV-1a hash: run ids and sweep hashes. Fixed forever: ids are stored in studies.
uint64_t fnv1a64(std::string_view bytes);

// The current time in ISO 8601 UTC to the second, e.g. "2026-11-23T04:00:00Z" (study
// creation, Slurm job records).
std::string utc_now();

}  // namespace plascale
