// flag_value_test.cpp: the value grammar shared by cogo-server and cogo-load
// (cogo/flag_value.h). The binaries' own tests (server_test, load_test) show
// the same messages coming out of the real processes.
#include "cogo/flag_value.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::string message_of(void (*f)()) {
  try {
    f();
  } catch (const cogo::FlagError& e) {
    return e.what();
  }
  return "no FlagError";
}

TEST(FlagValue, Durations) {
  EXPECT_EQ(cogo::parse_duration("--t", "250ms"), 250ms);
  EXPECT_EQ(cogo::parse_duration("--t", "1.5s"), 1500ms);
  EXPECT_EQ(cogo::parse_duration("--t", "2m"), 120s);
  EXPECT_EQ(cogo::parse_duration("--t", "1h"), 3600s);
  EXPECT_EQ(cogo::parse_duration("--t", "1500us"), 1500us);
  EXPECT_EQ(cogo::parse_duration("--t", "7ns"), 7ns);
  EXPECT_EQ(cogo::parse_duration("--t", "0"), 0ns);
  for (const char* bad : {"", "10", "-1s", "s", "1x", "1 s", "1e30h", "nan", "ms"}) {
    EXPECT_THROW(cogo::parse_duration("--t", bad), cogo::FlagError) << bad;
  }
  // The documented bound, 1,000,000 hours; past it a FlagError, never an
  // out-of-range conversion to int64 (tests/fuzz/flag_value_fuzz).
  EXPECT_EQ(cogo::parse_duration("--t", "1000000h"), std::chrono::hours(1000000));
  for (const char* big : {"1000001h", "22525525h", "3000000h", "1e19ns", "9223372036854775808ns"}) {
    EXPECT_THROW(cogo::parse_duration("--t", big), cogo::FlagError) << big;
  }
  EXPECT_EQ(message_of([] { cogo::parse_duration("--idle-timeout", "10"); }),
            "--idle-timeout: '10' is not a duration; use a number with ns, us, ms, s, m or h "
            "(e.g. 10s, 250ms), or 0");
}

TEST(FlagValue, Sizes) {
  EXPECT_EQ(cogo::parse_size("--s", "8192"), 8192u);
  EXPECT_EQ(cogo::parse_size("--s", "512B"), 512u);
  EXPECT_EQ(cogo::parse_size("--s", "8K"), 8192u);
  EXPECT_EQ(cogo::parse_size("--s", "8k"), 8192u);
  EXPECT_EQ(cogo::parse_size("--s", "8KiB"), 8192u);
  EXPECT_EQ(cogo::parse_size("--s", "1M"), 1048576u);
  EXPECT_EQ(cogo::parse_size("--s", "2GB"), 2147483648u);
  for (const char* bad : {"", "0", "-1", "1T", "1.5K", "K", "99999999999G"}) {
    EXPECT_THROW(cogo::parse_size("--s", bad), cogo::FlagError) << bad;
  }
  EXPECT_NE(message_of([] { cogo::parse_size("--max-body-bytes", "lots"); })
                .find("--max-body-bytes: 'lots' is not a size"),
            std::string::npos);
}

TEST(FlagValue, CountsAndIntegers) {
  EXPECT_EQ(cogo::parse_count("-c", "2000"), 2000);
  EXPECT_EQ(cogo::parse_count("-c", "100k"), 100000);
  EXPECT_EQ(cogo::parse_count("-c", "2M"), 2000000);
  for (const char* bad : {"", "-1", "1.5k", "k", "1G"}) {
    EXPECT_THROW(cogo::parse_count("-c", bad), cogo::FlagError) << bad;
  }
  EXPECT_EQ(cogo::parse_int("--procs", "4", 1, 256), 4);
  for (const char* bad : {"", "0", "257", "4x", "two"}) {
    EXPECT_THROW(cogo::parse_int("--procs", bad, 1, 256), cogo::FlagError) << bad;
  }
  EXPECT_EQ(message_of([] { cogo::parse_int("--procs", "0", 1, 256); }),
            "--procs: '0' is not a whole number from 1 to 256");
}

TEST(FlagValue, Lists) {
  using List = std::vector<std::string>;
  EXPECT_EQ(cogo::parse_list("br, zstd ,gzip"), (List{"br", "zstd", "gzip"}));
  EXPECT_EQ(cogo::parse_list("a"), List{"a"});
  EXPECT_EQ(cogo::parse_list(""), List{});
  EXPECT_EQ(cogo::parse_list(" , ,"), List{});
  EXPECT_EQ(cogo::parse_list(",x,,y,"), (List{"x", "y"}));
}

}  // namespace
