// cogo/flag_set.h: a command line as a table of flags (Go's flag.FlagSet),
// shared by cogo-server, cogo-load and a user's own binary, so every cogo
// command reads `--name VALUE`, `--name=VALUE`, `-n VALUE` and a bare
// `--switch` the same way, takes the same COGO_* variables, prints its help
// from the same table and reports a bad flag in the same words. Values follow
// cogo/flag_value.h.
//
//   std::chrono::nanoseconds idle = std::chrono::seconds(60);
//   bool verbose = false;
//   cogo::FlagSet flags({
//       {.name = "idle-timeout", .value = "D",
//        .set = [&](const std::string& flag, const std::string& v) {
//          idle = cogo::parse_duration(flag, v);
//        },
//        .help = "keep-alive idle time (default 60s)"},
//       {.name = "verbose", .set = [&](auto&, auto&) { verbose = true; }, .help = "log more",
//        .short_name = 'v'},
//   }, "MYAPP_");
//   flags.parse({argv + 1, argv + argc}, cogo::FlagSet::environment("MYAPP_"));
//
// Every error is a FlagError naming the flag as it was typed:
//   unknown flag --frobnicate (see --help)
//   --timeout: missing value (see --help)
//   --verbose: takes no value
//   unexpected argument 'x' (see --help)
//   environment MYAPP_IDLE_TIMEOUT: --idle-timeout: '10' is not a duration; ...
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cogo/flag_value.h"

namespace cogo {

// Flag: one row of a FlagSet's table.
struct Flag {
  // Environment: how the variable <prefix>NAME (NAME in capitals, '-' as
  // '_') sets the flag when the command line does not give it.
  enum Environment {
    one_value,    // the whole text is the value; a switch takes 1/0, true/false, yes/no, on/off
    comma_list,   // a comma-separated list: set() once per item, spaces trimmed
    no_variable,  // the flag has no variable
  };

  std::string name;     // "idle-timeout": given as --idle-timeout
  std::string value{};  // the value's name in the help ("D", "N"); empty: a switch, given bare
  // set() applies one value; `flag` is the spelling to name in an error
  // ("-c", "--connections"; "--name" for a variable); a switch gets "".
  // It throws FlagError for a bad value.
  std::function<void(const std::string& flag, const std::string& value)> set{};
  std::string help{};  // lines joined by '\n'; empty: left out of the help (internal)
  Environment environment = one_value;
  char short_name = 0;  // 'c': also -c VALUE (no -cVALUE, no -c=VALUE)
};

// FlagSet: a command's flags, read from its arguments and its environment
// by one grammar. Immutable once built; parse() may be called again.
class FlagSet {
 public:
  // FlagSet() keeps the table; env_prefix ("COGO_") names the variables, and
  // an empty prefix means the command has none.
  explicit FlagSet(std::vector<Flag> flags, std::string env_prefix = "");

  // parse() reads the arguments after argv[0]. Each flag given calls its
  // set() in command-line order (a repeated flag, once per time); before
  // them, each flag the command line leaves out is set from its variable in
  // `env`, if any: a flag beats the environment, and a list given on the
  // command line replaces the variable's wholesale. A value may begin with
  // '-' (`--body -1`). Each other argument goes, in order, to `positional`;
  // without one it is refused. The whole command line is read before any
  // set() runs, so an unknown flag or a missing value is reported before a
  // bad value. Throws FlagError.
  void parse(std::span<const char* const> args, const std::map<std::string, std::string>& env = {},
             const std::function<void(const std::string&)>& positional = {}) const;

  // help() is one line per flag, the flag's spelling padded to `column` and
  // its help after it (on the next line when the spelling is wider).
  std::string help(std::size_t column) const;

  // environment() is the process's variables whose names begin with prefix.
  static std::map<std::string, std::string> environment(std::string_view prefix);

 private:
  const Flag* find_long(std::string_view name) const;
  const Flag* find_short(char name) const;
  std::string variable(const Flag& f) const;

  std::vector<Flag> flags_;
  std::string env_prefix_;
};

}  // namespace cogo
