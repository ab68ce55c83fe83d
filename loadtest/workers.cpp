// workers.cpp: the parent's process loop and the worker's control socket
// (see workers.h).
#include "loadtest/workers.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "cogo/runtime.h"

namespace cogo::load {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Worker side

void WorkerControl::send(const Json& message) {
  const std::string line = message.dump() + "\n";
  std::lock_guard<cogo::Mutex> g(write_mu_);
  std::error_code ec;
  conn_.write_all(line.data(), line.size(), ec);
  // A parent that is gone cannot be told anything; PR_SET_PDEATHSIG ends us.
}

void WorkerControl::barrier(const char* phase) {
  send(Json{{"type", "phase"}, {"phase", phase}});
  for (;;) {
    const size_t nl = inbuf_.find('\n');
    if (nl != std::string::npos) {
      const std::string line = inbuf_.substr(0, nl);
      inbuf_.erase(0, nl + 1);
      if (line == "go") return;
      continue;
    }
    char buf[256];
    std::error_code ec;
    const size_t n = conn_.read(buf, sizeof buf, ec);
    if (ec) {
      std::fprintf(stderr, "cogo-load worker: lost the parent process (%s)\n",
                   ec.message().c_str());
      std::_Exit(1);
    }
    inbuf_.append(buf, n);
  }
}

void WorkerControl::progress(const Live& live) {
  send(Json{{"type", "progress"}, {"live", live.to_json()}});
}

void WorkerControl::report(const Report& r) {
  send(Json{{"type", "report"}, {"report", r.to_json(true)}});
}

void WorkerControl::fail(const std::string& why) {
  send(Json{{"type", "fail"}, {"message", why}});
}

// ---------------------------------------------------------------------------
// Parent side

namespace {

struct Worker {
  Slice slice;
  pid_t pid = -1;
  int fd = -1;
  std::string inbuf;
  bool eof = false;
  bool waiting = false;  // reached a phase; waits for "go"
  std::string phase;
  bool has_report = false;
  Report report;
  Live live;
  std::string failure;
  int status = 0;
};

std::string self_exe() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

void spawn(Worker& w, const Options& o, const std::vector<std::string>& args,
           const std::string& exe) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    w.failure = std::string("socketpair: ") + std::strerror(errno);
    w.eof = true;
    return;
  }
  // The child's end moves to a descriptor without FD_CLOEXEC (dup does
  // that); its number goes into --worker. Build argv before fork(): the
  // child only calls async-signal-safe functions.
  constexpr int kChildFd = 3;
  std::vector<std::string> full;
  full.push_back(exe);
  full.insert(full.end(), args.begin(), args.end());
  full.push_back("--no-progress");
  full.push_back("--worker");
  full.push_back(std::to_string(w.slice.first) + "," + std::to_string(w.slice.count) + "," +
                 std::to_string(o.total) + "," + std::to_string(kChildFd));
  std::vector<char*> argv;
  for (auto& s : full) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (dup2(sv[1], kChildFd) < 0) _exit(126);  // dup2 clears FD_CLOEXEC
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  close(sv[1]);
  if (pid < 0) {
    w.failure = std::string("fork: ") + std::strerror(errno);
    close(sv[0]);
    w.eof = true;
    return;
  }
  w.pid = pid;
  w.fd = sv[0];
}

void handle_line(Worker& w, const std::string& line) {
  Json j;
  try {
    j = Json::parse(line);
    const std::string type = json_string(j, "type", "");
    if (type == "progress") {
      w.live = Live::from_json(json_member(j, "live"));
    } else if (type == "phase") {
      w.waiting = true;
      w.phase = json_string(j, "phase", "");
    } else if (type == "report") {
      w.report = Report::from_json(json_member(j, "report"));
      w.has_report = true;
    } else if (type == "fail") {
      w.failure = json_string(j, "message", "failed");
    }
  } catch (const std::exception& e) {  // Json::exception or a bad report
    w.failure = std::string("bad message from worker: ") + e.what();
  }
}

void write_go(Worker& w) {
  w.waiting = false;
  const char kGo[] = "go\n";
  if (send(w.fd, kGo, sizeof kGo - 1, MSG_NOSIGNAL) < 0) {
    // The worker is gone; its EOF is seen by the poll loop.
  }
}

}  // namespace

Report run_workers(const Options& o, const std::vector<Slice>& slices,
                   const std::vector<std::string>& args, bool show_progress) {
  const std::string exe = self_exe();
  // Each worker is a whole runtime: with more workers than CPUs, one P each
  // is plenty, and more would only add idle Ms spinning for work. The
  // workers inherit COGO_MAXPROCS (the parent runs no runtime itself).
  if (const char* v = std::getenv("COGO_MAXPROCS"); v == nullptr || *v == '\0') {
    const int cpus = cogo::gomaxprocs();  // CPUs allowed (affinity, cgroup quota)
    const int per_worker = std::max<int>(1, cpus / static_cast<int>(slices.size()));
    setenv("COGO_MAXPROCS", std::to_string(per_worker).c_str(), 1);
  }
  std::vector<Worker> workers(slices.size());
  for (size_t i = 0; i < slices.size(); i++) {
    workers[i].slice = slices[i];
    spawn(workers[i], o, args, exe);
  }

  LocalControl progress(show_progress);
  Clock::time_point next_progress = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < workers.size(); i++) {
      if (!workers[i].eof) {
        fds.push_back({workers[i].fd, POLLIN, 0});
        which.push_back(i);
      }
    }
    if (fds.empty()) break;
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_progress - Clock::now());
    const int r =
        poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (r < 0 && errno != EINTR) {
      std::perror("cogo-load: poll");
      break;
    }
    for (size_t k = 0; r > 0 && k < fds.size(); k++) {
      if (!fds[k].revents) continue;
      Worker& w = workers[which[k]];
      char buf[65536];
      const ssize_t n = read(w.fd, buf, sizeof buf);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        w.eof = true;
        w.waiting = false;
        close(w.fd);
        w.fd = -1;
        continue;
      }
      w.inbuf.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = w.inbuf.find('\n')) != std::string::npos;) {
        handle_line(w, w.inbuf.substr(0, nl));
        w.inbuf.erase(0, nl + 1);
      }
    }
    // A barrier opens once every worker still running waits at it.
    bool any_running = false, all_waiting = true;
    for (const Worker& w : workers) {
      if (w.eof) continue;
      any_running = true;
      all_waiting = all_waiting && w.waiting;
    }
    if (any_running && all_waiting) {
      for (Worker& w : workers) {
        if (!w.eof) write_go(w);
      }
    }
    if (Clock::now() >= next_progress) {
      Live sum;
      sum.phase = "ramp";
      for (const Worker& w : workers) {
        if (*w.live.phase) sum.phase = w.live.phase;
        sum.open += w.live.open;
        sum.established += w.live.established;
        sum.failed += w.live.failed;
        sum.sent += w.live.sent;
        sum.answered += w.live.answered;
      }
      progress.progress(sum);
      next_progress += std::chrono::seconds(1);
    }
  }
  progress.finish();

  Report total;
  total.processes = 0;
  for (Worker& w : workers) {
    if (w.pid > 0) {
      while (waitpid(w.pid, &w.status, 0) < 0 && errno == EINTR) {
      }
    }
    if (w.has_report) {
      total.merge(w.report);
      continue;
    }
    // No report: its connections count as asked and failed, with the reason.
    Report lost;
    lost.processes = 1;
    lost.mode = o.mode == Mode::hold ? "hold" : "load";
    lost.url = o.target.url();
    lost.connections = w.slice.count;
    lost.failed = w.slice.count;
    std::string why = w.failure;
    if (why.empty()) {
      why = WIFSIGNALED(w.status) ? "killed by signal " + std::to_string(WTERMSIG(w.status))
                                  : "exited with status " + std::to_string(WEXITSTATUS(w.status));
    }
    lost.errors["worker: " + why + " without a report"] = 1;
    std::fprintf(stderr, "cogo-load: worker %d (connections %lld..%lld): %s\n", w.pid,
                 static_cast<long long>(w.slice.first),
                 static_cast<long long>(w.slice.first + w.slice.count - 1), why.c_str());
    total.merge(lost);
  }
  return total;
}

}  // namespace cogo::load
