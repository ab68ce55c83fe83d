// signals.cpp: the runtime's signal handling.
//   SIGSEGV/SIGBUS on a goroutine's guard page: "goroutine N overflowed its
//     S-byte stack; raise COGO_STACK_SIZE", from an alternate signal stack
//     (the faulting stack has no room left), then abort. Other faults go to
//     the previous handler.
//   SIGQUIT: ask sysmon to print the goroutine dump; the process keeps running.
//   SIGPIPE: os.h's one policy (ignore_sigpipe: ignored unless the program
//     set its own disposition; a write to a closed socket is an error, not
//     a death).
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "runtime2.h"

namespace cogo::detail {

namespace {

constexpr size_t kAltStackSize = 64 * 1024;

struct sigaction g_old_segv, g_old_bus, g_old_quit;
bool g_installed = false;

// Async-signal-safe formatting.
size_t put_str(char* out, size_t at, size_t cap, const char* s) {
  while (*s && at < cap) out[at++] = *s++;
  return at;
}
size_t put_u64(char* out, size_t at, size_t cap, unsigned long long v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && n < 24);
  while (n > 0 && at < cap) out[at++] = digits[--n];
  return at;
}

void chain(int sig, siginfo_t* info, void* uctx, const struct sigaction& old) {
  if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction) {
    old.sa_sigaction(sig, info, uctx);
    return;
  }
  if (old.sa_handler == SIG_IGN) return;
  if (old.sa_handler != SIG_DFL && old.sa_handler) {
    old.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the fault repeats and kills us.
  signal(sig, SIG_DFL);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  M* m = getm();
  G* g = m ? m->curg : nullptr;
  if (g != nullptr && stack_guard_hit(g->stack, info->si_addr)) {
    char buf[160];
    size_t n = 0;
    n = put_str(buf, n, sizeof buf, "goroutine ");
    n = put_u64(buf, n, sizeof buf, g->id);
    n = put_str(buf, n, sizeof buf, " overflowed its ");
    n = put_u64(buf, n, sizeof buf, g->stack.size);
    n = put_str(buf, n, sizeof buf, "-byte stack; raise COGO_STACK_SIZE\n");
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;
    signal(SIGABRT, SIG_DFL);
    abort();
  }
  chain(sig, info, uctx, sig == SIGBUS ? g_old_bus : g_old_segv);
}

void on_quit(int, siginfo_t*, void*) {
  sysmon_request_dump();
}

}  // namespace

void signals_install() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sa.sa_sigaction = on_fault;
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sa.sa_sigaction = on_quit;
  sigaction(SIGQUIT, &sa, &g_old_quit);
  ignore_sigpipe();
  g_installed = true;
}

void signals_uninstall() {
  if (!g_installed) return;
  sigaction(SIGSEGV, &g_old_segv, nullptr);
  sigaction(SIGBUS, &g_old_bus, nullptr);
  sigaction(SIGQUIT, &g_old_quit, nullptr);
  g_installed = false;
}

void signals_thread_init(M* m) {
  // Keep an alternate stack the thread already has (a sanitizer's, say).
  stack_t old;
  if (sigaltstack(nullptr, &old) == 0 && !(old.ss_flags & SS_DISABLE)) return;
  m->altstack = std::malloc(kAltStackSize);
  stack_t ss;
  ss.ss_sp = m->altstack;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  sigaltstack(&ss, nullptr);
}

void signals_thread_fini(M* m) {
  if (m->altstack == nullptr) return;
  stack_t ss;
  std::memset(&ss, 0, sizeof ss);
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  std::free(m->altstack);
  m->altstack = nullptr;
}

}  // namespace cogo::detail
