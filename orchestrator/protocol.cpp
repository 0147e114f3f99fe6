#include "orchestrator/protocol.h"

#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace plascale {

namespace {

// Fields in order, numbers in the machine's byte order (every rank of a job runs the same
// binary on the same architecture), strings and lists as a count then the elements.
class Writer {
 public:
  template <typename Number>
  Writer& number(Number value) {
    static_assert(std::is_arithmetic_v<Number>);
    const char* bytes = reinterpret_cast<const char*>(&value);
    out_.insert(out_.end(), bytes, bytes + sizeof(value));
    return *this;
  }
  Writer& text(const std::string& value) {
    number<uint32_t>(static_cast<uint32_t>(value.size()));
    out_.insert(out_.end(), value.begin(), value.end());
    return *this;
  }
  Writer& ints(const std::vector<int>& values) {
    number<uint32_t>(static_cast<uint32_t>(values.size()));
    for (int value : values) number(value);
    return *this;
  }
  MessageBytes take() { return std::move(out_); }

 private:
  MessageBytes out_;
};

class Reader {
 public:
  Reader(std::span<const char> bytes, const char* what) : bytes_(bytes), what_(what) {}

  template <typename Number>
  Number number() {
    Number value;
    std::memcpy(&value, take(sizeof(value)), sizeof(value));
    return value;
  }
  std::string text() {
    const auto size = number<uint32_t>();
    const char* start = take(size);
    return std::string(start, size);
  }
  std::vector<int> ints() {
    const auto size = number<uint32_t>();
    std::vector<int> values;
    for (uint32_t i = 0; i < size; ++i) values.push_back(number<int>());
    return values;
  }
  // Every byte must have been read: a longer message is another kind or another version.
  void finish() const {
    if (position_ != bytes_.size()) fail();
  }

 private:
  const char* take(size_t size) {
    if (size > bytes_.size() - position_) fail();
    const char* start = bytes_.data() + position_;
    position_ += size;
    return start;
  }
  [[noreturn]] void fail() const {
    throw std::runtime_error(std::string("malformed ") + what_ + " message (" + std::to_string(bytes_.size()) +
                             " bytes)");
  }
  std::span<const char> bytes_;
  const char* what_;
  size_t position_ = 0;
};

RunEnd run_end_from(int value) {
  switch (value) {
    case static_cast<int>(RunEnd::completed):
    case static_cast<int>(RunEnd::diverged):
    case static_cast<int>(RunEnd::failed):
    case static_cast<int>(RunEnd::stopped):
    case static_cast<int>(RunEnd::rejected):
      return static_cast<RunEnd>(value);
  }
  throw std::runtime_error("malformed result message: run end " + std::to_string(value));
}

}  // namespace

MessageBytes encode(const WorkerOffer& offer) {
  return Writer().number(offer.worker).number(offer.node).ints(offer.free_gpus).number<uint8_t>(offer.cpu_slot_free).take();
}

MessageBytes encode(const RunOrder& order) {
  const Assignment& a = order.assignment;
  return Writer().text(a.run_id).number(a.worker).ints(a.gpus).number(a.attempt).number(order.threads).take();
}

MessageBytes encode(const ProgressReport& report) {
  return Writer()
      .text(report.run_id)
      .number(report.worker)
      .number(report.tokens)
      .number(report.total_tokens)
      .number(report.loss)
      .take();
}

MessageBytes encode(const RunReport& report) {
  return Writer()
      .text(report.run_id)
      .number(report.worker)
      .number(static_cast<int>(report.end))
      .number(report.exit_code)
      .number(report.signal)
      .text(report.error)
      .number(report.tokens)
      .take();
}

MessageBytes encode(const StopOrder& order) { return Writer().number<uint8_t>(order.preempt).take(); }

WorkerOffer decode_offer(std::span<const char> bytes) {
  Reader in(bytes, "request");
  WorkerOffer offer;
  offer.worker = in.number<int>();
  offer.node = in.number<int>();
  offer.free_gpus = in.ints();
  offer.cpu_slot_free = in.number<uint8_t>() != 0;
  in.finish();
  return offer;
}

RunOrder decode_run_order(std::span<const char> bytes) {
  Reader in(bytes, "assign");
  RunOrder order;
  order.assignment.run_id = in.text();
  order.assignment.worker = in.number<int>();
  order.assignment.gpus = in.ints();
  order.assignment.attempt = in.number<int>();
  order.threads = in.number<int>();
  in.finish();
  return order;
}

ProgressReport decode_progress(std::span<const char> bytes) {
  Reader in(bytes, "progress");
  ProgressReport report;
  report.run_id = in.text();
  report.worker = in.number<int>();
  report.tokens = in.number<int64_t>();
  report.total_tokens = in.number<int64_t>();
  report.loss = in.number<double>();
  in.finish();
  return report;
}

RunReport decode_run_report(std::span<const char> bytes) {
  Reader in(bytes, "result");
  RunReport report;
  report.run_id = in.text();
  report.worker = in.number<int>();
  report.end = run_end_from(in.number<int>());
  report.exit_code = in.number<int>();
  report.signal = in.number<int>();
  report.error = in.text();
  report.tokens = in.number<int64_t>();
  in.finish();
  return report;
}

StopOrder decode_stop(std::span<const char> bytes) {
  Reader in(bytes, "stop");
  StopOrder order;
  order.preempt = in.number<uint8_t>() != 0;
  in.finish();
  return order;
}

}  // namespace plascale
