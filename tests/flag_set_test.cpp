// flag_set_test.cpp: the one command-line parser (cogo/flag_set.h) — its
// grammar, the COGO_* environment under it and the help it prints — and the
// two binaries built on it, cogo-server and cogo-load, run as processes:
// each error comes out of both in the same words.
#include "cogo/flag_set.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <map>
#include <string>
#include <vector>

#include "support/server_process.h"

namespace {

using cogo::Flag;
using cogo::FlagError;
using cogo::FlagSet;

// Recorder: a table of three flags (a value with a short name, a list, a
// switch) whose setters log "spelling=value" in the order they are called.
struct Recorder {
  std::vector<std::string> calls;
  std::vector<std::string> positionals;
  FlagSet flags() {
    const auto log = [this](const std::string& f, const std::string& v) {
      calls.push_back(f + "=" + v);
    };
    return FlagSet(
        {{.name = "count", .value = "N", .set = log, .help = "how many", .short_name = 'c'},
         {.name = "tag",
          .value = "T",
          .set = log,
          .help = "a tag (repeatable)",
          .environment = Flag::comma_list},
         {.name = "verbose", .set = log, .help = "log more"},
         {.name = "secret", .value = "S", .set = log, .environment = Flag::no_variable}},
        "T_");
  }
  // parse() parses args over env; positionals are recorded.
  void parse(std::vector<const char*> args, const std::map<std::string, std::string>& env = {}) {
    flags().parse(args, env, [this](const std::string& p) { positionals.push_back(p); });
  }
  // error() is the message parse() throws, or "" when it does not.
  std::string error(std::vector<const char*> args,
                    const std::map<std::string, std::string>& env = {}) {
    try {
      parse(std::move(args), env);
    } catch (const FlagError& e) {
      return e.what();
    }
    return "";
  }
};

using Calls = std::vector<std::string>;

TEST(FlagSet, BothValueFormsShortNamesAndSwitches) {
  Recorder r;
  r.parse({"--count", "3", "--count=4", "-c", "5", "--verbose", "--tag=", "--tag", "-x"});
  // In command-line order, each time given, named as typed; a value may be
  // empty or begin with '-'.
  EXPECT_EQ(r.calls, (Calls{"--count=3", "--count=4", "-c=5", "--verbose=", "--tag=", "--tag=-x"}));
  EXPECT_TRUE(r.positionals.empty());
}

TEST(FlagSet, PositionalsInOrderAndRefusedWithoutAHandler) {
  Recorder r;
  r.parse({"first", "--count", "1", "-", "second"});
  EXPECT_EQ(r.positionals, (Calls{"first", "-", "second"}));
  EXPECT_EQ(r.calls, Calls{"--count=1"});

  std::vector<const char*> args{"--verbose", "stray"};
  try {
    Recorder().flags().parse(args);
    ADD_FAILURE() << "expected FlagError";
  } catch (const FlagError& e) {
    EXPECT_STREQ(e.what(), "unexpected argument 'stray' (see --help)");
  }
}

TEST(FlagSet, ErrorsNameTheFlagAsTyped) {
  Recorder r;
  EXPECT_EQ(r.error({"--frobnicate"}), "unknown flag --frobnicate (see --help)");
  EXPECT_EQ(r.error({"--frobnicate=1"}), "unknown flag --frobnicate (see --help)");
  EXPECT_EQ(r.error({"-z"}), "unknown flag -z (see --help)");
  EXPECT_EQ(r.error({"-cc"}), "unknown flag -cc (see --help)");  // no -cVALUE
  EXPECT_EQ(r.error({"--"}), "unknown flag -- (see --help)");
  EXPECT_EQ(r.error({"--count"}), "--count: missing value (see --help)");
  EXPECT_EQ(r.error({"-c"}), "-c: missing value (see --help)");
  EXPECT_EQ(r.error({"--verbose=yes"}), "--verbose: takes no value");
  // The whole command line is read before any setter runs: a structural
  // error leaves nothing half-applied.
  EXPECT_NE(r.error({"--count", "1", "--nope"}), "");
  EXPECT_TRUE(r.calls.empty());
  // A setter's own FlagError passes through unchanged.
  FlagSet throwing(
      {{.name = "d", .value = "D", .set = [](auto& f, auto& v) { cogo::parse_duration(f, v); }}});
  std::vector<const char*> args{"--d=10"};
  try {
    throwing.parse(args);
    ADD_FAILURE() << "expected FlagError";
  } catch (const FlagError& e) {
    EXPECT_STREQ(e.what(),
                 "--d: '10' is not a duration; use a number with ns, us, ms, s, m or h (e.g. 10s, "
                 "250ms), or 0");
  }
}

TEST(FlagSet, TheEnvironmentUnderTheCommandLine) {
  Recorder r;
  r.parse({}, {{"T_COUNT", "7"},
               {"T_TAG", " a, b ,,c "},
               {"T_VERBOSE", "on"},
               {"T_SECRET", "x"},
               {"OTHER_COUNT", "9"}});
  // A list is split on commas and trimmed; no_variable flags ignore theirs;
  // a variable is named as its flag to the setter.
  EXPECT_EQ(r.calls, (Calls{"--count=7", "--tag=a", "--tag=b", "--tag=c", "--verbose="}));

  // A flag beats its variable, which is then not even read (a list given on
  // the command line replaces the variable's wholesale); the variables come
  // before the command line.
  Recorder beaten;
  beaten.parse({"--tag", "z", "-c", "1"},
               {{"T_COUNT", "not read"}, {"T_TAG", "a,b"}, {"T_VERBOSE", "1"}});
  EXPECT_EQ(beaten.calls, (Calls{"--verbose=", "--tag=z", "-c=1"}));

  Recorder off;
  off.parse({}, {{"T_VERBOSE", "0"}});
  EXPECT_TRUE(off.calls.empty());
  EXPECT_EQ(Recorder().error({}, {{"T_VERBOSE", "maybe"}}),
            "environment T_VERBOSE: 'maybe' is not a boolean; use 1/0, true/false");

  // A setter's error from a variable names the variable first.
  FlagSet sizes(
      {{.name = "max", .value = "N", .set = [](auto& f, auto& v) { cogo::parse_size(f, v); }}},
      "T_");
  try {
    sizes.parse({}, {{"T_MAX", "lots"}});
    ADD_FAILURE() << "expected FlagError";
  } catch (const FlagError& e) {
    EXPECT_STREQ(e.what(),
                 "environment T_MAX: --max: 'lots' is not a size; use bytes or a number with K, M "
                 "or G (e.g. 8K, 1M)");
  }
  // Without a prefix a command has no variables.
  FlagSet none({{.name = "max", .value = "N", .set = [](auto&, auto&) { FAIL(); }}});
  EXPECT_NO_THROW(none.parse({}, {{"MAX", "1"}, {"_MAX", "1"}}));
}

TEST(FlagSet, HelpIsTheTable) {
  const std::string help = Recorder().flags().help(20);
  EXPECT_EQ(help,
            "  -c, --count N     how many\n"
            "  --tag T           a tag (repeatable)\n"
            "  --verbose         log more\n");  // --secret has no help: left out
  FlagSet wide({{.name = "a-very-long-flag-name", .value = "VALUE", .help = "one\ntwo"}});
  EXPECT_EQ(wide.help(10),
            "  --a-very-long-flag-name VALUE\n"
            "          one\n"
            "          two\n");
}

// ---------------------------------------------------------------------------
// The binaries: one parser, one set of words

struct Exit {
  int status = -1;
  std::string err;  // stderr (stdout is left out)
};

// run() runs binary with args (after the variables `env`, "NAME=value ...",
// and under a 60 s timeout) and keeps its stderr and exit status.
Exit run(const std::string& binary, const std::string& args, const std::string& env = "") {
  Exit r;
  int st = 0;
  r.err = cogo_test::run_command("env " + env + " timeout 60 " + std::string(COGO_BIN_DIR) + "/" +
                                     binary + " " + args + " 2>&1 >/dev/null",
                                 &st);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(FlagSetBinaries, SameWordsFromCogoServerAndCogoLoad) {
  // Each pair: the same mistake made to each binary, and the message both
  // must print after their own "NAME: " prefix.
  struct Case {
    std::string server_args, load_args, server_message, load_message;
  };
  const std::vector<Case> cases = {
      {"--frobnicate", "load --frobnicate http://127.0.0.1:1/",
       "unknown flag --frobnicate (see --help)", "unknown flag --frobnicate (see --help)"},
      {"--frobnicate=3", "load --frobnicate=3 http://127.0.0.1:1/",
       "unknown flag --frobnicate (see --help)", "unknown flag --frobnicate (see --help)"},
      {"-z", "load -z http://127.0.0.1:1/", "unknown flag -z (see --help)",
       "unknown flag -z (see --help)"},
      {"--idle-timeout", "load http://127.0.0.1:1/ --timeout",
       "--idle-timeout: missing value (see --help)", "--timeout: missing value (see --help)"},
      {"--access-log=1", "load --binary=1 http://127.0.0.1:1/", "--access-log: takes no value",
       "--binary: takes no value"},
      {"--idle-timeout=10", "load --timeout=10 http://127.0.0.1:1/",
       "--idle-timeout: '10' is not a duration; use a number with ns, us, ms, s, m or h (e.g. "
       "10s, 250ms), or 0",
       "--timeout: '10' is not a duration; use a number with ns, us, ms, s, m or h (e.g. 10s, "
       "250ms), or 0"},
      {"--max-body-bytes lots", "ws --size lots ws://127.0.0.1:1/",
       "--max-body-bytes: 'lots' is not a size; use bytes or a number with K, M or G (e.g. 8K, 1M)",
       "--size: 'lots' is not a size; use bytes or a number with K, M or G (e.g. 8K, 1M)"},
  };
  for (const Case& c : cases) {
    const Exit server = run("cogo-server", c.server_args);
    EXPECT_EQ(server.status, 2) << c.server_args;
    EXPECT_EQ(server.err, "cogo-server: " + c.server_message + "\n") << c.server_args;
    const Exit load = run("cogo-load", c.load_args);
    EXPECT_EQ(load.status, 2) << c.load_args;
    EXPECT_EQ(load.err, "cogo-load: " + c.load_message + "\n") << c.load_args;
  }
}

TEST(FlagSetBinaries, ABadVariableIsNamedAndExits2) {
  // Each COGO_* variable with a bad value, including the list flags whose
  // values are checked together (--compress, --cors-origin), --static's
  // directory and COGO_MAXPROCS (which the runtime would otherwise abort on):
  // exit 2, and the message names the variable, then the flag. COGO_LISTEN
  // keeps a server that wrongly starts off a fixed port; timeout ends it.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"COGO_PROCS=0", "--procs: '0' is not a whole number from 1 to 256"},
      {"COGO_MAXPROCS=abc", "--maxprocs: 'abc' is not a whole number from 1 to 1024"},
      {"COGO_IDLE_TIMEOUT=10", "--idle-timeout: '10' is not a duration"},
      {"COGO_ACCESS_LOG=maybe", "'maybe' is not a boolean; use 1/0, true/false"},
      {"COGO_COMPRESS=gzip,lzma",
       "--compress: compress: encoding \"lzma\" is not one of br, zstd, gzip, deflate"},
      {"COGO_COMPRESS=gzip,gzip", "--compress: compress: encoding \"gzip\" is listed twice"},
      {"COGO_CORS_ORIGIN='ht tp://x'",
       "--cors-origin: cors: allowed origin \"ht tp://x\" has a malformed scheme"},
      {"COGO_STATIC=/nonexistent", "--static: serve_dir: cannot open the directory /nonexistent"},
  };
  for (const auto& [variable, message] : cases) {
    const Exit server = run("cogo-server", "", "COGO_LISTEN=127.0.0.1:0 " + variable);
    EXPECT_EQ(server.status, 2) << variable << ": " << server.err;
    const std::string name = variable.substr(0, variable.find('='));
    EXPECT_EQ(server.err.rfind("cogo-server: environment " + name + ": " + message, 0), 0u)
        << variable << ": " << server.err;
  }
}

TEST(FlagSetBinaries, HelpComesFromTheTables) {
  int st = 0;
  const std::string server = cogo_test::run_command(cogo_test::server_binary() + " --help", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_NE(server.find("\n  --idle-timeout V             keep-alive connection idle time"),
            std::string::npos)
      << server;
  EXPECT_NE(server.find("\n  --help                       this help\n"), std::string::npos)
      << server;
  const std::string load = cogo_test::run_command(std::string(COGO_BIN_DIR) + "/cogo-load -h", &st);
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_NE(load.find("\n  -c, --connections N     connections (hold default 1000"),
            std::string::npos)
      << load;
  EXPECT_NE(load.find("\n  --source ADDR           local source address to bind, e.g. 127.0.0.2 "
                      "(repeatable,\n                          used round-robin;"),
            std::string::npos)
      << load;
  EXPECT_NE(load.find("\n  -h, --help              this help\n"), std::string::npos) << load;
  EXPECT_EQ(load.find("--worker"), std::string::npos) << load;  // internal: not shown
}

}  // namespace
