// cogo/model.h: the two connection models a cogo server runs its handlers
// in (the HTTP server and the echo server alike):
//   goroutine - a goroutine per connection on the netpoller.
//   thread    - an OS thread and a blocking socket per connection (the
//               baseline cogo is measured against).
#pragma once

namespace cogo {

enum class Model { goroutine, thread };
// model_name() is "goroutine" or "thread".
const char* model_name(Model m);

}  // namespace cogo
