// A thread ended by pthread_exit (glibc) unwinds its stack with an exception that a
// catch (...) must not swallow: the process would abort. Python ends a thread that way
// when it takes the GIL while the interpreter exits, so a catch (...) that may see a
// hook or the GIL's return is preceded by FASTMLP_PASS_THREAD_EXIT.
#pragma once

#if defined(__GLIBCXX__)
#include <cxxabi.h>
#define FASTMLP_PASS_THREAD_EXIT \
    catch (abi::__forced_unwind&) { throw; }
#else
#define FASTMLP_PASS_THREAD_EXIT
#endif
