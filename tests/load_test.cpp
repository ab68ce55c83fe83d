// load_test.cpp: cogo-load — its histogram, report arithmetic, flags and
// response parser as units; then the real binary (build/bin/cogo-load)
// holding and loading a real cogo-server at small scale, with every count
// checked exactly. No test asserts a time or a rate.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "loadtest/histogram.h"
#include "loadtest/options.h"
#include "loadtest/report.h"
#include "loadtest/response_parser.h"
#include "loadtest/server_metrics.h"
#include "support/server_process.h"

namespace {

using namespace cogo::load;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Histogram

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 0; v < 256; v++) h.record(v);
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 255u);
  EXPECT_EQ(h.percentile(50), 127u);  // rank 128 of 0..255
  EXPECT_EQ(h.percentile(100), 255u);
  EXPECT_EQ(h.percentile(0), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 127.5);
}

TEST(Histogram, BucketsCoverEveryValueWithinTheirPrecision) {
  std::mt19937_64 rng(42);
  size_t last_bucket = 0;
  for (int bits = 0; bits < 64; bits++) {
    for (int k = 0; k < 200; k++) {
      const uint64_t v =
          bits == 0 ? 0 : (uint64_t{1} << bits) | (rng() & ((uint64_t{1} << bits) - 1));
      const size_t b = Histogram::bucket_of(v);
      ASSERT_LT(b, Histogram::kBuckets) << v;
      ASSERT_LE(Histogram::lowest(b), v) << v;
      ASSERT_GE(Histogram::highest(b), v) << v;
      // Width at most 1/128 of the bucket's lowest value (exact below 256).
      const uint64_t width = Histogram::highest(b) - Histogram::lowest(b);
      ASSERT_LE(static_cast<double>(width), static_cast<double>(Histogram::lowest(b)) / 128.0) << v;
    }
  }
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::highest(Histogram::kBuckets - 1), UINT64_MAX);
  // Consecutive buckets tile the number line without gaps or overlaps.
  for (size_t b = 0; b + 1 < Histogram::kBuckets; b++) {
    ASSERT_EQ(Histogram::highest(b) + 1, Histogram::lowest(b + 1)) << b;
    last_bucket = b;
  }
  EXPECT_EQ(last_bucket, Histogram::kBuckets - 2);
}

TEST(Histogram, PercentilesOfAUniformDistribution) {
  Histogram h;
  const uint64_t n = 1000000;
  for (uint64_t v = 1; v <= n; v++) h.record(v * 1000);  // 1 us .. 1 s, in ns
  EXPECT_EQ(h.count(), n);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), n * 1000);
  EXPECT_NEAR(h.mean(), 500000.5 * 1000, 1e-3);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double exact = p / 100.0 * static_cast<double>(n) * 1000;
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, exact) << "p" << p;  // the bucket's highest value: never below
    EXPECT_LE(got, exact * (1 + 1.0 / 128)) << "p" << p;
  }
  EXPECT_EQ(h.percentile(100), n * 1000);
  // Population standard deviation of a uniform 1..n, times 1000.
  EXPECT_NEAR(h.stddev(), std::sqrt((static_cast<double>(n) * n - 1) / 12.0) * 1000, 1.0);
}

TEST(Histogram, PercentilesOfATwoPointDistribution) {
  Histogram h;
  h.record(1000, 999);
  h.record(5000000000);  // one 5 s outlier in a thousand
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_GE(h.percentile(99.9), 1000u);
  EXPECT_LE(h.percentile(99.9), 1008u);
  EXPECT_EQ(h.percentile(99.95), 5000000000u);  // clamped to the exact max
  EXPECT_EQ(h.max(), 5000000000u);
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(12.0, 1.5);  // around 160 us, long tail
  Histogram all, parts[3];
  for (int i = 0; i < 300000; i++) {
    const uint64_t v = static_cast<uint64_t>(latency(rng));
    all.record(v);
    parts[i % 3].record(v);
  }
  Histogram merged;
  for (const auto& p : parts) merged.merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_EQ(merged.nonzero(), all.nonzero());
  for (double p : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(merged.percentile(p), all.percentile(p));
  EXPECT_NEAR(merged.mean(), all.mean(), all.mean() * 1e-12);

  Histogram restored;
  restored.restore(all.nonzero(), all.min(), all.max(), all.sum(), all.sum_squares());
  EXPECT_EQ(restored.count(), all.count());
  for (double p : {50.0, 99.9}) EXPECT_EQ(restored.percentile(p), all.percentile(p));
  EXPECT_DOUBLE_EQ(restored.stddev(), all.stddev());
}

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

// ---------------------------------------------------------------------------
// JSON

// The figures cross process boundaries as JSON: a count past 2^63 (a
// uint64) and one past 2^53 (beyond a double) must arrive exact.
TEST(Json, CountsStayExactAcrossTheWire) {
  Report r;
  r.bytes_read = int64_t{9007199254740993};
  const Json j = Json::parse(r.to_json(true).dump());
  EXPECT_EQ(json_number<int64_t>(json_member(j, "requests"), "bytes_read", 0), 9007199254740993);
  const Json big = Json::parse(Json{{"n", uint64_t{18446744073709551615u}}}.dump());
  EXPECT_EQ(json_number<uint64_t>(big, "n", 0), 18446744073709551615u);
  EXPECT_THROW(Json::parse("{\"a\" 1}"), Json::exception);
}

// ---------------------------------------------------------------------------
// Report arithmetic

Report worker_report(int64_t conns, int64_t sent, uint64_t latency_base) {
  Report r;
  r.mode = "hold";
  r.url = "http://127.0.0.1:8080/";
  r.sources = 5;
  r.connections = conns;
  r.established = conns;
  r.held = conns;
  r.peak_open = conns;
  r.sent = sent;
  r.answered = sent;
  r.answered_in_window = sent;
  r.status[2] = sent;
  r.bytes_read = sent * 100;
  r.ramp_seconds = 1.0 + static_cast<double>(latency_base) / 1e6;
  r.duration_seconds = 30;
  r.requests_per_second = static_cast<double>(sent) / 30;
  for (int64_t i = 0; i < sent; i++)
    r.latency.record(latency_base + static_cast<uint64_t>(i % 100));
  return r;
}

TEST(Report, MergeOfWorkerReportsSumsCountsAndKeepsTheLongestTimes) {
  Report total;
  total.processes = 0;
  std::vector<Report> workers = {worker_report(16667, 116669, 100000),
                                 worker_report(16667, 116669, 200000),
                                 worker_report(16666, 116662, 300000)};
  workers[1].errors["read: timeout"] = 2;
  workers[1].answered -= 2;
  workers[1].status[2] -= 2;
  workers[2].errors["read: timeout"] = 1;
  workers[2].errors["connect: connection refused"] = 4;
  for (const Report& w : workers) total.merge(w);
  EXPECT_EQ(total.processes, 3);
  EXPECT_EQ(total.mode, "hold");
  EXPECT_EQ(total.sources, 5);
  EXPECT_EQ(total.connections, 50000);
  EXPECT_EQ(total.established, 50000);
  EXPECT_EQ(total.held, 50000);
  EXPECT_EQ(total.peak_open, 50000);
  EXPECT_EQ(total.sent, 350000);
  EXPECT_EQ(total.answered, 349998);
  EXPECT_EQ(total.unanswered(), 2);
  EXPECT_EQ(total.status[2], 349998);
  EXPECT_EQ(total.bytes_read, 35000000);
  EXPECT_EQ(total.errors.at("read: timeout"), 3);
  EXPECT_EQ(total.errors.at("connect: connection refused"), 4);
  EXPECT_EQ(total.error_count(), 7);
  EXPECT_DOUBLE_EQ(total.ramp_seconds, 1.3);
  EXPECT_DOUBLE_EQ(total.duration_seconds, 30);
  EXPECT_NEAR(total.requests_per_second, 350000.0 / 30, 1e-6);
  EXPECT_EQ(total.latency.count(), 350000u);
  EXPECT_EQ(total.latency.min(), 100000u);
  EXPECT_EQ(total.latency.max(), 300099u);
  // A third of the samples per worker: the median is in the middle one.
  EXPECT_GE(total.latency.percentile(50), 200000u);
  EXPECT_LE(total.latency.percentile(50), 200099u + 200099u / 128);
  EXPECT_FALSE(total.clean());
}

TEST(Report, JsonRoundTripKeepsEveryFigure) {
  Report r = worker_report(2000, 12000, 50000);
  r.mode = "load";
  r.failed = 3;
  r.lost = 2;
  r.reconnects = 7;
  r.status[4] = 5;
  r.status[0] = 1;
  r.errors["read: timeout"] = 9;
  const Report back = Report::from_json(Json::parse(r.to_json(true).dump()));
  EXPECT_EQ(back.to_json(true).dump(), r.to_json(true).dump());
  EXPECT_EQ(back.latency.count(), 12000u);
  EXPECT_EQ(back.latency.percentile(99.9), r.latency.percentile(99.9));
  // Without buckets the percentiles are still there, for people.
  const Json summary = r.to_json(false);
  EXPECT_TRUE(json_member(json_member(summary, "latency"), "buckets").is_null());
  EXPECT_EQ(json_number<int64_t>(json_member(summary, "latency"), "p99.9_ns", -1),
            static_cast<int64_t>(r.latency.percentile(99.9)));
  EXPECT_EQ(json_number<int64_t>(json_member(summary, "requests"), "unanswered", -1), 0);
}

TEST(Report, CleanMeansEverythingHeldAndAnswered) {
  Report r = worker_report(100, 600, 1000);
  EXPECT_TRUE(r.clean());
  r.held = 99;
  EXPECT_FALSE(r.clean());
  r.held = 100;
  r.answered = 599;
  EXPECT_FALSE(r.clean());
  r.answered = 600;
  r.errors["idle: the server closed the connection"] = 1;
  EXPECT_FALSE(r.clean());
  r.errors.clear();
  r.status[2] = 590;
  r.status[5] = 10;
  EXPECT_FALSE(r.clean());
  EXPECT_NE(r.table().find("600"), std::string::npos);
}

TEST(Report, ErrorKindDropsAddressesAndAdvice) {
  EXPECT_EQ(
      error_kind("connect", "dial 127.0.0.1:1: Connection refused — nothing is listening there"),
      "connect: connection refused");
  EXPECT_EQ(error_kind("read", "timeout"), "read: timeout");
  EXPECT_EQ(group_digits(1234567), "1,234,567");
  EXPECT_EQ(group_digits(-1000), "-1,000");
  EXPECT_EQ(group_digits(999), "999");
}

// ---------------------------------------------------------------------------
// Response parser

// feed_split() feeds `text` cut at `cut` and returns the responses counted.
int feed_split(ResponseParser& p, const std::string& text, size_t cut) {
  int a = p.feed(text.data(), cut);
  int b = p.feed(text.data() + cut, text.size() - cut);
  if (a < 0 || b < 0) return -1;
  return a + b;
}

TEST(ResponseParser, CountsPipelinedResponsesCutAtEveryByte) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\ncontent-length:0\r\n\r\n"
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nHello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
      "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"
      "HTTP/1.1 204 No Content\r\n\r\n"
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno";
  for (size_t cut = 0; cut <= stream.size(); cut++) {
    ResponseParser p;
    ASSERT_EQ(feed_split(p, stream, cut), 6) << "cut at " << cut << ": " << p.error();
    ASSERT_TRUE(p.idle()) << cut;
    EXPECT_EQ(p.by_class()[2], 4u);  // 200, 201, 200 chunked, 204
    EXPECT_EQ(p.by_class()[4], 1u);
    EXPECT_EQ(p.by_class()[5], 1u);
    EXPECT_EQ(p.by_class()[1], 0u);  // 100 Continue is not an answer
    EXPECT_EQ(p.last_status(), 503);
    EXPECT_TRUE(p.keep_alive());
  }
  // One byte at a time.
  ResponseParser p;
  int total = 0;
  for (char c : stream) total += p.feed(&c, 1);
  EXPECT_EQ(total, 6);
}

TEST(ResponseParser, HeadAndNotModifiedHaveNoBody) {
  ResponseParser head(true);
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
  EXPECT_EQ(head.feed(r.data(), r.size()), 1);
  EXPECT_EQ(head.feed(r.data(), r.size()), 1);
  ResponseParser get;
  const std::string nm = "HTTP/1.1 304 Not Modified\r\nContent-Length: 13\r\n\r\n";
  EXPECT_EQ(get.feed(nm.data(), nm.size()), 1);
  EXPECT_TRUE(get.idle());
}

TEST(ResponseParser, ConnectionCloseAndHttp10) {
  ResponseParser p;
  std::string r = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(p.feed(r.data(), r.size()), 1);
  EXPECT_FALSE(p.keep_alive());
  ResponseParser old;
  r = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(old.feed(r.data(), r.size()), 1);
  EXPECT_FALSE(old.keep_alive());
  ResponseParser old_ka;
  r = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(old_ka.feed(r.data(), r.size()), 1);
  EXPECT_TRUE(old_ka.keep_alive());
}

TEST(ResponseParser, BodyUntilEndOfStream) {
  ResponseParser p;
  const std::string r = "HTTP/1.1 200 OK\r\n\r\nsome body of unknown length";
  EXPECT_EQ(p.feed(r.data(), r.size()), 0);
  EXPECT_FALSE(p.idle());
  EXPECT_EQ(p.finish(), 1);
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParser, CutOffAndMalformedResponsesAreErrors) {
  ResponseParser cut;
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
  EXPECT_EQ(cut.feed(r.data(), r.size()), 0);
  EXPECT_EQ(cut.finish(), -1);
  EXPECT_NE(cut.error().find("closed"), std::string::npos);

  ResponseParser idle;
  EXPECT_EQ(idle.finish(), 0);

  for (const char* bad : {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "SSH-2.0-x\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
                          // llhttp's strict grammar: a bare LF ends no line.
                          "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"}) {
    ResponseParser p;
    EXPECT_EQ(p.feed(bad, std::strlen(bad)), -1) << bad;
    EXPECT_FALSE(p.error().empty());
    EXPECT_EQ(p.feed("x", 1), -1);  // stays failed
  }
  ResponseParser huge;
  const std::string line =
      "HTTP/1.1 200 OK\r\nX-Big: " + std::string(ResponseParser::kMaxHead + 1, 'a');
  EXPECT_EQ(huge.feed(line.data(), line.size()), -1);
  EXPECT_FALSE(huge.error().empty());
}

// ---------------------------------------------------------------------------
// Flags, the process split and the source plan

Options parse(std::vector<std::string> args) {
  std::vector<const char*> argv{"cogo-load"};
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

// flag_error() is the message parse() throws, or "" when it does not.
std::string flag_error(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const FlagError& e) {
    return e.what();
  }
  return "";
}

TEST(Options, ParsesEveryFlag) {
  Options o = parse({"load",
                     "-c",
                     "10k",
                     "-d",
                     "1500ms",
                     "--pipeline=16",
                     "--timeout",
                     "2s",
                     "--method",
                     "POST",
                     "--body",
                     "ping",
                     "-H",
                     "X-A: 1",
                     "--dial-concurrency",
                     "64",
                     "--source",
                     "127.0.0.9",
                     "--per-process",
                     "700",
                     "--json",
                     "/tmp/x",
                     "--no-progress",
                     "http://localhost:8080/echo?x=1"});
  EXPECT_EQ(o.mode, Mode::load);
  EXPECT_EQ(o.connections, 10000);
  EXPECT_EQ(o.total, 10000);
  EXPECT_EQ(o.duration, 1500ms);
  EXPECT_EQ(o.pipeline, 16);
  EXPECT_EQ(o.timeout, 2s);
  EXPECT_EQ(o.method, "POST");
  EXPECT_EQ(o.body, "ping");
  EXPECT_EQ(o.headers, std::vector<std::string>{"X-A: 1"});
  EXPECT_EQ(o.dial_concurrency, 64);
  EXPECT_EQ(o.sources, std::vector<std::string>{"127.0.0.9"});
  EXPECT_EQ(o.per_process, 700);
  EXPECT_EQ(o.json_path, "/tmp/x");
  EXPECT_EQ(o.progress, Progress::off);
  EXPECT_EQ(o.target.host, "localhost");
  EXPECT_EQ(o.target.port, 8080);
  EXPECT_EQ(o.target.path, "/echo?x=1");

  Options h = parse({"hold", "127.0.0.1:9000"});
  EXPECT_EQ(h.connections, 1000);
  EXPECT_EQ(h.interval, 5s);
  EXPECT_EQ(h.target.dial_address(), "127.0.0.1:9000");
  EXPECT_EQ(h.target.path, "/");
  EXPECT_EQ(parse({"load", "http://[::1]:81"}).target.dial_address(), "[::1]:81");
  EXPECT_EQ(parse({"load", "http://example.com/x"}).target.port, 80);
  EXPECT_EQ(parse({"load", "http://h:1/"}).connections, 50);
}

TEST(Options, BadFlagsNameTheFlag) {
  EXPECT_NE(flag_error({"hold", "-c", "many", "http://h:1/"}).find("-c"), std::string::npos);
  EXPECT_NE(flag_error({"hold", "-c", "0", "http://h:1/"}).find("-c"), std::string::npos);
  EXPECT_NE(flag_error({"hold", "--interval", "5", "http://h:1/"}).find("--interval"),
            std::string::npos);
  EXPECT_NE(flag_error({"hold", "--pipeline", "4", "http://h:1/"}).find("--pipeline"),
            std::string::npos);
  EXPECT_NE(flag_error({"load", "--frobnicate", "http://h:1/"}).find("--frobnicate"),
            std::string::npos);
  EXPECT_NE(flag_error({"load", "--timeout"}).find("--timeout: missing value"), std::string::npos);
  EXPECT_NE(flag_error({"load", "-H", "nocolon", "http://h:1/"}).find("-H"), std::string::npos);
  EXPECT_NE(flag_error({"http://h:1/"}).find("mode"), std::string::npos);
  EXPECT_NE(flag_error({"load"}).find("URL"), std::string::npos);
  EXPECT_NE(flag_error({"load", "https://h/"}).find("https"), std::string::npos);
  EXPECT_NE(flag_error({"load", "http://h:0/"}).find("port"), std::string::npos);
  EXPECT_NE(flag_error({"load", "--source", "127.0.0.2:80", "http://h:1/"}).find("--source"),
            std::string::npos);
  EXPECT_EQ(flag_error({"load", "http://h:1/"}), "");
}

TEST(Options, DurationsAndCounts) {
  EXPECT_EQ(parse_duration("-d", "30s"), 30s);
  EXPECT_EQ(parse_duration("-d", "250ms"), 250ms);
  EXPECT_EQ(parse_duration("-d", "2m"), 120s);
  EXPECT_EQ(parse_duration("-d", "0.5s"), 500ms);
  EXPECT_EQ(parse_duration("-d", "0"), 0s);
  EXPECT_THROW(parse_duration("-d", "5"), FlagError);
  EXPECT_THROW(parse_duration("-d", "-1s"), FlagError);
  EXPECT_EQ(parse_count("-c", "100k"), 100000);
  EXPECT_EQ(parse_count("-c", "2M"), 2000000);
  EXPECT_THROW(parse_count("-c", "1.5k"), FlagError);
}

TEST(Options, SplitIntoTheFewestEvenProcesses) {
  Options o;
  EXPECT_EQ(connections_per_process(o, 20000), 19900);
  o.per_process = 700;
  EXPECT_EQ(connections_per_process(o, 20000), 700);

  const auto slices = split(100000, 19900);
  ASSERT_EQ(slices.size(), 6u);
  int64_t next = 0;
  for (const Slice& s : slices) {
    EXPECT_EQ(s.first, next);
    EXPECT_LE(s.count, 19900);
    EXPECT_GE(s.count, 100000 / 6);
    next += s.count;
  }
  EXPECT_EQ(next, 100000);
  EXPECT_EQ(split(19900, 19900).size(), 1u);
  EXPECT_EQ(split(19901, 19900).size(), 2u);
  EXPECT_EQ(split(2000, 700).size(), 3u);
  EXPECT_TRUE(split(0, 10).empty());
}

TEST(Options, SourceAddressesPastOneAddressPorts) {
  // 28,232 ports, of which connect() searches one parity (14,116) first:
  // 12,704 connections per source address.
  const PortRange ports{32768, 60999};
  Options o = parse({"hold", "http://127.0.0.1:8080/"});
  SourcePlan small = plan_sources(o, 12000, ports);
  EXPECT_TRUE(small.addresses.empty());
  EXPECT_EQ(small.source_for(5), "");
  EXPECT_EQ(small.per_source_budget, 12704);

  SourcePlan big = plan_sources(o, 100000, ports);
  ASSERT_EQ(big.addresses.size(), 8u);
  EXPECT_EQ(big.addresses[0], "127.0.0.2:0");
  EXPECT_EQ(big.addresses[7], "127.0.0.9:0");
  // Round-robin by connection index: each source carries at most its budget.
  std::map<std::string, int64_t> per_source;
  for (int64_t i = 0; i < 100000; i++) per_source[big.source_for(i)]++;
  for (const auto& [a, n] : per_source) EXPECT_LE(n, big.per_source_budget) << a;

  Options remote = parse({"hold", "http://10.0.0.1:8080/"});
  EXPECT_NO_THROW(plan_sources(remote, 12000, ports));
  try {
    plan_sources(remote, 100000, ports);
    ADD_FAILURE() << "expected FlagError";
  } catch (const FlagError& e) {
    EXPECT_NE(std::string(e.what()).find("--source"), std::string::npos) << e.what();
  }
  Options given =
      parse({"hold", "--source", "127.0.0.7", "--source", "127.0.0.8", "http://10.0.0.1:8080/"});
  SourcePlan explicit_plan = plan_sources(given, 100000, ports);
  EXPECT_EQ(explicit_plan.source_for(0), "127.0.0.7:0");
  EXPECT_EQ(explicit_plan.source_for(1), "127.0.0.8:0");
  EXPECT_EQ(explicit_plan.source_for(2), "127.0.0.7:0");
}

TEST(ServerMetrics, ParsesTheTextFormatAndTakesQuantilesAsPrometheusDoes) {
  const Samples before = parse_exposition(
      "# HELP x_total A help line.\n# TYPE x_total counter\n"
      "x_total{code=\"200\",route=\"/a b\\\"c\"} 5\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.1\"} 0\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"+Inf\"} 0\n"
      "process_cpu_seconds_total 1.5 1700000000000\n");
  EXPECT_EQ(before.at("x_total{code=\"200\",route=\"/a b\\\"c\"}"), 5);
  EXPECT_EQ(before.at("process_cpu_seconds_total"), 1.5);  // the timestamp is dropped
  // After: 100 observations, 50 at or under 0.1 s, 90 at or under 0.2 s,
  // two routes summed bucket by bucket.
  const Samples after = parse_exposition(
      "cogo_http_requests_total{method=\"GET\",route=\"/\",code=\"200\"} 97\n"
      "cogo_http_requests_total{method=\"GET\",route=\"/\",code=\"503\"} 3\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.1\"} 30\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.2\"} 50\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"+Inf\"} 60\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/b\",le=\"0.1\"} 20\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/b\",le=\"0.2\"} 40\n"
      "cogo_http_request_duration_seconds_bucket{method=\"GET\",route=\"/b\",le=\"+Inf\"} 40\n"
      "process_cpu_seconds_total 4\n");
  const ServerDelta d = delta(before, after);
  EXPECT_TRUE(d.has_requests);
  EXPECT_EQ(d.requests, 100);
  EXPECT_EQ(d.by_class[2], 97);
  EXPECT_EQ(d.by_class[5], 3);
  EXPECT_EQ(d.cpu_seconds, 2.5);
  // histogram_quantile: rank q*100 inside its bucket, linearly.
  EXPECT_DOUBLE_EQ(d.quantile(0.5), 0.1);
  EXPECT_DOUBLE_EQ(d.quantile(0.25), 0.05);
  EXPECT_DOUBLE_EQ(d.quantile(0.7), 0.15);
  EXPECT_DOUBLE_EQ(d.quantile(0.99), 0.2);  // in +Inf: the largest finite bound
  EXPECT_THROW(parse_exposition("x_total\n"), std::runtime_error);
  EXPECT_THROW(parse_exposition("x_total twelve\n"), std::runtime_error);
}

// ---------------------------------------------------------------------------
// The binaries

const std::string kLoad = std::string(COGO_BIN_DIR) + "/cogo-load";

// Server: cogo-server serving HTTP on 127.0.0.1:0 with info logging and
// the extra flags; port() is read from its "listening on" line.
class Server : public cogo_test::ServerProcess {
 public:
  explicit Server(std::vector<std::string> extra = {}) : ServerProcess(flags(std::move(extra))) {}
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }

 private:
  static std::vector<std::string> flags(std::vector<std::string> extra) {
    std::vector<std::string> args = {"http", "--listen", "127.0.0.1:0", "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

struct LoadRun {
  int status = -1;
  std::string out;  // stdout and stderr
  Json json;        // --json, when it was written
};

// run_load() runs cogo-load with args (and --json to a temporary file).
LoadRun run_load(const std::vector<std::string>& args, bool with_json = true) {
  static int counter = 0;
  const std::string json_path = ::testing::TempDir() + "load_test_" + std::to_string(getpid()) +
                                "_" + std::to_string(counter++) + ".json";
  std::string cmd = kLoad;
  for (const auto& a : args) cmd += " '" + a + "'";
  if (with_json) cmd += " --json '" + json_path + "'";
  cmd += " 2>&1";
  LoadRun r;
  int st = -1;
  r.out = cogo_test::run_command(cmd, &st);
  if (st == -1) return r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream f(json_path);
  if (f) {
    std::stringstream ss;
    ss << f.rdbuf();
    r.json = Json::parse(ss.str());
    std::remove(json_path.c_str());
  }
  return r;
}

int64_t figure(const Json& j, const std::string& section, const std::string& key) {
  return json_number<int64_t>(json_member(j, section.c_str()), key.c_str(), -1);
}

TEST(LoadBinary, HoldTwoThousandConnections) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  // 2,000 connections, one request each when connected, then one a second
  // on each connection's own schedule: five of them in the 5 s hold, and
  // perhaps one more while the others were still connecting.
  LoadRun r =
      run_load({"hold", "-c", "2000", "-d", "5s", "--interval", "1s", "--progress", srv.url()});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(figure(r.json, "connections", "asked"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "established"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "held"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "peak_open"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "failed"), 0);
  EXPECT_EQ(figure(r.json, "connections", "lost"), 0);
  const int64_t sent = figure(r.json, "requests", "sent");
  EXPECT_GE(sent, 2000 * 6);
  EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
  EXPECT_EQ(figure(r.json, "requests", "unanswered"), 0);
  EXPECT_EQ(json_number<int64_t>(json_member(json_member(r.json, "requests"), "by_status"), "2xx", -1), sent);
  EXPECT_EQ(figure(r.json, "latency", "count"), sent);
  EXPECT_EQ(json_number<int64_t>(r.json, "error_count", -1), 0);
  EXPECT_EQ(json_number<int64_t>(r.json, "processes", -1), 1);
  EXPECT_TRUE(json_member(r.json, "clean").get<bool>());
  // The table, and the progress line that --progress forces off a terminal.
  EXPECT_NE(r.out.find("cogo-load hold"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("open 2,000"), std::string::npos) << r.out;
}

TEST(LoadBinary, HoldSplitOverWorkerProcessesAddsUp) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  // At most 700 connections per process: 3 workers of 667, 667 and 666.
  LoadRun r = run_load(
      {"hold", "-c", "2000", "-d", "2s", "--interval", "1s", "--per-process", "700", srv.url()});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(json_number<int64_t>(r.json, "processes", -1), 3);
  EXPECT_EQ(figure(r.json, "connections", "established"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "held"), 2000);
  EXPECT_EQ(figure(r.json, "connections", "peak_open"), 2000);
  const int64_t sent = figure(r.json, "requests", "sent");
  EXPECT_GE(sent, 2000 * 3);  // the first request, and two in the 2 s hold
  EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
  EXPECT_EQ(figure(r.json, "latency", "count"), sent);
  EXPECT_EQ(json_number<int64_t>(json_member(r.json, "config"), "connections_per_process", -1), 700);
  EXPECT_NE(r.out.find("(3 processes"), std::string::npos) << r.out;
}

TEST(LoadBinary, LoadPipelinedAnswersEveryRequest) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  LoadRun r = run_load({"load", "-c", "50", "-d", "2s", "--pipeline", "4", srv.url()});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  const int64_t sent = figure(r.json, "requests", "sent");
  EXPECT_GT(sent, 0);
  EXPECT_EQ(sent % 4, 0);
  EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
  EXPECT_EQ(json_number<int64_t>(json_member(json_member(r.json, "requests"), "by_status"), "2xx", -1), sent);
  EXPECT_EQ(figure(r.json, "latency", "count"), sent);
  EXPECT_LE(figure(r.json, "requests", "answered_in_window"), sent);
  EXPECT_EQ(figure(r.json, "connections", "established"), 50);
  EXPECT_EQ(json_number<int64_t>(r.json, "error_count", -1), 0);
  EXPECT_GT(json_number<int64_t>(json_member(r.json, "latency"), "p99_ns", -1), 0);
  EXPECT_NE(r.out.find("requests/s"), std::string::npos) << r.out;
}

TEST(LoadBinary, LoadPostsBodiesToEcho) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  LoadRun r = run_load(
      {"load", "-c", "8", "-d", "1s", "--method", "POST", "--body", "ping pong", srv.url("/echo")});
  ASSERT_EQ(r.status, 0) << r.out;
  const int64_t sent = figure(r.json, "requests", "sent");
  EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
  EXPECT_EQ(json_number<int64_t>(json_member(json_member(r.json, "requests"), "by_status"), "2xx", -1), sent);
  // Every response carried exactly the 9 echoed bytes after its head.
  EXPECT_GT(figure(r.json, "requests", "bytes_read"), sent * 9);
}

TEST(LoadBinary, NotFoundIsCountedAndNotClean) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  LoadRun r = run_load({"hold", "-c", "10", "-d", "1s", "--interval", "1s", srv.url("/nope")});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(figure(r.json, "requests", "answered"), figure(r.json, "requests", "sent"));
  EXPECT_EQ(json_number<int64_t>(json_member(json_member(r.json, "requests"), "by_status"), "4xx", -1),
            figure(r.json, "requests", "sent"));
  EXPECT_FALSE(json_member(r.json, "clean").get<bool>());
}

// WebSocket: ws mode (closed-loop echo) and hold over ws://, every answer
// checked against what was sent.
TEST(LoadBinary, WsEchoChecksEveryMessage) {
  Server srv({"--ws-deflate"});
  ASSERT_GT(srv.port(), 0) << srv.output();
  const std::string url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/ws/echo";
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--deflate", "--size", "2K"}, {"--binary", "--size", "100K"}}) {
    std::vector<std::string> args = {"ws", "-c", "20", "-d", "1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url);
    LoadRun r = run_load(args);
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_TRUE(r.json.is_object()) << r.out;
    EXPECT_TRUE(json_member(r.json, "websocket").get<bool>());
    EXPECT_EQ(figure(r.json, "connections", "established"), 20);
    const int64_t sent = figure(r.json, "requests", "sent");
    EXPECT_GT(sent, 20);
    EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
    EXPECT_EQ(json_number<int64_t>(json_member(json_member(r.json, "requests"), "by_status"), "2xx", -1), sent);
    EXPECT_EQ(json_number<int64_t>(r.json, "error_count", -1), 0);
    EXPECT_NE(r.out.find("messages/s"), std::string::npos) << r.out;
  }
}

TEST(LoadBinary, WsHoldPingsOrMessagesOnEveryConnection) {
  Server srv;
  ASSERT_GT(srv.port(), 0) << srv.output();
  const std::string url = "ws://127.0.0.1:" + std::to_string(srv.port()) + "/ws/echo";
  LoadRun r = run_load({"hold", "-c", "600", "-d", "2s", "--interval", "1s", url});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(figure(r.json, "connections", "held"), 600);
  const int64_t sent = figure(r.json, "requests", "sent");
  EXPECT_GE(sent, 600 * 3);
  EXPECT_EQ(figure(r.json, "requests", "answered"), sent);
  // Messages instead of pings, over worker processes.
  LoadRun m = run_load({"hold", "-c", "600", "-d", "2s", "--interval", "1s", "--ws-send", "message",
                        "--per-process", "250", url});
  ASSERT_EQ(m.status, 0) << m.out;
  EXPECT_EQ(json_number<int64_t>(m.json, "processes", -1), 3);
  EXPECT_EQ(figure(m.json, "connections", "held"), 600);
  EXPECT_EQ(figure(m.json, "requests", "answered"), figure(m.json, "requests", "sent"));
}

TEST(LoadBinary, WsFlagsNameWhatIsWrong) {
  LoadRun http = run_load({"ws", "http://127.0.0.1:1/"}, false);
  EXPECT_EQ(http.status, 2);
  EXPECT_NE(http.out.find("ws mode needs a ws:// URL"), std::string::npos) << http.out;
  LoadRun send = run_load({"hold", "--ws-send", "shout", "ws://127.0.0.1:1/"}, false);
  EXPECT_EQ(send.status, 2);
  EXPECT_NE(send.out.find("--ws-send"), std::string::npos) << send.out;
  LoadRun size = run_load({"ws", "--size", "0", "ws://127.0.0.1:1/"}, false);
  EXPECT_EQ(size.status, 2);
  EXPECT_NE(size.out.find("--size"), std::string::npos) << size.out;
}

// --server-metrics: the server's own count of the run, from its /metrics
// before and after, beside the client's. Every request the client got an
// answer to was counted; the server may have answered a few more that the
// client had stopped waiting for (at most the unanswered ones).
TEST(LoadBinary, ServerMetricsShowWhatTheServerCounted) {
  Server srv({"--admin-listen", "127.0.0.1:0", "--maxprocs", "1"});
  ASSERT_GT(srv.port(1), 0) << srv.output();
  const std::string metrics = "http://127.0.0.1:" + std::to_string(srv.port(1)) + "/metrics";
  // The probe connection and a request of our own before the run: the
  // deltas leave them out.
  ASSERT_EQ(cogo_test::run_command("curl -s " + srv.url()), "Hello, World!");
  LoadRun r = run_load({"load", "-c", "20", "-d", "2s", "--server-metrics", metrics, srv.url()});
  ASSERT_EQ(r.status, 0) << r.out;
  const Json& sm = json_member(r.json, "server_metrics");
  ASSERT_TRUE(sm.is_object()) << r.out;
  const int64_t answered = figure(r.json, "requests", "answered");
  const int64_t sent = figure(r.json, "requests", "sent");
  const auto counted = json_number<int64_t>(sm, "requests", -1);
  EXPECT_GE(counted, answered);
  EXPECT_LE(counted, sent);
  EXPECT_EQ(json_number<int64_t>(json_member(sm, "by_status"), "2xx", -1), counted);
  EXPECT_EQ(json_number<int64_t>(json_member(sm, "duration_seconds"), "count", -1), counted);
  EXPECT_GT(json_number<double>(json_member(sm, "duration_seconds"), "p99", -1), 0);
  // cogo-load's probe connection comes before the first scrape.
  EXPECT_EQ(json_number<int64_t>(sm, "connections_accepted", -1), 20);
  EXPECT_GT(json_number<double>(sm, "cpu_seconds", -1), 0);
  EXPECT_NE(r.out.find("server       /metrics deltas over the run (1 process)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(server-side, from the histogram)"), std::string::npos) << r.out;

  // Not a metrics URL: a clear error before any load.
  LoadRun bad = run_load(
      {"load", "-c", "1", "-d", "1s", "--server-metrics", srv.url("/nope"), srv.url()}, false);
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("--server-metrics " + srv.url("/nope") + ": HTTP/1.1 404"),
            std::string::npos)
      << bad.out;
  LoadRun flag = run_load({"load", "--server-metrics", "https://x/", srv.url()}, false);
  EXPECT_EQ(flag.status, 2) << flag.out;
  EXPECT_NE(flag.out.find("--server-metrics: URL \"https://x/\": TLS is not supported"),
            std::string::npos)
      << flag.out;
  LoadRun ws = run_load({"load", "--server-metrics", "ws://x/", srv.url()}, false);
  EXPECT_EQ(ws.status, 2) << ws.out;
  EXPECT_NE(ws.out.find("--server-metrics: URL \"ws://x/\": /metrics is served over http://"),
            std::string::npos)
      << ws.out;
}

TEST(LoadBinary, BadFlagsAndAnUnreachableServerSayWhatIsWrong) {
  LoadRun bad = run_load({"hold", "-c", "lots", "http://127.0.0.1:1/"}, false);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("-c: 'lots' is not a count"), std::string::npos) << bad.out;

  LoadRun mode = run_load({"soak", "http://127.0.0.1:1/"}, false);
  EXPECT_EQ(mode.status, 2);
  EXPECT_NE(mode.out.find("hold, load or ws"), std::string::npos) << mode.out;

  // Port 1 on loopback: nothing listens there.
  LoadRun down = run_load({"hold", "-c", "10", "http://127.0.0.1:1/"}, false);
  EXPECT_EQ(down.status, 1);
  EXPECT_NE(down.out.find("cannot connect to 127.0.0.1:1"), std::string::npos) << down.out;

  LoadRun help = run_load({"--help"}, false);
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("usage: cogo-load hold|load"), std::string::npos);
}

}  // namespace
