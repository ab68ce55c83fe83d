// cogo/cogo.h: the runtime in one include — goroutines and the scheduler
// (runtime.h), channels and select (chan.h), Mutex, Cond, WaitGroup, Once
// (sync.h), stop-signal hooks (signal.h) and introspection (introspect.h).
// See examples/runtime.cpp.
#pragma once

#include "cogo/chan.h"
#include "cogo/introspect.h"
#include "cogo/runtime.h"
#include "cogo/signal.h"
#include "cogo/sync.h"
