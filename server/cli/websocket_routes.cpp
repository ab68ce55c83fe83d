// websocket_routes.cpp: /ws/echo and /ws/chat (see websocket_routes.h).
//
// The chat room in Go's shape: one hub goroutine owns the set of members and
// is the only one to touch it, so nothing on the message path takes a lock
// shared by all connections; joins, leaves and messages reach it over one
// channel. Each member's writer goroutine drains its own bounded queue, so
// the hub never waits for a socket.
#include "websocket_routes.h"

#include <memory>
#include <string>
#include <unordered_set>

#include "cogo/cancel.h"
#include "cogo/chan.h"
#include "cogo/http/request.h"
#include "cogo/http/response.h"
#include "cogo/once.h"
#include "cogo/runtime.h"
#include "cogo/wait_group.h"

namespace cogo::cli {

namespace {

using websocket::Message;

// A message on its way to every member (shared, not copied per member).
struct Broadcast {
  websocket::Kind kind;
  std::string data;
};
using BroadcastPtr = std::shared_ptr<const Broadcast>;

constexpr std::size_t kMemberQueue = 256;

struct Member {
  websocket::Sender out;
  cogo::Chan<BroadcastPtr> queue{kMemberQueue};
};
using MemberPtr = std::shared_ptr<Member>;

struct HubEvent {
  enum class Type : std::uint8_t { join, leave, message } type;
  MemberPtr member;
  BroadcastPtr message;
};

class ChatHub {
 public:
  ChatHub() = default;
  ChatHub(const ChatHub&) = delete;
  ChatHub& operator=(const ChatHub&) = delete;
  // ~ChatHub() stops the hub, if it started, and waits for it to return.
  // Nobody sends any more (every chat() holds the hub), and the hub must end
  // on its own: a goroutine still parked when the runtime stops has its
  // stack dropped without unwinding, and the members set on it leaked (LSan
  // in websocket_interop_test, ASan build).
  ~ChatHub() {
    events_.close();
    stopped_.wait();
  }

  // events() is where members send; the hub starts on first use.
  const cogo::Chan<HubEvent>& events() {
    started_.call([this] {
      stopped_.add(1);
      cogo::go_detached([this] {
        run();
        stopped_.done();
      });
    });
    return events_;
  }

 private:
  // run() is the hub: the only code that touches members.
  void run() {
    std::unordered_set<MemberPtr> members;
    while (auto e = events_.recv()) {
      switch (e->type) {
        case HubEvent::Type::join:
          members.insert(e->member);
          break;
        case HubEvent::Type::leave:
          if (members.erase(e->member) > 0) e->member->queue.close();
          break;
        case HubEvent::Type::message:
          for (auto it = members.begin(); it != members.end();) {
            if ((*it)->queue.try_send(BroadcastPtr(e->message))) {
              ++it;
              continue;
            }
            // Its queue is full: a member too slow to keep up is let go.
            (*it)->queue.close();
            it = members.erase(it);
          }
          break;
      }
    }
    // Closed: let any writer still waiting go (none, once every chat()
    // has left).
    for (const MemberPtr& m : members) m->queue.close();
  }

  cogo::Once started_;
  cogo::WaitGroup stopped_;  // counts the hub goroutine once started
  cogo::Chan<HubEvent> events_{1024};
};

// write_queue() is a member's writer goroutine: its queue to its socket,
// until the hub closes the queue — the member left, or was too slow: then
// its connection is still open, and is closed with 1008 (its reader gets
// the peer's answer and leaves).
void write_queue(const MemberPtr& m) {
  try {
    while (auto b = m->queue.recv()) m->out.write((*b)->kind, (*b)->data);
    if (m->out.open()) m->out.close(websocket::close_code::policy_violation, "too slow");
  } catch (const std::exception&) {
    // The connection ended under the write, or the request was cancelled.
  }
}

// chat() is one member of the room, for as long as its connection lasts.
void chat(ChatHub& hub, websocket::WebSocket& ws) {
  auto member = std::make_shared<Member>();
  member->out = ws.sender();
  const cogo::Chan<HubEvent>& events = hub.events();
  events.send(HubEvent{HubEvent::Type::join, member, nullptr});
  cogo::WaitGroup writer;
  writer.add(1);
  cogo::go([member, &writer] {
    write_queue(member);
    writer.done();
  });
  // Leaving happens whatever ends the loop (a close, a cancel), and must
  // reach the hub even under a cancelled context.
  struct Leave {
    const cogo::Chan<HubEvent>& events;
    MemberPtr member;
    cogo::WaitGroup& writer;
    ~Leave() {
      cogo::CancelShield shield;
      events.send(HubEvent{HubEvent::Type::leave, member, nullptr});
      writer.wait();
    }
  } leave{events, member, writer};
  Message m;
  while (ws.read(m)) {
    events.send(HubEvent{HubEvent::Type::message, nullptr,
                         std::make_shared<const Broadcast>(Broadcast{m.kind, std::move(m.data)})});
  }
}

}  // namespace

void add_websocket_routes(http::Router& router, const websocket::Options& options) {
  // websocket::serve(): the loop runs once the request is over, with the
  // HTTP engine given back (an idle connection costs its stack page and
  // about 1.5 KiB).
  router.get("/ws/echo", [options](http::Request& req, http::Response& res) {
    websocket::serve(req, res, options, [](websocket::WebSocket& ws) {
      Message m;
      while (ws.read(m)) ws.write(m.kind, m.data);
    });
  });
  auto hub = std::make_shared<ChatHub>();
  router.get("/ws/chat", [options, hub](http::Request& req, http::Response& res) {
    websocket::serve(req, res, options, [hub](websocket::WebSocket& ws) { chat(*hub, ws); });
  });
}

}  // namespace cogo::cli
