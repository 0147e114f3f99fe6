// Seeded mutations of the example specs: every case must parse or fail with InputError,
// never crash, hang or throw anything else. Runs under ASan/UBSan in CI (label sanitize).
// A spec that parses must also expand and round-trip each run through RunSpec YAML.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <random>

#include "spec_fixtures.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"

namespace plascale {
namespace {

using namespace plascale::testing;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// Replacement scalars of other types and extreme values.
const char* const kOddValues[] = {
    "[]", "{}", "[1, 2]", "{a: 1}", "~", "null", "\"\"", "true", "-1", "0", "1e308", "-1e308", "1e-320", ".nan",
    ".inf", "99999999999999999999999", "-9223372036854775808", "9223372036854775807", "2147483648", "4294967296",
    "0x10", "1.5", "3M", "5T", "abc", "\"\\u0000\"", "&anchor 3", "*undefined", "!!binary aGVsbG8=", "'quoted'",
    "|\n  block", "\xff\xfe", "[[[[[[[[", "}}}", "- item", "? key", "1e9999", "1_000", "+7", "0.0000001"};

std::string mutate(const std::string& seed_text, std::mt19937_64& random) {
  auto pick = [&](size_t n) { return static_cast<size_t>(random() % std::max<size_t>(n, 1)); };
  auto lines = split_lines(seed_text);
  int operations = 1 + static_cast<int>(pick(3));
  for (int op = 0; op < operations; ++op) {
    size_t line = pick(lines.size());
    switch (pick(10)) {
      case 0:  // delete a line
        lines.erase(lines.begin() + static_cast<long>(line));
        break;
      case 1:  // duplicate a line
        lines.insert(lines.begin() + static_cast<long>(line), lines[line]);
        break;
      case 2:  // swap two lines
        std::swap(lines[line], lines[pick(lines.size())]);
        break;
      case 3:
      case 4: {  // a value of another type after some "key:"
        auto& text = lines[line];
        size_t colon = text.find(':');
        if (colon == std::string::npos) break;
        size_t end = text.find_first_of(",}]", colon + 1);
        text = text.substr(0, colon + 1) + " " + kOddValues[pick(std::size(kOddValues))] +
               (end == std::string::npos ? "" : text.substr(end));
        break;
      }
      case 5: {  // random bytes somewhere
        auto& text = lines[line];
        size_t at = pick(text.size() + 1);
        for (size_t i = 0, n = 1 + pick(4); i < n; ++i) text.insert(text.begin() + static_cast<long>(at), static_cast<char>(random()));
        break;
      }
      case 6: {  // truncate the whole text
        std::string text = join_lines(lines);
        return text.substr(0, pick(text.size()));
      }
      case 7: {  // deep nesting
        size_t depth = 1 + pick(3000);
        std::string nested = std::string(depth, '[') + "1" + std::string(pick(2) ? depth : depth / 2, ']');
        lines.insert(lines.begin() + static_cast<long>(line), "deep: " + nested);
        break;
      }
      case 8: {  // re-indent a line
        auto& text = lines[line];
        if (pick(2)) text = std::string(1 + pick(6), ' ') + text;
        else if (!text.empty() && text[0] == ' ') text.erase(0, 1 + pick(std::min<size_t>(text.size(), 3)));
        break;
      }
      case 9: {  // numbers in the line blown up or negated
        auto& text = lines[line];
        for (size_t i = 0; i < text.size(); ++i)
          if (std::isdigit(static_cast<unsigned char>(text[i]))) {
            text.insert(i, pick(2) ? "-" : "99999999999");
            break;
          }
        break;
      }
    }
    if (lines.empty()) lines.push_back("");
  }
  return join_lines(lines);
}

enum class Outcome { parsed, input_error };

struct Counts {
  int parsed = 0;
  int rejected = 0;
};

// Runs `check` on `cases` mutations of `seeds`, each in a worker thread so that a hang
// becomes a failure naming the case. `check` returns parsed, or throws InputError.
template <typename Check>
Counts run_cases(const std::vector<std::string>& seeds, int cases, uint64_t stream, Check check) {
  constexpr auto kTimeLimit = std::chrono::seconds(20);
  Counts counts;
  for (int index = 0; index < cases; ++index) {
    std::mt19937_64 random(static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ull + stream);
    std::string text = mutate(seeds[index % seeds.size()], random);
    auto outcome = std::async(std::launch::async, [&] {
      try {
        return check(text);
      } catch (const InputError& error) {
        if (std::string(error.what()).empty()) throw std::logic_error("empty error message");
        return Outcome::input_error;
      }
    });
    if (outcome.wait_for(kTimeLimit) != std::future_status::ready) {
      std::fprintf(stderr, "case %d hangs (over %llds); its text:\n%s\n", index,
                   static_cast<long long>(kTimeLimit.count()), text.c_str());
      std::abort();  // the worker thread cannot be cancelled
    }
    try {
      (outcome.get() == Outcome::parsed ? counts.parsed : counts.rejected)++;
    } catch (const std::exception& error) {
      ADD_FAILURE() << "case " << index << " threw " << typeid(error).name() << ": " << error.what() << "\n" << text;
    }
  }
  return counts;
}

TEST(SpecFuzz, MutatedExamplesFailCleanlyOrParse) {
  const std::vector<std::string> seeds = {read_text(example_path("example.yaml")),
                                          read_text(example_path("zyphra-ladder.yaml")), kMiniSweep};
  Counts counts = run_cases(seeds, 600, 1, [](const std::string& text) {
    // Files are looked up in a folder that does not exist, so no glob can reach real data.
    Sweep sweep = parse_sweep(text, "fuzz-nonexistent/spec.yaml");
    for (const auto& run : expand_sweep(sweep)) {
      RunSpec back = parse_runspec(runspec_to_yaml(run), "fuzz-nonexistent/run.yaml");
      if (!(back == run)) throw std::logic_error("RunSpec YAML round trip changed run " + run.id);
    }
    return Outcome::parsed;
  });
  // Both outcomes must occur, or the mutations are not exercising anything.
  EXPECT_GT(counts.parsed, 20);
  EXPECT_GT(counts.rejected, 200);
  std::printf("600 sweep cases: %d parsed, %d rejected with InputError\n", counts.parsed, counts.rejected);
}

// What `plascale train` reads: mutated RunSpec files must parse or fail with InputError.
TEST(SpecFuzz, MutatedRunSpecsFailCleanlyOrParse) {
  std::vector<std::string> seeds;
  for (const auto& run : expand_sweep(load_default_sweep())) seeds.push_back(runspec_to_yaml(run));
  seeds.push_back(runspec_to_yaml(expand_sweep(load_sweep(example_path("zyphra-ladder.yaml"))).back()));
  // Without their id line, mutated files get past the id check into deeper validation.
  for (size_t i = 0, n = seeds.size(); i < n; ++i) {
    std::string text = seeds[i];
    size_t id_line = text.find("\nid: ");
    text.erase(id_line + 1, text.find('\n', id_line + 1) - id_line);
    seeds.push_back(text);
  }
  Counts counts = run_cases(seeds, 300, 7, [](const std::string& text) {
    RunSpec run = parse_runspec(text, "fuzz-nonexistent/run.yaml");
    if (run.id != run_id(run)) throw std::logic_error("id not set from the content");
    return Outcome::parsed;
  });
  EXPECT_GT(counts.parsed, 10);
  EXPECT_GT(counts.rejected, 100);
  std::printf("300 RunSpec cases: %d parsed, %d rejected with InputError\n", counts.parsed, counts.rejected);
}

TEST(SpecFuzz, DeepNestingIsRejectedNotACrash) {
  for (size_t depth : {100u, 1000u, 5000u, 100000u}) {
    std::string text = "name: " + std::string(depth, '[') + std::string(depth, ']') + "\n";
    EXPECT_THROW(parse_sweep(text, "deep.yaml"), InputError) << depth;
    text = "name: " + std::string(depth, '{');
    EXPECT_THROW(parse_sweep(text, "deep.yaml"), InputError) << depth;
  }
}

}  // namespace
}  // namespace plascale
