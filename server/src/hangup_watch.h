// hangup_watch.h: noticing that a client left while its handler waits.
//
// A request's context (cogo/cancel.h) is cancelled with client_gone when the
// peer resets or hangs up while the handler is blocked, and, unless the
// server keeps serving half-closed clients, when it sends a FIN after its
// complete request with nothing more behind it (nginx's 499, Go's
// context cancel on a background read's EOF).
//
// The watch starts on the request's first wait (the context's first-wait
// callback), so a handler that never waits never pays for it, and it never
// reads from the socket: pipelined bytes stay where they are. One watcher
// thread owns an epoll set of its own; a watch is one EPOLL_CTL_ADD with
// EPOLLRDHUP | EPOLLONESHOT (the kernel reports a hang-up that happened
// before the add at once), ended by one EPOLL_CTL_DEL. On a FIN the watcher
// asks FIONREAD: bytes still unread (a body the handler did not read, a
// TLS close_notify) mean the FIN is not "nothing more", and the watch is
// re-armed for resets only. The same watcher serves both connection models.
#pragma once

#include <atomic>
#include <cstdint>

#include "cogo/cancel.h"

namespace cogo::http::detail {

// watch_hangup() starts watching fd for the client leaving; ctx is cancelled
// with client_gone when it does. half_close: a FIN counts (else only a reset
// or hang-up), unless *draining (when given) is true by then: the thread
// model's shutdown ends the input of its connections itself (SHUT_RD), and
// a request in progress still gets its response. Returns an id for unwatch_hangup(), 0 if the watch could not
// be set up (then nothing is watched; the request goes on). Never blocks
// beyond a short lock; callable from a scheduler stack.
std::uint64_t watch_hangup(int fd, const cogo::Context& ctx, bool half_close,
                           const std::atomic<bool>* draining) noexcept;
// unwatch_hangup() ends a watch; after it returns the watcher no longer
// touches fd or ctx. id 0 is a no-op.
void unwatch_hangup(std::uint64_t id, int fd) noexcept;

}  // namespace cogo::http::detail
