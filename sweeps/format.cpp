#include "sweeps/format.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace plascale {

std::string exact_number(double value) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error != std::errc()) return "nan";
  return std::string(buffer, end);
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string double_quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

namespace {

// value = digits * 10^exponent, kept exact in 128 bits; fails on overflow or a fraction.
std::optional<int64_t> scaled_integer(__int128 digits, int exponent) {
  constexpr __int128 kMax = INT64_MAX;
  for (; exponent > 0; --exponent) {
    if (digits > kMax / 10) return std::nullopt;
    digits *= 10;
  }
  for (; exponent < 0; ++exponent) {
    if (digits % 10 != 0) return std::nullopt;
    digits /= 10;
  }
  if (digits > kMax) return std::nullopt;
  return static_cast<int64_t>(digits);
}

}  // namespace

std::optional<int64_t> parse_token_count(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int exponent = 0;
  switch (text.back()) {
    case 'K': case 'k': exponent = 3; break;
    case 'M': exponent = 6; break;
    case 'B': case 'G': exponent = 9; break;
    case 'T': exponent = 12; break;
    default: break;
  }
  if (exponent != 0) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);

  __int128 digits = 0;
  int significant = 0;
  bool any_digit = false, seen_point = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      any_digit = true;
      if (digits != 0 || c != '0') ++significant;
      if (significant > 30) return std::nullopt;
      digits = digits * 10 + (c - '0');
      if (seen_point) --exponent;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else if (c == '_' && any_digit) {
      continue;  // 5_000_000
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < text.size()) {
    if ((text[i] != 'e' && text[i] != 'E') || i + 1 == text.size()) return std::nullopt;
    int written = 0;
    auto rest = text.substr(i + 1);
    if (rest.front() == '+') rest.remove_prefix(1);
    auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), written);
    if (error != std::errc() || end != rest.data() + rest.size() || written > 40 || written < -40)
      return std::nullopt;
    exponent += written;
  }
  return scaled_integer(digits, exponent);
}

std::string format_token_count(int64_t tokens) {
  static constexpr struct { int64_t scale; char suffix; } kUnits[] = {
      {1'000'000'000'000, 'T'}, {1'000'000'000, 'B'}, {1'000'000, 'M'}, {1'000, 'K'}};
  for (auto unit : kUnits) {
    if (tokens < unit.scale) continue;
    // Up to three decimals, only where exact.
    for (int decimals = 0; decimals <= 3; ++decimals) {
      int64_t step = unit.scale;
      for (int d = 0; d < decimals; ++d) step /= 10;
      if (tokens % step != 0) continue;
      int64_t whole = tokens / unit.scale, fraction = (tokens % unit.scale) / step;
      std::string text = std::to_string(whole);
      if (decimals > 0) {
        std::string digits = std::to_string(fraction);
        text += '.';
        text.append(decimals - digits.size(), '0');
        text += digits;
      }
      return text + unit.suffix;
    }
    break;
  }
  return std::to_string(tokens);
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace plascale
