#include "fastmlp/optim.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "fastmlp/gemm/gemm.h"
#include "fastmlp/parallel.h"

namespace fastmlp {

void check_opt(const OptSpec& s) {
    switch (s.kind) {
        case OptKind::sgd:
        case OptKind::adam:
        case OptKind::adamw:
        case OptKind::rmsprop: return;
    }
    throw std::invalid_argument("unknown optimizer kind " + std::to_string(int(s.kind)));
}

int optim_state_count(const OptSpec& s) {
    check_opt(s);
    switch (s.kind) {
        case OptKind::sgd: return s.momentum != 0.0 ? 1 : 0;
        case OptKind::adam:
        case OptKind::adamw: return s.amsgrad ? 3 : 2;
        case OptKind::rmsprop: return 3;
    }
    return 0;
}

namespace {

// The loops for the GEMM kernels' ISA (FASTMLP_ISA and the CPU choose both).
const OptimLoops& loops() {
    const char* isa = gemm_isa();
    const OptimLoops* l = nullptr;
    if (std::strcmp(isa, "avx512") == 0) l = optim_loops_avx512();
    if (std::strcmp(isa, "avx2") == 0) l = optim_loops_avx2();
    return l ? *l : *optim_loops_portable();
}

}  // namespace

template <class T>
bool optim_update(const OptSpec& s, std::int64_t step, T* p, const T* g, T* const* st,
                  index_t n) {
    check_opt(s);
    const OptimLoops& l = loops();
    if constexpr (std::is_same_v<T, float>)
        return l.f32(s, step, p, g, st, n) == 0;
    else
        return l.f64(s, step, p, g, st, n) == 0;
}

template <class T>
bool Optimizer<T>::step() {
    check_opt(spec);  // here, not in the threads: an exception may not leave a parallel region
    ++step_count;
    // Updates are elementwise, so fixed chunks can go to any thread without
    // changing a bit; big models spread them over the threads, a thread per
    // kChunk elements at most (a model of 1.05 chunks is one thread's work: a
    // region for its small last chunk would cost more than that chunk).
    constexpr index_t kChunk = 1 << 15;
    std::int64_t chunks = 0, elements = 0;
    for (const auto& sp : spans) {
        chunks += (sp.n + kChunk - 1) / kChunk;
        elements += sp.n;
    }
    const int nt =
        int(std::min<std::int64_t>(num_threads(), std::max<std::int64_t>(1, elements / kChunk)));
    std::atomic<std::uint32_t> bad{0};
    parallel(nt, [&](int t) {
        std::uint32_t bad_here = 0;
        for (std::int64_t c = chunks * t / nt, end = chunks * (t + 1) / nt; c < end; ++c) {
            // Chunk c: walk the spans (few) to its span and offset.
            std::int64_t left = c;
            const ParamSpan<T>* sp = spans.data();
            while (left >= (sp->n + kChunk - 1) / kChunk) left -= (sp++->n + kChunk - 1) / kChunk;
            const index_t begin = left * kChunk, end_i = std::min(sp->n, begin + kChunk);
            T* shifted[3] = {nullptr, nullptr, nullptr};
            for (size_t k = 0; k < state.size(); ++k)
                shifted[k] = state[k] + sp->state_offset + begin;
            bad_here |= !optim_update(spec, step_count, sp->data + begin, sp->grad + begin,
                                      shifted, end_i - begin);
        }
        bad.fetch_or(bad_here, std::memory_order_relaxed);
    });
    return bad.load() == 0;
}

template <class T>
void Optimizer<T>::zero_grad() {
    for (const auto& sp : spans) std::fill(sp.grad, sp.grad + sp.n, T(0));
}

template <class T>
double grad_norm(const std::vector<ParamSpan<T>>& spans) {
    double s = 0.0;
    for (const auto& sp : spans)
        for (index_t i = 0; i < sp.n; ++i) s += double(sp.grad[i]) * double(sp.grad[i]);
    return std::sqrt(s);
}

template bool optim_update<float>(const OptSpec&, std::int64_t, float*, const float*,
                                  float* const*, index_t);
template bool optim_update<double>(const OptSpec&, std::int64_t, double*, const double*,
                                   double* const*, index_t);
template struct Optimizer<float>;
template struct Optimizer<double>;
template double grad_norm<float>(const std::vector<ParamSpan<float>>&);
template double grad_norm<double>(const std::vector<ParamSpan<double>>&);

}  // namespace fastmlp
