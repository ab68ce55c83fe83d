// compress.cpp: the compression middleware (cogo/middleware/compress.h says
// what it does). The work is a BodyFilter (cogo/http/body_filter.h): the
// Response hands it the body as it goes out, so buffered, streamed and file
// bodies all pass through the same three calls.
#include "cogo/middleware/compress.h"

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "accept_encoding.h"
#include "conditional.h"
#include "cogo/http/body_filter.h"
#include "cogo/http/field.h"
#include "field_text.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/runtime.h"
#include "encoder.h"
#include "media_type.h"

namespace cogo::middleware {
namespace {

using detail::Coding;
using detail::trim_ows;

// Streams one P may compress at once, by default.
constexpr std::size_t kStreamsPerP = 64;

// list_has() tells whether a comma-separated field list (all of a field's
// lines) holds name, compared without case and, for directives such as
// "max-age=60", up to the '='.
bool list_has(const std::vector<std::string_view>& values, std::string_view name) {
  for (std::string_view v : values) {
    while (!v.empty()) {
      const std::size_t comma = v.find(',');
      std::string_view member = trim_ows(v.substr(0, comma));
      member = trim_ows(member.substr(0, member.find('=')));
      if (http::iequals(member, name)) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

struct State {
  std::vector<Coding> codings;     // in the server's order of preference
  std::vector<std::string> names;  // their names, for negotiate_encoding
  std::vector<std::string_view> offered;
  int levels[detail::kCodings] = {};
  std::size_t min_size = 0;
  std::optional<detail::MediaTypePatterns> types;
  std::size_t max_streams = 0;  // 0: kStreamsPerP per P, read when first needed
  std::atomic<std::size_t> streams{0};

  bool compressible(std::string_view content_type) const { return types->matches(content_type); }

  // negotiate() is the index of the coding for req, or a negative
  // (detail::kIdentity, kNoneAcceptable).
  int negotiate(const http::Request& req) const { return detail::negotiate_request(req, offered); }
};

void add_vary(http::Response& res) {
  const std::vector<std::string_view> vary = res.headers("Vary");
  if (!list_has(vary, "Accept-Encoding") && !list_has(vary, "*")) {
    res.add_header("Vary", "Accept-Encoding");
  }
}

void weaken_etag(http::Response& res) {
  const std::string_view etag = res.header("ETag");
  if (etag.empty() || etag.front() != '"') return;
  std::string weak;  // one allocation ("W/" + std::string(etag) made two)
  weak.reserve(2 + etag.size());
  weak.append("W/").append(etag);
  res.set_header("ETag", weak);
}

// CompressFilter: one response's compression. begin() applies the rules of
// compress.h; filter() is the encoder's.
class CompressFilter final : public http::BodyFilter {
 public:
  CompressFilter(State& state, const http::Request& req) : state_(state), req_(req) {}
  CompressFilter(const CompressFilter&) = delete;
  CompressFilter& operator=(const CompressFilter&) = delete;
  ~CompressFilter() {
    encoder_.reset();
    if (counted_) state_.streams.fetch_sub(1, std::memory_order_relaxed);
  }

  bool begin(http::Response& res, bool whole_body) override {
    const int status = res.status();
    if (status < 200 || status == 204) return false;
    if (!res.header("Content-Encoding").empty()) return false;  // never twice
    if (status == 304) {
      // A 304 must carry the ETag and Vary of the 200 it revalidates (RFC
      // 9110 15.4.5). The client holds W/"x" for a strong "x" exactly when
      // that 200 was compressed here: then say W/"x" and Vary too.
      const std::string_view etag = res.header("ETag");
      if (!etag.empty() && etag.front() == '"') {
        const std::vector<std::string_view> inm = req_.headers("If-None-Match");
        for (const detail::EntityTag& t : detail::parse_tag_list(inm).tags) {
          if (t.weak && t.opaque == etag) {
            weaken_etag(res);
            add_vary(res);
            break;
          }
        }
      }
      return false;
    }
    if (status == 206 || !res.header("Content-Range").empty()) return false;
    if (list_has(res.headers("Cache-Control"), "no-transform")) return false;
    if (!state_.compressible(res.header("Content-Type"))) return false;
    if (whole_body && res.body_bytes() < state_.min_size) return false;
    add_vary(res);
    const int choice = state_.negotiate(req_);
    if (choice < 0) return false;
    const Coding coding = state_.codings[static_cast<std::size_t>(choice)];
    if (!req_.is_head()) {
      std::size_t limit = state_.max_streams;
      if (limit == 0) limit = kStreamsPerP * static_cast<std::size_t>(cogo::gomaxprocs());
      if (state_.streams.fetch_add(1, std::memory_order_relaxed) >= limit) {
        state_.streams.fetch_sub(1, std::memory_order_relaxed);
        return false;  // enough work in progress: this one goes out as it is
      }
      counted_ = true;
      encoder_ = detail::acquire_encoder(coding, state_.levels[static_cast<int>(coding)],
                                         whole_body ? res.body_bytes() : 0);
    }
    res.set_header("Content-Encoding", detail::coding_name(coding));
    weaken_etag(res);
    res.remove_header("Accept-Ranges");
    return true;
  }

  void filter(std::string_view in, std::string& out, Mode mode) override {
    encoder_->encode(in, out, mode);
  }

 private:
  State& state_;
  const http::Request& req_;
  detail::EncoderLease encoder_;
  bool counted_ = false;
};

}  // namespace

std::vector<std::string> compressible_media_types() {
  return {
      "text/*",
      "application/json",
      "application/javascript",
      "application/x-javascript",
      "application/ecmascript",
      "application/xml",
      "application/wasm",
      "application/x-ndjson",
      "application/vnd.ms-fontobject",
      "application/x-font-ttf",
      "font/ttf",
      "font/otf",
      "image/svg+xml",
      "image/x-icon",
      "image/vnd.microsoft.icon",
      "image/bmp",
      "*/*+json",
      "*/*+xml",
  };
}

http::Middleware compress(CompressOptions options) {
  auto state = std::make_shared<State>();
  if (options.encodings.empty()) {
    throw std::invalid_argument(
        "compress: encodings is empty; offer at least one of br, zstd, gzip, deflate");
  }
  for (const std::string& name : options.encodings) {
    const auto coding = detail::coding_from_name(name);
    if (!coding) {
      throw std::invalid_argument("compress: encoding \"" + name +
                                  "\" is not one of br, zstd, gzip, deflate");
    }
    for (Coding c : state->codings) {
      if (c == *coding)
        throw std::invalid_argument("compress: encoding \"" + name + "\" is listed twice");
    }
    state->codings.push_back(*coding);
    state->names.push_back(name);
  }
  for (const std::string& n : state->names) state->offered.push_back(n);
  auto level = [](Coding c, int value, const char* option) {
    const auto [low, high] = detail::level_range(c);
    if (value < low || value > high) {
      throw std::invalid_argument("compress: " + std::string(option) + " " + std::to_string(value) +
                                  " is out of range " + std::to_string(low) + ".." +
                                  std::to_string(high));
    }
    return value;
  };
  state->levels[static_cast<int>(Coding::gzip)] =
      level(Coding::gzip, options.gzip_level, "gzip_level");
  state->levels[static_cast<int>(Coding::deflate)] = options.gzip_level;
  state->levels[static_cast<int>(Coding::br)] =
      level(Coding::br, options.brotli_quality, "brotli_quality");
  state->levels[static_cast<int>(Coding::zstd)] =
      level(Coding::zstd, options.zstd_level, "zstd_level");
  state->min_size = options.min_size;
  state->types.emplace(options.types, "compress");
  state->max_streams = options.max_streams;

  return [state](http::Request& req, http::Response& res, const http::Next& next) {
    CompressFilter filter(*state, req);
    if (!res.set_body_filter(&filter)) {  // an outer compress has it
      next(req, res);
      return;
    }
    // The filter dies with this frame: the Response must not keep it.
    struct Forget {
      http::Response& res;
      ~Forget() { res.clear_body_filter(); }
    } forget{res};
    next(req, res);
    res.finish_body_filter();
  };
}

}  // namespace cogo::middleware
