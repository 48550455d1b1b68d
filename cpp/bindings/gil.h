// Native work with the GIL released, safe when the interpreter exits meanwhile.
#pragma once
#include <pybind11/pybind11.h>

#include <exception>
#include <optional>
#include <type_traits>

#include "fastmlp/thread_exit.h"

namespace fastmlp {

// f() with the GIL released. A thread that takes the GIL while the interpreter
// finalizes (a daemon thread, or one whose join the main thread gave up) is ended by
// pthread_exit, which unwinds the stack. So the GIL is taken back by a plain call here,
// never by a destructor (unwinding out of one terminates the process), and not at all
// when such an unwinding already comes out of f.
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
    using R = decltype(f());
    PyThreadState* const ts = PyEval_SaveThread();
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
        try {
            f();
        } FASTMLP_PASS_THREAD_EXIT catch (...) {
            error = std::current_exception();
        }
        PyEval_RestoreThread(ts);
        if (error) std::rethrow_exception(error);
    } else {
        std::optional<R> r;
        try {
            r.emplace(f());
        } FASTMLP_PASS_THREAD_EXIT catch (...) {
            error = std::current_exception();
        }
        PyEval_RestoreThread(ts);
        if (error) std::rethrow_exception(error);
        return std::move(*r);
    }
}

}  // namespace fastmlp
