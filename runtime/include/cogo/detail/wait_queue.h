// cogo/detail/wait_queue.h: WaitQueue, the FIFO of waiters (goroutines or
// threads) that a channel or a sync primitive keeps under its lock.
//
// Public only because Mutex, Cond, Once and WaitGroup hold one by value, so
// a user's compiler must know its size: two pointers to links it never sees.
// The waiters themselves (Waiter, WaitLink: cogo/detail/waiter.h) and the
// scheduler under them are the runtime's, not installed.
#pragma once

namespace cogo::detail {

struct WaitLink;  // a waiter's entry in one queue (cogo/detail/waiter.h)

// WaitQueue: FIFO of wait links, guarded by the owner's lock.
struct WaitQueue {
  WaitLink* head = nullptr;
  WaitLink* tail = nullptr;

  bool empty() const { return head == nullptr; }
  // push() appends l. Precondition: l is not queued.
  void push(WaitLink* l);
  // remove() unlinks l. Precondition: l->queued and l is in this queue.
  void remove(WaitLink* l);
  // pop_claimed() removes links from the front until it claims one's waiter
  // and returns that link, or nullptr when the queue runs out. Links whose
  // waiter was claimed elsewhere (a select that fired on another case, a
  // timeout) are dropped: their waiter no longer wants them.
  WaitLink* pop_claimed();
  // pop_all_claimed() empties the queue and returns every link it claimed,
  // chained through WaitLink::next, for wake_chain() after unlocking.
  WaitLink* pop_all_claimed();
  // drop_goroutines() unlinks every goroutine's link, keeping the threads'.
  // Only for a run() that ended: its goroutines will never run again, and
  // their stacks (where the links live) are about to go.
  void drop_goroutines();
};

}  // namespace cogo::detail
