#include "worker/rng.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace plascale {
namespace {

constexpr uint32_t kPhiloxMultiplier0 = 0xD2511F53u;
constexpr uint32_t kPhiloxMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kPhiloxWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1
constexpr uint64_t kNoBlock = ~uint64_t{0};

uint64_t splitmix_finalise(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

}  // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t product0 = uint64_t{kPhiloxMultiplier0} * counter[0];
    const uint64_t product1 = uint64_t{kPhiloxMultiplier1} * counter[2];
    const uint32_t hi0 = static_cast<uint32_t>(product0 >> 32), lo0 = static_cast<uint32_t>(product0);
    const uint32_t hi1 = static_cast<uint32_t>(product1 >> 32), lo1 = static_cast<uint32_t>(product1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
    key[0] += kPhiloxWeyl0;
    key[1] += kPhiloxWeyl1;
  }
  return counter;
}

uint64_t derive_seed(uint64_t seed, std::string_view purpose, std::initializer_list<uint64_t> indices) {
  uint64_t key = splitmix_finalise(seed);
  key = splitmix_finalise(key ^ fnv1a(purpose));
  for (uint64_t index : indices) key = splitmix_finalise(key ^ splitmix_finalise(index));
  return key;
}

std::array<float, 4> philox_normals(uint64_t key, uint32_t a, uint32_t b) {
  const std::array<uint32_t, 4> words =
      philox4x32({a, b, 0, 0}, {static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)});
  std::array<float, 4> normals;
  for (int pair = 0; pair < 2; ++pair) {
    const float u1 = (static_cast<float>(words[2 * pair]) + 0.5f) * 0x1.0p-32f;
    const float u2 = static_cast<float>(words[2 * pair + 1]) * 0x1.0p-32f;
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float angle = 2.0f * std::numbers::pi_v<float> * u2;
    normals[2 * pair] = radius * std::cos(angle);
    normals[2 * pair + 1] = radius * std::sin(angle);
  }
  return normals;
}

Rng::Rng(RngState state) : key_(state.key), words_drawn_(state.words_drawn), cached_block_(kNoBlock) {}

void Rng::refill() {
  const uint64_t block = words_drawn_ / 4;
  block_words_ = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0, 0},
                            {static_cast<uint32_t>(key_), static_cast<uint32_t>(key_ >> 32)});
  cached_block_ = block;
}

uint32_t Rng::next_u32() {
  if (words_drawn_ / 4 != cached_block_) refill();
  return block_words_[words_drawn_++ % 4];
}

uint64_t Rng::next_u64() {
  const uint64_t low = next_u32();
  return low | (uint64_t{next_u32()} << 32);
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::uniform_open() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

uint64_t Rng::below(uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("Rng::below: bound must be positive");
  // Rejection of the top partial range keeps every value equally likely.
  const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % bound + 1) % bound;
  uint64_t value;
  do {
    value = next_u64();
  } while (value > limit);
  return value % bound;
}

double Rng::normal() {
  const double radius = std::sqrt(-2.0 * std::log(uniform_open()));
  return radius * std::cos(2.0 * std::numbers::pi * uniform());
}

void Rng::fill_normal(std::span<float> out, double mean, double stddev) {
  for (float& value : out) value = static_cast<float>(mean + stddev * normal());
}

}  // namespace plascale
