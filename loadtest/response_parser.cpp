// response_parser.cpp: the framing state machine of response_parser.h.
#include "loadtest/response_parser.h"

#include <algorithm>
#include <cstring>

namespace cogo::load {

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// has_token() tells whether the comma-separated list holds token (any case).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// last_token() is the last item of a comma-separated list.
std::string_view last_token(std::string_view list) {
  size_t comma = list.rfind(',');
  return trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

}  // namespace

bool ResponseParser::fail(std::string why) {
  state_ = State::failed;
  error_ = std::move(why);
  return false;
}

int ResponseParser::feed(const char* data, size_t n) {
  if (state_ == State::failed) return -1;
  int completed = 0;
  while (n > 0) {
    switch (state_) {
      case State::body_length:
      case State::chunk_data: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, n));
        data += take;
        n -= take;
        remaining_ -= take;
        if (remaining_ == 0) {
          if (state_ == State::body_length) {
            complete(completed);
          } else {
            state_ = State::chunk_crlf;
          }
        }
        break;
      }
      case State::body_to_eof:
        return completed;  // everything up to the end of the stream is body
      case State::failed:
        return -1;
      default: {
        const char* nl = static_cast<const char*>(std::memchr(data, '\n', n));
        if (!nl) {
          if (line_.size() + n > kMaxLine) {
            fail("a response line or header is longer than 16 KiB");
            return -1;
          }
          line_.append(data, n);
          return completed;
        }
        const size_t len = static_cast<size_t>(nl - data);
        std::string_view line;
        if (line_.empty()) {
          line = std::string_view(data, len);
        } else {
          if (line_.size() + len > kMaxLine) {
            fail("a response line or header is longer than 16 KiB");
            return -1;
          }
          line_.append(data, len);
          line = line_;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        data = nl + 1;
        n -= len + 1;
        const bool ok = on_line(line, completed);
        line_.clear();
        if (!ok) return -1;
      }
    }
  }
  return completed;
}

int ResponseParser::finish() {
  if (state_ == State::failed) return -1;
  if (state_ == State::body_to_eof) {
    int completed = 0;
    complete(completed);
    last_keep_alive_ = false;
    return completed;
  }
  if (idle()) return 0;
  fail("the connection closed in the middle of a response");
  return -1;
}

bool ResponseParser::on_line(std::string_view line, int& completed) {
  switch (state_) {
    case State::status_line:
      return status_line(line);
    case State::header_line:
      return header_line(line, completed);
    case State::chunk_size: {
      uint64_t size = 0;
      size_t i = 0;
      for (; i < line.size(); i++) {
        const char c = lower(line[i]);
        int digit;
        if (c >= '0' && c <= '9') {
          digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
          digit = c - 'a' + 10;
        } else {
          break;
        }
        if (size >> 56) return fail("chunk size too large");
        size = size * 16 + static_cast<uint64_t>(digit);
      }
      if (i == 0) return fail("bad chunk size line");
      std::string_view rest = trim(line.substr(i));
      if (!rest.empty() && rest.front() != ';') return fail("bad chunk size line");
      if (size == 0) {
        state_ = State::trailer_line;
      } else {
        remaining_ = size;
        state_ = State::chunk_data;
      }
      return true;
    }
    case State::chunk_crlf:
      if (!line.empty()) return fail("chunk data longer than its size");
      state_ = State::chunk_size;
      return true;
    case State::trailer_line:
      if (line.empty()) complete(completed);
      return true;
    default:
      return fail("internal: line in a body state");
  }
}

bool ResponseParser::status_line(std::string_view line) {
  // Tolerate empty lines between responses (RFC 9112 2.2 allows a client to).
  if (line.empty()) return true;
  // "HTTP/1.1 200 OK": the reason phrase may be empty, even without its space.
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ' || line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' ||
      line[11] < '0' || line[11] > '9' || (line.size() > 12 && line[12] != ' ')) {
    std::string shown(line.substr(0, 40));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    return fail("bad status line \"" + shown + "\"");
  }
  minor_version_ = line[7] - '0';
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  has_length_ = chunked_ = close_ = keep_alive_header_ = false;
  remaining_ = 0;
  state_ = State::header_line;
  return true;
}

bool ResponseParser::header_line(std::string_view line, int& completed) {
  if (line.empty()) {
    headers_done(completed);
    return state_ != State::failed;
  }
  if (line.front() == ' ' || line.front() == '\t') return fail("obsolete header line folding");
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail("header line without a name");
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "content-length")) {
    uint64_t v = 0;
    if (value.empty()) return fail("empty Content-Length");
    for (char c : value) {
      if (c < '0' || c > '9') return fail("bad Content-Length \"" + std::string(value) + "\"");
      if (v > (uint64_t{1} << 56)) return fail("Content-Length too large");
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (has_length_ && v != remaining_) return fail("conflicting Content-Length headers");
    has_length_ = true;
    remaining_ = v;
  } else if (iequals(name, "transfer-encoding")) {
    // Only the last coding frames the body; a non-chunked one runs to EOF.
    chunked_ = iequals(last_token(value), "chunked");
    if (!chunked_) close_ = true;
  } else if (iequals(name, "connection")) {
    if (has_token(value, "close")) close_ = true;
    if (has_token(value, "keep-alive")) keep_alive_header_ = true;
  }
  return true;
}

void ResponseParser::headers_done(int& completed) {
  if (status_ >= 100 && status_ < 200) {
    if (status_ == 101) {
      fail("101 Switching Protocols: cogo-load speaks HTTP/1.1 only");
      return;
    }
    state_ = State::status_line;  // interim: the real response follows
    return;
  }
  if (head_ || status_ == 204 || status_ == 304) {
    complete(completed);
  } else if (chunked_) {
    state_ = State::chunk_size;
  } else if (has_length_) {
    if (remaining_ == 0) {
      complete(completed);
    } else {
      state_ = State::body_length;
    }
  } else {
    state_ = State::body_to_eof;
  }
}

void ResponseParser::complete(int& completed) {
  last_keep_alive_ =
      !close_ && state_ != State::body_to_eof && (minor_version_ >= 1 || keep_alive_header_);
  last_status_ = status_;
  const int cls = status_ / 100;
  by_class_[(cls >= 1 && cls <= 5) ? cls : 0]++;
  completed++;
  state_ = State::status_line;
  remaining_ = 0;
}

}  // namespace cogo::load
