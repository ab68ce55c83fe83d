// flag_set.cpp: the command-line grammar of cogo/flag_set.h.
#include "cogo/flag_set.h"

#include <cctype>
#include <utility>

extern char** environ;

namespace cogo {

namespace {

// Given: one flag on the command line, the spelling it was typed with and its
// value; or, with no flag, a positional argument (value).
struct Given {
  const Flag* flag = nullptr;
  std::string spelling;
  std::string value;
};

// switch_value() reads a switch's variable.
bool switch_value(const std::string& variable, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off" || v.empty()) return false;
  throw FlagError("environment " + variable + ": '" + v +
                  "' is not a boolean; use 1/0, true/false");
}

}  // namespace

FlagSet::FlagSet(std::vector<Flag> flags, std::string env_prefix)
    : flags_(std::move(flags)), env_prefix_(std::move(env_prefix)) {}

const Flag* FlagSet::find_long(std::string_view name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Flag* FlagSet::find_short(char name) const {
  for (const Flag& f : flags_) {
    if (f.short_name != 0 && f.short_name == name) return &f;
  }
  return nullptr;
}

std::string FlagSet::variable(const Flag& f) const {
  std::string n = env_prefix_;
  for (char c : f.name)
    n += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

void FlagSet::parse(std::span<const char* const> args,
                    const std::map<std::string, std::string>& env,
                    const std::function<void(const std::string&)>& positional) const {
  // The whole command line first, so the environment knows what it gave.
  std::vector<Given> given;
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      given.push_back({nullptr, {}, arg});
      continue;
    }
    Given g;
    bool inline_value = false;
    if (arg[1] == '-') {
      const auto eq = arg.find('=');
      g.spelling = arg.substr(0, eq);
      if (eq != std::string::npos) {
        g.value = arg.substr(eq + 1);
        inline_value = true;
      }
      g.flag = find_long(std::string_view(g.spelling).substr(2));
    } else {
      g.spelling = arg;
      if (arg.size() == 2) g.flag = find_short(arg[1]);
    }
    if (g.flag == nullptr) throw FlagError("unknown flag " + g.spelling + " (see --help)");
    if (g.flag->value.empty() && inline_value) throw FlagError(g.spelling + ": takes no value");
    if (!g.flag->value.empty() && !inline_value) {
      if (i + 1 >= args.size()) throw FlagError(g.spelling + ": missing value (see --help)");
      g.value = args[++i];
    }
    given.push_back(std::move(g));
  }

  if (!env_prefix_.empty()) {
    for (const Flag& f : flags_) {
      if (f.environment == Flag::no_variable) continue;
      const auto it = env.find(variable(f));
      if (it == env.end()) continue;
      bool on_command_line = false;
      for (const Given& g : given) on_command_line = on_command_line || g.flag == &f;
      if (on_command_line) continue;
      const std::string spelling = "--" + f.name;
      if (f.value.empty()) {
        if (switch_value(it->first, it->second)) f.set(spelling, "");
        continue;
      }
      try {
        if (f.environment == Flag::comma_list) {
          for (const std::string& item : parse_list(it->second)) f.set(spelling, item);
        } else {
          f.set(spelling, it->second);
        }
      } catch (const FlagError& e) {
        throw FlagError("environment " + it->first + ": " + e.what());
      }
    }
  }

  for (const Given& g : given) {
    if (g.flag != nullptr) {
      g.flag->set(g.spelling, g.value);
    } else if (positional) {
      positional(g.value);
    } else {
      throw FlagError("unexpected argument '" + g.value + "' (see --help)");
    }
  }
}

std::string FlagSet::help(std::size_t column) const {
  const std::string indent(column, ' ');
  std::string out;
  for (const Flag& f : flags_) {
    if (f.help.empty()) continue;
    std::string left = "  ";
    if (f.short_name != 0) left += std::string{'-', f.short_name} + ", ";
    left += "--" + f.name;
    if (!f.value.empty()) left += " " + f.value;
    if (left.size() < column) {
      left.resize(column, ' ');
    } else {
      left += "\n" + indent;
    }
    out += left;
    for (char c : f.help) out += c == '\n' ? "\n" + indent : std::string(1, c);
    out += '\n';
  }
  return out;
}

std::map<std::string, std::string> FlagSet::environment(std::string_view prefix) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.starts_with(prefix)) {
      env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  return env;
}

}  // namespace cogo
