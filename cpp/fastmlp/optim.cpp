#include "fastmlp/optim.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "fastmlp/buffer.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/parallel.h"

#ifdef FASTMLP_SSE2
#include <emmintrin.h>
#endif

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

StepTerms step_terms(const OptSpec& s, std::int64_t step) {
    StepTerms k{step == 1, 0.0, 0.0};
    if (s.kind == OptKind::adam || s.kind == OptKind::adamw) {  // the others take no pow
        k.step_size = s.lr / (1.0 - std::pow(s.beta1, double(step)));
        k.inv_bc2_sqrt = 1.0 / std::sqrt(1.0 - std::pow(s.beta2, double(step)));
    }
    return k;
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

// dst[i] = src[i] for i < n; with stream, by streaming stores where the target
// has them: a backup is read only if an update fails, so once the arrays pass
// the L3 it should neither cost a read for ownership nor evict the weights.
template <class T>
void copy_backup(const T* src, index_t n, T* dst, bool stream) {
#ifdef FASTMLP_SSE2
    if (!stream) {
        std::copy(src, src + n, dst);
        return;
    }
    index_t i = 0;
    for (; i < n && reinterpret_cast<std::uintptr_t>(dst + i) % 16 != 0; ++i) dst[i] = src[i];
    constexpr index_t step = 16 / sizeof(T);
    for (; i + step <= n; i += step)
        _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    for (; i < n; ++i) dst[i] = src[i];
#else
    (void)stream;
    std::copy(src, src + n, dst);
#endif
}

// Room for n values, the calling thread's own, kept for its later steps.
template <class T>
T* room(index_t n) {
    thread_local AlignedBuffer buffer;
    return static_cast<T*>(buffer.reserve(std::size_t(n) * sizeof(T)));
}

// Values of a one-row gradient (k = 1) formed at a time, in L1 until the update
// reads them; more rows are formed a group of rows at a time (outer_group_rows).
constexpr index_t kFormBytes = 16384;

// Values [at, at + n) of o's gradient, formed into buf (room for kFormBytes), or
// for k > 1 the group of rows holding `at` formed into rows (room for a group):
// returns where value `at` lies and sets n to how many of them follow it there.
template <class T>
const T* form_some(FormLoop<T> row_loop, const OuterGrad<T>& o, index_t at, index_t& n, T* buf,
                   T* rows) {
    if (o.k == 1) {
        n = std::min(n, kFormBytes / index_t(sizeof(T)));
        row_loop(o, at, n, buf);
        return buf;
    }
    const index_t group = outer_group_rows<T>();
    const index_t r0 = at / o.cols / group * group, r1 = std::min(o.rows, r0 + group);
    form_outer_rows(o.x, o.rows, o.cols, o.k, r0, r1, rows);
    n = std::min(n, r1 * o.cols - at);
    return rows + (at - r0 * o.cols);
}

// Where the gradients of g[0..n) come from: g itself for as many of them as lie
// before the next of `outer`'s places, else the first of those in that place,
// formed (form_some). Sets n to how many the answer holds.
template <class T>
const T* gradient_source(const T* g, index_t& n, const std::vector<OuterGrad<T>>& outer,
                         FormLoop<T> row_loop, T* buf, T* rows) {
    // Compared as integers: the places lie in one array, g anywhere.
    const auto at = [](const T* p) { return std::uintptr_t(p); };
    std::uintptr_t clear = at(g) + std::uintptr_t(n) * sizeof(T);
    for (const OuterGrad<T>& o : outer) {
        const std::uintptr_t end = at(o.grad) + std::uintptr_t(o.rows * o.cols) * sizeof(T);
        if (at(g) >= at(o.grad) && at(g) < end) {
            const index_t k = index_t((at(g) - at(o.grad)) / sizeof(T));
            n = std::min(n, o.rows * o.cols - k);
            return form_some(row_loop, o, k, n, buf, rows);
        }
        if (at(o.grad) > at(g)) clear = std::min(clear, at(o.grad));
    }
    n = index_t((clear - at(g)) / sizeof(T));
    return g;
}

template <class T>
std::pair<UpdateLoop<T>, FormLoop<T>> loops_for() {
    const OptimLoops& l = loops();
    if constexpr (std::is_same_v<T, float>)
        return {l.f32, l.form_f32};
    else
        return {l.f64, l.form_f64};
}

}  // namespace

template <class T>
bool optim_update(const OptSpec& s, std::int64_t step, T* p, const T* g, T* const* st,
                  index_t n, T* to) {
    check_opt(s);
    return loops_for<T>().first(s, step_terms(s, step), p, g, st, n, to) == 0;
}

template <class T>
void form_outer(const OuterGrad<T>& o, T* dst) {
    if (o.k == 1) return loops_for<T>().second(o, 0, o.rows * o.cols, dst);
    // Whole groups of rows to each thread.
    const index_t group = outer_group_rows<T>();
    const int nt = int(std::min<index_t>(
        threads_for_flops(2.0 * double(o.rows) * double(o.cols) * double(o.k)),
        (o.rows + group - 1) / group));
    parallel(nt, [&](int t) {
        const index_t r0 = split_point(o.rows, group, nt, t);
        form_outer_rows(o.x, o.rows, o.cols, o.k, r0, split_point(o.rows, group, nt, t + 1),
                        dst + r0 * o.cols);
    });
}

template <class T>
index_t Optimizer<T>::size() const {
    index_t n = 0;
    for (const auto& sp : spans) n += sp.n;
    return n;
}

template <class T>
double Optimizer<T>::bytes() const {
    return double(size()) * double(sizeof(T)) * double(2 + state.size());
}

// Arrays past a current L3 (16-32 MiB) stream from memory: a backup is then
// streamed too. Measured on Zen 4 (32 MiB L3), fit steps of 1024-wide layers
// (34 MiB) at batch 1, streamed / cached: 1.2-1.4x at 1 thread, 1.1-1.2x at 2;
// 512-wide (8.4 MiB) 0.93x.
template <class T>
bool Optimizer<T>::past_l3() const {
    constexpr double kStreamBackupBytes = 16.0 * 1024 * 1024;
    return bytes() >= kStreamBackupBytes;
}

template <class T>
bool Optimizer<T>::step(T* backup, const Moved* moved, const std::vector<OuterGrad<T>>* outer) {
    check_opt(spec);  // here, not in the threads: an exception may not leave a parallel region
    ++step_count;
    // Updates are elementwise, so any split leaves every bit as it is: the spans,
    // end to end, are cut into equal parts of whole cache lines, one per thread.
    // Split only when each array outgrows the caller's L2 (1 MiB on current x86
    // cores; 4 MiB for weights, gradients and two states): below that they sit
    // where forward and backward left them, and a second core first has to fetch
    // its half. Measured on a 2-core Zen 4, 2 threads / 1 thread, batch-1 Adam
    // steps: 34k weights (0.5 MiB of arrays) 2.5x slower split, 134k (2 MiB) 4.8x
    // slower. Fit steps of W-W-W-10 at 2 threads, split / not: W 320 (3.3 MiB)
    // batch 1 level; W 384 (4.8 MiB) batch 32 1.22x, W 512 (8.4 MiB) batch 1
    // 1.20x, batch 64 1.10x; 784-512-512-10 Adam update 1.6x.
    constexpr double kSplitBytes = 4.0 * 1024 * 1024;
    constexpr index_t kLine = 16;
    const index_t elements = size();
    const int nt = bytes() < kSplitBytes ? 1 : num_threads();
    const bool stream = past_l3();
    // (A backup copied block by block between the updates of formed gradients made
    // fit steps of 1024-wide layers at batches 8-64 1-6% slower.)
    const bool forming = outer && !outer->empty();
    index_t group_room = 0;  // values of the widest group of rows formed
    if (forming)
        for (const OuterGrad<T>& o : *outer)
            if (o.k > 1) group_room = std::max(group_room, outer_group_rows<T>() * o.cols);
    // (Not a structured binding: C++17 lambdas may not capture one.)
    const std::pair<UpdateLoop<T>, FormLoop<T>> loops = loops_for<T>();
    const UpdateLoop<T> update = loops.first;
    const FormLoop<T> row_loop = loops.second;
    const StepTerms terms = step_terms(spec, step_count);
    std::atomic<std::uint32_t> bad{0};
    parallel(nt, [&](int t) {
        const index_t begin = split_point(elements, kLine, nt, t);
        const index_t end = split_point(elements, kLine, nt, t + 1);
        std::uint32_t bad_here = 0;
        T* const rows = group_room ? room<T>(group_room) : nullptr;
        index_t next = 0;  // where the next span starts, end to end
        for (const ParamSpan<T>& sp : spans) {
            const index_t base = next;
            next += sp.n;
            const index_t lo = std::max(begin, base) - base, hi = std::min(end, next) - base;
            if (lo >= hi) continue;
            if (backup) copy_backup(sp.data + lo, hi - lo, backup + base + lo, stream);
            alignas(64) T formed[kFormBytes / sizeof(T)];
            for (index_t b = lo, len = 0; b < hi; b += len) {
                len = hi - b;
                const T* g = sp.grad + b;
                if (forming) g = gradient_source(g, len, *outer, row_loop, formed, rows);
                T* shifted[3] = {nullptr, nullptr, nullptr};
                for (size_t k = 0; k < state.size(); ++k)
                    shifted[k] = state[k] + sp.state_offset + b;
                const index_t at = moved ? index_t(sp.data - moved->home) + b : 0;
                bad_here |= update(spec, terms, moved ? moved->from + at : sp.data + b, g,
                                   shifted, len, moved ? moved->to + at : nullptr);
            }
        }
#ifdef FASTMLP_SSE2
        if (backup && stream) _mm_sfence();  // streamed stores visible before the region ends
#endif
        bad.fetch_or(bad_here, std::memory_order_relaxed);
    });
    return bad.load() == 0;
}

template <class T>
void Optimizer<T>::restore(const T* backup) {
    for (const auto& sp : spans) {
        std::copy(backup, backup + sp.n, sp.data);
        backup += sp.n;
    }
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
                                  float* const*, index_t, float*);
template bool optim_update<double>(const OptSpec&, std::int64_t, double*, const double*,
                                   double* const*, index_t, double*);
template void form_outer<float>(const OuterGrad<float>&, float*);
template void form_outer<double>(const OuterGrad<double>&, double*);
template struct Optimizer<float>;
template struct Optimizer<double>;
template double grad_norm<float>(const std::vector<ParamSpan<float>>&);
template double grad_norm<double>(const std::vector<ParamSpan<double>>&);

}  // namespace fastmlp
