// The coordinator <-> worker messages and the child's progress lines survive encoding, and
// damaged bytes are refused rather than misread.

#include <gtest/gtest.h>

#include <cmath>

#include "orchestrator/progress_channel.h"
#include "orchestrator/protocol.h"

namespace plascale {
namespace {

TEST(Protocol, OfferRoundTrips) {
  WorkerOffer offer;
  offer.worker = 7;
  offer.node = 4;
  offer.free_gpus = {0, 2, 3};
  offer.cpu_slot_free = true;
  const WorkerOffer back = decode_offer(encode(offer));
  EXPECT_EQ(back.worker, 7);
  EXPECT_EQ(back.node, 4);
  EXPECT_EQ(back.free_gpus, (std::vector<int>{0, 2, 3}));
  EXPECT_TRUE(back.cpu_slot_free);
}

TEST(Protocol, RunOrderRoundTrips) {
  RunOrder order{{"0123456789ab", 3, {1, 2}, 2}, 5};
  const RunOrder back = decode_run_order(encode(order));
  EXPECT_EQ(back.assignment.run_id, "0123456789ab");
  EXPECT_EQ(back.assignment.worker, 3);
  EXPECT_EQ(back.assignment.gpus, (std::vector<int>{1, 2}));
  EXPECT_EQ(back.assignment.attempt, 2);
  EXPECT_EQ(back.threads, 5);
}

TEST(Protocol, ProgressAndResultRoundTrip) {
  const ProgressReport progress{"abc", 2, 123456789012LL, 200000000000LL, 3.25};
  const ProgressReport progress_back = decode_progress(encode(progress));
  EXPECT_EQ(progress_back.run_id, "abc");
  EXPECT_EQ(progress_back.worker, 2);
  EXPECT_EQ(progress_back.tokens, 123456789012LL);
  EXPECT_EQ(progress_back.total_tokens, 200000000000LL);
  EXPECT_EQ(progress_back.loss, 3.25);

  RunReport report;
  report.run_id = "def";
  report.worker = 9;
  report.end = RunEnd::diverged;
  report.exit_code = 4;
  report.error = "loss became NaN\nor infinite";
  report.tokens = 77;
  const RunReport back = decode_run_report(encode(report));
  EXPECT_EQ(back.run_id, "def");
  EXPECT_EQ(back.worker, 9);
  EXPECT_EQ(back.end, RunEnd::diverged);
  EXPECT_EQ(back.exit_code, 4);
  EXPECT_EQ(back.signal, 0);
  EXPECT_EQ(back.error, report.error);
  EXPECT_EQ(back.tokens, 77);

  EXPECT_TRUE(decode_stop(encode(StopOrder{true})).preempt);
  EXPECT_FALSE(decode_stop(encode(StopOrder{false})).preempt);
}

TEST(Protocol, TruncatedOrOverlongMessagesAreRefused) {
  MessageBytes bytes = encode(RunOrder{{"0123456789ab", 3, {1, 2}, 2}, 5});
  MessageBytes shorter(bytes.begin(), bytes.end() - 1);
  EXPECT_THROW(decode_run_order(shorter), std::runtime_error);
  MessageBytes longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(decode_run_order(longer), std::runtime_error);
  // A string length beyond the message must not read past it.
  MessageBytes huge_length = encode(ProgressReport{"abc", 0, 0, 0, 0});
  huge_length[3] = static_cast<char>(0x7f);
  EXPECT_THROW(decode_progress(huge_length), std::runtime_error);
  // An end that is no RunEnd.
  RunReport report;
  report.run_id = "x";
  MessageBytes bad_end = encode(report);
  bad_end[4 + 1 + 4] = 42;
  EXPECT_THROW(decode_run_report(bad_end), std::runtime_error);
}

TEST(ProgressChannel, ProgressLinesRoundTripExactly) {
  const ChildProgress progress{1024000, 2048000, 4.123456789012345};
  const std::string line = progress_line(progress);
  ASSERT_EQ(line.back(), '\n');
  const auto back = parse_progress_line(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tokens, 1024000);
  EXPECT_EQ(back->total_tokens, 2048000);
  EXPECT_EQ(back->loss, 4.123456789012345);
}

TEST(ProgressChannel, NonFiniteLossAndOtherLines) {
  const std::string nan_line = progress_line({5, 10, std::nan("")});
  const auto parsed = parse_progress_line(std::string_view(nan_line).substr(0, nan_line.size() - 1));
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(std::isnan(parsed->loss));
  EXPECT_FALSE(parse_progress_line("event checkpoint at 4096 tokens"));
  EXPECT_FALSE(parse_progress_line("progress 12 x 1.0"));
  EXPECT_FALSE(parse_progress_line("progress 12 13"));
  EXPECT_FALSE(parse_progress_line("progress 12 13 1.0 trailing"));
  EXPECT_EQ(event_line("two\nlines"), "event two lines\n");
}

}  // namespace
}  // namespace plascale
