// fuzz_input.h: FuzzInput, how every target reads the fuzzer's bytes.
//
// An input is a payload, optionally followed by the marker "\0CTL\0" and
// control bytes (the last marker counts):
//
//   GET / HTTP/1.1\r\nHost: a\r\n\r\n\0CTL\0\x03\x11\x85
//   '------------ payload -------------'       '- control -'
//
// The payload is what the target parses (the client's bytes); the control
// bytes choose how (split points, handler behaviour, limits). Without a
// marker everything is payload and every control byte reads as 0, the
// default: seeds stay readable and a plain HTTP capture is a valid input.
// The marker is in every dictionary, so the fuzzer finds it at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cogo_fuzz {

inline constexpr std::string_view kControlMarker{"\0CTL\0", 5};

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view all(reinterpret_cast<const char*>(data), size);
    const std::size_t at = all.rfind(kControlMarker);
    if (at == std::string_view::npos) {
      payload_ = all;
    } else {
      payload_ = all.substr(0, at);
      control_ = all.substr(at + kControlMarker.size());
    }
  }

  std::string_view payload() const noexcept { return payload_; }
  std::string_view control() const noexcept { return control_; }

  // next() is the next control byte, 0 once they are used up.
  std::uint8_t next() noexcept {
    if (next_ >= control_.size()) return 0;
    return static_cast<std::uint8_t>(control_[next_++]);
  }
  // control_left() tells whether next() has bytes left to give.
  bool control_left() const noexcept { return next_ < control_.size(); }

 private:
  std::string_view payload_;
  std::string_view control_;
  std::size_t next_ = 0;
};

// Cycle hands out a fixed list of control bytes round and round (all 0 when
// the list is empty): per-request choices that never run out.
class Cycle {
 public:
  Cycle() = default;
  explicit Cycle(std::string_view bytes) : bytes_(bytes) {}
  std::uint8_t next() noexcept {
    if (bytes_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes_[i_ % bytes_.size()]);
    ++i_;
    return b;
  }

 private:
  std::string_view bytes_;
  std::size_t i_ = 0;
};

}  // namespace cogo_fuzz
