// cogo/middleware/metrics.h: Prometheus metrics of the requests it wraps.
//
//   server.use(cogo::middleware::metrics());            // outermost but heartbeat
//   cogo::http::AdminServer admin("127.0.0.1:9090", server);   // serves /metrics
//
// Per request, after the rest of the chain returned or threw, into
// cogo::metrics' registry (the default one unless options say otherwise):
//   cogo_http_requests_total{method,route,code}          counter
//   cogo_http_request_duration_seconds{method,route}     histogram
//   cogo_http_response_size_bytes{method,route}          histogram (body bytes)
// method: GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH, any other
// method is "other" (a scanner cannot grow the series); route: req.route(),
// the pattern the router matched ("/users/:id"), "other" when none did (404,
// or a middleware answered before the router ran); code: the status the
// client got (cogo/http/outcome.h): the handler's, 4xx/5xx for what
// escaped it, 503 for a cancelled request, 499 when the client left. The
// duration runs from this middleware's start to the end of the chain; a
// buffered response's bytes are written after it.
//
// Requests in flight and cancelled requests are the server's own counters
// (cogo_http_requests_in_flight, cogo_http_requests_cancelled_total{reason}),
// exposed by the admin's /metrics (cogo/http/admin.h) beside /debug/vars
// from the same atomics, whether this middleware runs or not.
//
// Cost: no lock on the request path. Each thread keeps a small cache from
// (method, route, code) to the series, the last one used checked first; a
// request costs two clock reads, a compare with that last key (a hash
// probe only when the key changed), four sharded relaxed atomic adds, one
// compare-and-swap (the duration's double sum; the size's is an integer)
// and two histogram bucket searches: ~240 instructions per request in all,
// 4% of the server's ~6,000 (GET / at c=50, 1 P: `loadtest/callgrind.sh
// --metrics`). A miss (a thread's first request of a combination) takes the
// family's lock once. Every metrics() on one registry shares the same
// families; the first fixes their buckets.
#pragma once

#include <vector>

#include "cogo/http/handler.h"
#include "cogo/metrics.h"

namespace cogo::middleware {

struct MetricsOptions {
  // The registry the families go into; null: cogo::metrics::default_registry().
  cogo::metrics::Registry* registry = nullptr;
  // Upper bounds of the duration buckets, seconds (default 0.5 ms .. 10 s).
  std::vector<double> duration_buckets = cogo::metrics::default_duration_buckets();
  // Upper bounds of the response size buckets, bytes (default 64 B .. 16 MiB).
  std::vector<double> size_buckets = cogo::metrics::default_size_buckets();
};

// metrics() throws std::invalid_argument for buckets that are not strictly
// increasing, or when the registry holds one of the names as another kind
// or with other labels.
http::Middleware metrics(MetricsOptions options = {});

}  // namespace cogo::middleware
