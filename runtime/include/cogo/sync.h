// cogo/sync.h: the synchronisation primitives — Mutex, Cond, WaitGroup, Once.
// Each parks a goroutine (never its thread) and blocks a plain thread, so the
// same code runs on goroutines and in a thread-per-connection model.
#pragma once

#include "cogo/cond.h"
#include "cogo/mutex.h"
#include "cogo/once.h"
#include "cogo/wait_group.h"
