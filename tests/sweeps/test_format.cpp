#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

#include "sweeps/format.h"

namespace plascale {
namespace {

TEST(TokenCount, AcceptsIntegersFloatsAndSuffixesExactly) {
  EXPECT_EQ(parse_token_count("5000000"), 5'000'000);
  EXPECT_EQ(parse_token_count("5e6"), 5'000'000);
  EXPECT_EQ(parse_token_count("5E+6"), 5'000'000);
  EXPECT_EQ(parse_token_count("2.5e6"), 2'500'000);
  EXPECT_EQ(parse_token_count("314.8e6"), 314'800'000);
  EXPECT_EQ(parse_token_count("50M"), 50'000'000);
  EXPECT_EQ(parse_token_count("2B"), 2'000'000'000);
  EXPECT_EQ(parse_token_count("1.5K"), 1'500);
  EXPECT_EQ(parse_token_count("128k"), 128'000);
  EXPECT_EQ(parse_token_count("1.92T"), 1'920'000'000'000);
  EXPECT_EQ(parse_token_count("5_000_000"), 5'000'000);
  EXPECT_EQ(parse_token_count("9223372036854775807"), std::numeric_limits<int64_t>::max());
  // A double would round this; the parser must not.
  EXPECT_EQ(parse_token_count("9007199254740993"), int64_t{9007199254740993});
}

TEST(TokenCount, RejectsFractionsOverflowAndJunk) {
  for (const char* bad : {"", "M", "1.5", "1e-3", "0.0005K", "-5", "5MB", "1e400", "9223372036854775808", "10T0",
                          "abc", "1..2", "1e", "e5", "nan", "inf", "1.23456789e3"})
    EXPECT_FALSE(parse_token_count(bad).has_value()) << bad;
}

TEST(TokenCount, FormatsExactly) {
  EXPECT_EQ(format_token_count(50'000'000), "50M");
  EXPECT_EQ(format_token_count(1'024'000), "1.024M");
  EXPECT_EQ(format_token_count(1'500), "1.5K");
  EXPECT_EQ(format_token_count(123), "123");
  EXPECT_EQ(format_token_count(1'920'000'000'000), "1.92T");
  EXPECT_EQ(format_token_count(1'000'001), "1000001");  // not exact with 3 decimals
  for (int64_t tokens : {int64_t{7}, int64_t{128'000}, int64_t{5'000'000'000}, int64_t{1'234'500}})
    EXPECT_EQ(parse_token_count(format_token_count(tokens)), tokens);
}

TEST(ExactNumber, RoundTripsEveryDouble) {
  for (double value : {0.001, 3e-3, 1e-8, 0.1, 1.0 / 3.0, 2.0e300, 5e-324, 0.0, -1.5}) {
    std::string text = exact_number(value);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
  }
  EXPECT_EQ(exact_number(0.001), "0.001");
  EXPECT_EQ(exact_number(100.0), "100");
}

TEST(Quoted, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(double_quoted("plain"), "\"plain\"");
  EXPECT_EQ(double_quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(double_quoted(std::string("x\ny\0", 4)), "\"x\\u000ay\\u0000\"");
}

TEST(Fnv1a, MatchesPublishedVectors) {
  // Test vectors of the FNV reference (Fowler, Noll, Vo).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
}  // namespace plascale
