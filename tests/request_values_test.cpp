// Request values (cogo/http/request_values.h): typed values a middleware
// attaches for a later one or the handler; the store on its own (arena,
// heap beyond it, replacement, order of destruction) and through a real
// connection in every engine model (a value lives for its request only,
// and attaching a small one allocates nothing).
#include "cogo/http/request_values.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "http_test_util.h"

// Every allocation on this thread is counted (the test reads the count
// around a request value's life). GCC pairs these malloc/free-based
// replacements with each other only by their names, hence the pragma.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local long t_allocations = 0;
}
void* operator new(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  ++t_allocations;
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace cogo::http {
namespace {

using testing::ServedPair;

struct Small {
  int n;
};
struct Named {
  std::string name;
};
struct Big {
  char bytes[600];
};
template <int N>
struct Tagged {
  int v;
};

// Tracked records its destruction in *log.
struct Tracked {
  std::string* log;
  char id;
  ~Tracked() { *log += id; }
};
struct TrackedB : Tracked {};

TEST(RequestValues, SetGetReplaceErase) {
  RequestValues v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.get<Small>(), nullptr);
  v.emplace<Small>(Small{1});
  v.emplace<Named>(Named{"ann"});
  ASSERT_NE(v.get<Small>(), nullptr);
  EXPECT_EQ(v.get<Small>()->n, 1);
  EXPECT_EQ(v.get<Named>()->name, "ann");
  v.emplace<Small>(Small{2});  // one per type: replaced
  EXPECT_EQ(v.get<Small>()->n, 2);
  v.erase<Small>();
  EXPECT_EQ(v.get<Small>(), nullptr);
  EXPECT_EQ(v.get<Named>()->name, "ann");
  v.clear();
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.get<Named>(), nullptr);
}

TEST(RequestValues, ManyAndLargeValuesGoBeyondTheInlineStore) {
  RequestValues v;
  v.emplace<Tagged<0>>(Tagged<0>{0});
  v.emplace<Tagged<1>>(Tagged<1>{1});
  v.emplace<Tagged<2>>(Tagged<2>{2});
  v.emplace<Tagged<3>>(Tagged<3>{3});
  v.emplace<Tagged<4>>(Tagged<4>{4});
  v.emplace<Tagged<5>>(Tagged<5>{5});
  v.emplace<Tagged<6>>(Tagged<6>{6});
  v.emplace<Tagged<7>>(Tagged<7>{7});
  v.emplace<Tagged<8>>(Tagged<8>{8});  // the ninth slot: beyond the inline ones
  v.emplace<Tagged<9>>(Tagged<9>{9});
  Big& big = v.emplace<Big>();  // beyond the arena
  big.bytes[599] = 'z';
  EXPECT_EQ(v.get<Tagged<0>>()->v, 0);
  EXPECT_EQ(v.get<Tagged<8>>()->v, 8);
  EXPECT_EQ(v.get<Tagged<9>>()->v, 9);
  EXPECT_EQ(v.get<Big>()->bytes[599], 'z');
  v.erase<Tagged<3>>();  // an inline slot frees: a later one moves in
  EXPECT_EQ(v.get<Tagged<3>>(), nullptr);
  EXPECT_EQ(v.get<Tagged<9>>()->v, 9);
  EXPECT_EQ(v.get<Tagged<8>>()->v, 8);
  v.clear();
  EXPECT_EQ(v.get<Tagged<9>>(), nullptr);
}

TEST(RequestValues, ClearDestroysNewestFirst) {
  std::string log;
  {
    RequestValues v;
    v.emplace<Tracked>(Tracked{&log, 'a'});
    log.clear();  // (the temporary's destructor)
    v.emplace<TrackedB>(TrackedB{{&log, 'b'}});
    log.clear();
    v.clear();
    EXPECT_EQ(log, "ba");
    v.emplace<Tracked>(Tracked{&log, 'c'});
    log.clear();
  }
  EXPECT_EQ(log, "c");  // the destructor clears
}

TEST(RequestValues, AThrowingConstructorLeavesNothing) {
  struct Throws {
    explicit Throws(bool t) {
      if (t) throw std::runtime_error("no");
    }
  };
  RequestValues v;
  EXPECT_THROW(v.emplace<Throws>(true), std::runtime_error);
  EXPECT_EQ(v.get<Throws>(), nullptr);
  v.emplace<Throws>(false);
  EXPECT_NE(v.get<Throws>(), nullptr);
  EXPECT_THROW(v.emplace<Throws>(true), std::runtime_error);  // the replacement failed
  EXPECT_EQ(v.get<Throws>(), nullptr);
}

class RequestValuesOverModels : public testing::EngineTest {};
INSTANTIATE_TEST_SUITE_P(Models, RequestValuesOverModels, testing::kEngineModels,
                         testing::engine_model_name);

struct Attached {
  int n;
  char text[32];
};

// A middleware attaches a value, the handler reads it; the next request
// on the same connection starts without it; attaching and reading a small
// value allocates nothing.
TEST_P(RequestValuesOverModels, AValueLivesForItsRequest) {
  std::atomic<int> destroyed{0};
  struct Counted {
    std::atomic<int>* destroyed;
    ~Counted() {
      if (destroyed) ++*destroyed;
    }
  };
  std::atomic<long> allocations{-1};
  MiddlewareChain chain;
  chain.use([&](Request& req, Response& res, const Next& next) {
    if (req.path() == "/set") {
      const long before = t_allocations;
      req.set_value<Attached>(Attached{7, "seven"});
      const Attached* a = req.value<Attached>();
      allocations = t_allocations - before + (a != nullptr && a->n == 7 ? 0 : 1000);
      req.set_value<Counted>().destroyed = &destroyed;
    }
    next(req, res);
  });
  ServedPair pair(chain.then([&](Request& req, Response& res) {
    const Attached* a = req.value<Attached>();
    res.text(200, a != nullptr ? std::to_string(a->n) + " " + a->text : "none");
  }));
  auto& c = pair.client();
  c.send("GET /set HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "7 seven");
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_EQ(destroyed.load(), 1);  // gone with its request
  c.send("GET /other HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(c.read_response().body, "none");
  EXPECT_EQ(destroyed.load(), 1);
}

}  // namespace
}  // namespace cogo::http
