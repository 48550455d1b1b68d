// Tuned GEMM driver (BLIS layout): NC/KC/MC blocking over packed, zero-padded
// A and B panels around the run-time chosen micro-kernel, plus a direct path
// that skips packing A for small problems. The epilogue runs on each block of
// C right after its last K block, while the block is still in cache.
#include "fastmlp/gemm/gemm.h"

#include <algorithm>

#include "fastmlp/buffer.h"
#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/gemm/epilogue_block.h"
#include "fastmlp/gemm/pack.h"
#include "fastmlp/parallel.h"

#ifdef FASTMLP_SSE2
#include <emmintrin.h>
#endif

namespace fastmlp {

namespace {

// Problems whose B (K x N) has at most kDirectMaxB elements run without packing
// A: B stays in L2 while each row block of A streams through L1 once, and A is
// reused over too few column tiles for packing it to pay off. With few rows
// (M <= kDirectFewRows) packing B is poorly amortised, so the limit is higher.
// Measured on Zen 3 (bench_gemm): the paths tie around these sizes.
constexpr index_t kDirectMaxB = 16 * 1024;
constexpr index_t kDirectFewRows = 96;
constexpr index_t kDirectMaxBFewRows = 64 * 1024;
// Bytes of A the direct path may keep in L1 (32 KiB on current x86 cores).
constexpr index_t kL1Bytes = 16 * 1024;
// B's columns as dot products with A's rows, when both are contiguous and B
// has few columns (4 N <= nr: at most half a kernel vector's lanes) of at
// least kDotMinKPerCol values per column. There the other kernels' vectors
// would run along those few columns, mostly empty, after B was packed: a small
// batch's input gradient g W^T, which gemm turns into W g^T. With less K per
// column, the dots' horizontal sums cost more than the empty lanes. Measured
// on Zen 4, f32, M x N x K, dots / before: avx512 128x8x128 1.8x, 256x8x256
// 2.0x, 256x4x256 3.8x, 256x2x256 5.9x; avx2 256x4x256 1.9x, 256x2x256 3.2x;
// with less K, avx512 128x8x32 0.94-1.04x, 128x8x16 0.7x.
constexpr index_t kDotMinKPerCol = 8;
// Outer products (K = 1) writing at least this many bytes store C past the
// caches: a batch-1 weight gradient that large is read back from memory by the
// update anyway, and the read for ownership of each line only doubled the
// traffic. Measured on Zen 5: 1024 x 1024 x 1 alone 144 us through the kernels,
// 98 us streamed; fit steps of 2048-2048-2048-10 at batch 1 (16 MiB per
// gradient) 1.11x at 1 thread, 1.02x at 2. At 1024 wide (4 MiB) the steps were
// 1.06x at 1 thread but 0.83x at 2: there the cached gradients still served the
// update. (fit has since left those gradients to the update, Net::backward;
// train_step and the functional API still take them from here.)
constexpr double kOuterStreamBytes = 16.0 * 1024 * 1024;
// Largest register tile of any kernel table (12 x 32 for AVX-512 sgemm).
constexpr int kMaxTile = 12 * 32;

index_t round_up(index_t x, index_t u) { return (x + u - 1) / u * u; }

// Per-OS-thread packing buffers, reused by later calls, so a training loop
// allocates nothing per step. Two Python threads are two OS threads, hence
// never share one.
enum Slot { kSlotA = 0, kSlotB = 1 };

template <class T>
T* scratch(Slot slot, index_t count) {
    thread_local AlignedBuffer buffers[2];
    return static_cast<T*>(buffers[slot].reserve(std::size_t(count) * sizeof(T)));
}

template <class T>
struct Problem {
    const GemmUkernel<T>& uk;
    index_t M, N, K;
    CMat<T> A, B;
    Mat<T> C;
    bool accumulate;
    const Epilogue<T>* ep;        // block epilogue, run after the kernels; or nullptr
    const TileEpilogue<T>* tep;  // epilogue the kernels fuse, at C(0, 0); or nullptr
};

// The kernels' in-register epilogue for ep when they can do all of it (relu or
// identity, unit-stride rows), else false and ep runs as a block epilogue.
template <class T>
bool fusable(const Epilogue<T>& ep, Mat<T> C, index_t N, TileEpilogue<T>& t) {
    const bool unit = N == 1 || (C.cs == 1 && (!ep.act_out.p || ep.act_out.cs == 1) &&
                                 (!ep.dact_x.p || ep.dact_x.cs == 1));
    if (!unit || (ep.dact_x.p && ep.dact.kind != Act::relu) ||
        (ep.act_out.p && ep.act.kind != Act::relu && ep.act.kind != Act::identity))
        return false;
    t.bias = ep.bias;
    t.dact_x = ep.dact_x.p;
    t.rs_dact = ep.dact_x.rs;
    t.act_out = ep.act_out.p;
    t.rs_act = ep.act_out.rs;
    t.act_relu = ep.act.kind == Act::relu;
    return true;
}

// t moved to C(i, j).
template <class T>
TileEpilogue<T> shifted(TileEpilogue<T> t, index_t i, index_t j) {
    if (t.bias) t.bias += j;
    if (t.dact_x) t.dact_x += i * t.rs_dact + j;
    if (t.act_out) t.act_out += i * t.rs_act + j;
    if (t.colsum_b) t.colsum_b += j;
    if (t.rowsum_a) t.rowsum_a += i;
    return t;
}

// One m x n tile (n <= wide_nr; m <= mr, n <= nr unless C has unit columns),
// with the fused epilogue tep at C(i, j) (with non-unit columns its sums only).
// A C with non-unit column stride goes via a contiguous tile, combined with C
// exactly as the kernels combine it.
template <class T>
void tile(const GemmUkernel<T>& uk, index_t m, index_t n, index_t kc, const T* a, index_t rs_a,
          index_t cs_a, const T* b, index_t rs_b, Mat<T> C, index_t i, index_t j, bool acc,
          const TileEpilogue<T>* tep = nullptr) {
    const bool packed =
        !tep && rs_a == 1 && cs_a == uk.mr && rs_b == uk.nr && m == uk.mr && n == uk.nr;
    const TileEpilogue<T> t = tep ? shifted(*tep, i, j) : TileEpilogue<T>{};
    if (C.cs == 1) {
        T* c = &C(i, j);
        if (packed)
            uk.packed(kc, a, b, c, C.rs, acc);
        else
            uk.strided(m, n, kc, a, rs_a, cs_a, b, rs_b, c, C.rs, acc, tep ? &t : nullptr);
        return;
    }
    T buf[kMaxTile];
    const index_t nr = uk.nr;
    if (packed)
        uk.packed(kc, a, b, buf, nr, false);
    else
        uk.strided(m, n, kc, a, rs_a, cs_a, b, rs_b, buf, nr, false, tep ? &t : nullptr);
    for (index_t r = 0; r < m; ++r)
        for (index_t s = 0; s < n; ++s) {
            T& c = C(i + r, j + s);
            c = acc ? c + buf[r * nr + s] : buf[r * nr + s];
        }
}

// Columns of C the direct path's kernel calls take at a time.
template <class T>
index_t direct_width(const Problem<T>& P, const T* bp) {
    const bool narrow = P.M >= P.uk.narrow_min_m && P.K >= P.uk.narrow_min_k;
    return bp || P.C.cs != 1 || narrow ? P.uk.nr : P.uk.wide_nr;
}

// Rows [i0, i1), columns [j0, j1) (a multiple of direct_width apart, or to N)
// over all of K at once, A read in place. B is read in place when its rows are
// contiguous (bp == nullptr), else from K x nr panels at bp.
template <class T>
void direct_rows(const Problem<T>& P, const T* bp, index_t i0, index_t i1, index_t j0,
                 index_t j1) {
    const GemmUkernel<T>& uk = P.uk;
    const index_t nw = direct_width(P, bp);
    // One kernel call takes all the rows when it also takes all the columns;
    // else as many rows as stay in L1 across the column blocks (at least mr:
    // with small K, per-call costs would dominate a few k steps). A block
    // epilogue wants its rows still in cache, and a C with non-unit columns
    // goes through a tile buffer: mr rows.
    const index_t rows_l1 = kL1Bytes / (P.K * index_t(sizeof(T))) / uk.mr * uk.mr;
    const index_t rb = P.C.cs != 1 || (j1 - j0 > nw && P.ep) ? uk.mr
                       : j1 - j0 <= nw                        ? i1 - i0
                                                              : std::max<index_t>(uk.mr, rows_l1);
    for (index_t i = i0; i < i1; i += rb) {
        const index_t m = std::min<index_t>(rb, i1 - i);
        for (index_t j = j0; j < j1; j += nw) {
            const index_t n = std::min<index_t>(nw, j1 - j);
            const T* b = bp ? bp + j * P.K : &P.B(0, j);
            const index_t rs_b = bp ? uk.nr : P.B.rs;
            // Each column's sum once (with the first rows), each row's once (with
            // the first columns).
            TileEpilogue<T> t = P.tep ? *P.tep : TileEpilogue<T>{};
            if (i != 0) t.colsum_b = nullptr;
            if (j != 0) t.rowsum_a = nullptr;
            tile(uk, m, n, P.K, &P.A(i, 0), P.A.rs, P.A.cs, b, rs_b, P.C, i, j, P.accumulate,
                 P.tep ? &t : nullptr);
        }
        if (P.ep) epilogue_block(*P.ep, P.C, i, i + m, j0, j1);
    }
}

// The blocked, packed product for C rows [i0, i1) and cols [j0, j1).
template <class T>
void packed_block(const Problem<T>& P, index_t i0, index_t i1, index_t j0, index_t j1) {
    const GemmUkernel<T>& uk = P.uk;
    const index_t kc_max = std::min<index_t>(uk.kc, P.K);
    const index_t mc_max = std::min<index_t>(uk.mc, round_up(i1 - i0, uk.mr));
    const index_t nc_max = std::min<index_t>(uk.nc, round_up(j1 - j0, uk.nr));
    // With one block of rows no B panel is read again by another row block: each is
    // packed just before its tiles and stays in L1/L2, instead of the whole block
    // (4 MiB of a 1024x1024 weight) going out to L3 and back. Fit steps of
    // W-W-W-10 on Zen 5, at a time / whole: W 1024 at batches 8, 32, 64, 1.03x,
    // 1.02x, 1.02x at 1 thread, 1.01x, 1.01x, 1.05x at 2; W 512 at batch 32 1.05x
    // and 1.04x; W 256 level.
    const bool panel_at_a_time = i1 - i0 <= uk.mc;
    T* abuf = scratch<T>(kSlotA, mc_max * kc_max);
    T* bbuf = scratch<T>(kSlotB, (panel_at_a_time ? uk.nr : nc_max) * kc_max);
    for (index_t jc = j0; jc < j1; jc += uk.nc) {
        const index_t nc = std::min<index_t>(uk.nc, j1 - jc);
        for (index_t pc = 0; pc < P.K; pc += uk.kc) {
            const index_t kc = std::min<index_t>(uk.kc, P.K - pc);
            const bool acc = P.accumulate || pc > 0;
            const bool last = pc + kc == P.K;
            if (!panel_at_a_time)
                pack_b(uk.nr, kc, nc, CMat<T>{&P.B(pc, jc), P.B.rs, P.B.cs}, bbuf);
            for (index_t ic = i0; ic < i1; ic += uk.mc) {
                const index_t mc = std::min<index_t>(uk.mc, i1 - ic);
                pack_a(uk.mr, mc, kc, CMat<T>{&P.A(ic, pc), P.A.rs, P.A.cs}, abuf);
                for (index_t jr = 0; jr < nc; jr += uk.nr) {
                    const index_t n = std::min<index_t>(uk.nr, nc - jr);
                    const T* bp = bbuf + jr * kc;
                    if (panel_at_a_time) {
                        pack_b(uk.nr, kc, n, CMat<T>{&P.B(pc, jc + jr), P.B.rs, P.B.cs}, bbuf);
                        bp = bbuf;
                    }
                    for (index_t ir = 0; ir < mc; ir += uk.mr) {
                        const index_t m = std::min<index_t>(uk.mr, mc - ir);
                        tile(uk, m, n, kc, abuf + ir * kc, 1, uk.mr, bp, uk.nr, P.C, ic + ir,
                             jc + jr, acc);
                    }
                    if (last && P.ep) epilogue_block(*P.ep, P.C, ic, ic + mc, jc + jr, jc + jr + n);
                }
            }
        }
    }
}

template <class T>
void run_direct(const Problem<T>& P, int nt) {
    const GemmUkernel<T>& uk = P.uk;
    const T* bp = nullptr;
    if (P.B.cs != 1) {
        T* buf = scratch<T>(kSlotB, round_up(P.N, uk.nr) * P.K);
        pack_b(uk.nr, P.K, P.N, P.B, buf);
        bp = buf;
    }
    // Threads take row blocks, or column blocks when there are fewer row blocks
    // (a small batch through a wide layer).
    const index_t row_parts = (P.M + uk.mr - 1) / uk.mr, nw = direct_width(P, bp);
    const index_t col_parts = (P.N + nw - 1) / nw;
    if (row_parts >= nt || col_parts <= row_parts) {
        nt = int(std::min<index_t>(nt, row_parts));
        parallel(nt, [&](int t) {
            direct_rows(P, bp, split_point(P.M, uk.mr, nt, t), split_point(P.M, uk.mr, nt, t + 1),
                        0, P.N);
        });
    } else {
        nt = int(std::min<index_t>(nt, col_parts));
        parallel(nt, [&](int t) {
            direct_rows(P, bp, 0, P.M, split_point(P.N, nw, nt, t),
                        split_point(P.N, nw, nt, t + 1));
        });
    }
}

// One row of A through a big B with contiguous rows: uk.row sums it along B's
// rows into a buffer, which the strided kernel takes as a one-step product (its
// values times 1) to combine with C and apply the epilogue as the direct path
// does. The bits are the direct path's, but for the sign of a zero that every
// product underflowed to (+0 here).
template <class T>
void run_row(const Problem<T>& P, int nt) {
    const GemmUkernel<T>& uk = P.uk;
    const index_t nw = uk.wide_nr;
    nt = int(std::min<index_t>(nt, (P.N + nw - 1) / nw));
    parallel(nt, [&](int t) {
        const index_t j0 = split_point(P.N, nw, nt, t), j1 = split_point(P.N, nw, nt, t + 1);
        T* y = scratch<T>(kSlotB, j1 - j0);
        uk.row(j1 - j0, P.K, &P.A(0, 0), P.A.cs, &P.B(0, j0), P.B.rs, y);
        const T one = T(1);
        for (index_t j = j0; j < j1; j += nw)
            tile(uk, 1, std::min(nw, j1 - j), 1, &one, 1, 1, y + (j - j0), nw, P.C, 0, j,
                 P.accumulate, P.tep);
        if (P.ep) epilogue_block(*P.ep, P.C, 0, 1, j0, j1);
    });
}

// C = A B for K = 1, unit-stride rows of B and C: each row of C is B's one row
// times A(i, 0), stored by streaming stores where the target has them. The
// bits are the kernels', but for the sign of a zero product (the kernels add
// it to +0).
template <class T>
void stream_row(index_t n, T a, const T* b, T* c) {
    index_t j = 0;
#ifdef FASTMLP_SSE2
    constexpr index_t step = 16 / sizeof(T);
    for (; j < n && reinterpret_cast<std::uintptr_t>(c + j) % 16 != 0; ++j) c[j] = a * b[j];
    for (; j + step <= n; j += step) {
        if constexpr (sizeof(T) == 4)
            _mm_stream_ps(c + j, _mm_mul_ps(_mm_set1_ps(a), _mm_loadu_ps(b + j)));
        else
            _mm_stream_pd(c + j, _mm_mul_pd(_mm_set1_pd(a), _mm_loadu_pd(b + j)));
    }
#endif
    for (; j < n; ++j) c[j] = a * b[j];
}

template <class T>
void run_outer(const Problem<T>& P, int nt) {
    nt = int(std::min<index_t>(nt, P.M));
    parallel(nt, [&](int t) {
        const index_t i1 = split_point(P.M, 1, nt, t + 1);
        for (index_t i = split_point(P.M, 1, nt, t); i < i1; ++i)
            stream_row(P.N, P.A(i, 0), &P.B(0, 0), &P.C(i, 0));
#ifdef FASTMLP_SSE2
        _mm_sfence();  // the streamed stores visible before the region ends
#endif
    });
}

// A few columns with contiguous rows of A and contiguous columns of B: dot
// products over row chunks of A.
template <class T>
void run_dot(const Problem<T>& P, int nt) {
    constexpr index_t chunk = 64;  // rows per epilogue call, still in L1
    parallel(nt, [&](int t) {
        const index_t i1 = split_point(P.M, chunk, nt, t + 1);
        for (index_t i = split_point(P.M, chunk, nt, t); i < i1; i += chunk) {
            const index_t m = std::min(chunk, i1 - i);
            if (P.N == 1) {
                const TileEpilogue<T> t = P.tep ? shifted(*P.tep, i, 0) : TileEpilogue<T>{};
                P.uk.dot(m, P.K, &P.A(i, 0), P.A.rs, P.B.p, &P.C(i, 0), P.C.rs, P.accumulate,
                         P.tep ? &t : nullptr);
            } else {
                P.uk.dots(m, P.N, P.K, &P.A(i, 0), P.A.rs, P.B.p, P.B.cs, &P.C(i, 0), P.C.rs,
                          P.C.cs, P.accumulate);
            }
            if (P.ep) epilogue_block(*P.ep, P.C, i, i + m, 0, P.N);
        }
    });
}

// Threads take a tm x tn grid of C blocks; each packs its own panels. The grid
// minimises the packing repeated across threads (tn copies of A, tm of B).
template <class T>
void run_packed(const Problem<T>& P, int nt) {
    const GemmUkernel<T>& uk = P.uk;
    int tm = 1;
    double best = -1;
    for (int d = 1; d <= nt; ++d) {
        if (nt % d || (P.M + uk.mr - 1) / uk.mr < d || (P.N + uk.nr - 1) / uk.nr < nt / d) continue;
        const double cost = double(nt / d) * double(P.M) + double(d) * double(P.N);
        if (best < 0 || cost < best) best = cost, tm = d;
    }
    if (best < 0) nt = tm = 1;
    const int tn = nt / tm;
    parallel(nt, [&](int t) {
        const int ti = t / tn, tj = t % tn;
        packed_block(P, split_point(P.M, uk.mr, tm, ti), split_point(P.M, uk.mr, tm, ti + 1),
                     split_point(P.N, uk.nr, tn, tj), split_point(P.N, uk.nr, tn, tj + 1));
    });
}

}  // namespace

template <class T>
void gemm(index_t M, index_t N, index_t K, CMat<T> A, CMat<T> B, Mat<T> C, bool accumulate,
          const Epilogue<T>* ep) {
    require(M >= 0 && N >= 0 && K >= 0, "gemm: negative size");
    // Checked here, outside the threads: an exception may not leave a parallel region.
    if (ep && ep->act_out.p) check_act(ep->act);
    if (ep && ep->dact_x.p) check_act(ep->dact);
    if (N == 0) return;
    if (N == 1) C.cs = B.cs = 1;  // one column: its stride is never used; unit takes the fast paths
    const Epilogue<T>* block_ep = has_block_epilogue(ep) ? ep : nullptr;
    T* colsum = ep ? ep->colsum_b : nullptr;  // still to add: null once a kernel took it
    if (M > 0 && K == 0) {
        if (!accumulate)
            for (index_t i = 0; i < M; ++i)
                for (index_t j = 0; j < N; ++j) C(i, j) = T(0);
        if (block_ep) epilogue_block(*block_ep, C, 0, M, 0, N);
    } else if (M > 0) {
        const GemmUkernel<T>& uk = ukernel<T>();
        Problem<T> P{uk, M, N, K, A, B, C, accumulate, block_ep, nullptr};
        // The dot and direct paths fuse what they can of the epilogue into the kernels,
        // the direct ones B's column sums too.
        TileEpilogue<T> tep;
        auto fuse = [&] {
            if (block_ep && fusable(*block_ep, C, N, tep)) P.ep = nullptr, P.tep = &tep;
        };
        auto fuse_colsum = [&] {
            fuse();
            if (!colsum) return;
            tep.colsum_b = colsum;
            P.tep = &tep;
            colsum = nullptr;
        };
        const double bytes = double(sizeof(T)) * (double(M) * double(K) + double(K) * double(N) +
                                                  double(M) * double(N));
        const int nt = threads_for(2.0 * double(M) * double(N) * double(K), bytes);
        // With fewer columns than a tile, the tile paths take nearly a whole tile's
        // time (10 columns of 32 on AVX-512: 94 GFLOP/s at one thread on Zen 5, full
        // tiles 220), so they split as a product of nr columns would. A 10-class
        // output layer, 256 x 512 x 10, alone 1.8x at 2 threads; fit steps of W-W-W-10
        // at 2 threads 1.03-1.08x (512 and 1024 at batch 256, 128-512 at 1024).
        const int nt_tiles =
            N >= uk.nr ? nt : threads_for(2.0 * double(M) * double(uk.nr) * double(K), bytes);
        if (K == 1 && !accumulate && !block_ep && B.cs == 1 && C.cs == 1 &&
            double(sizeof(T)) * double(M) * double(N) >= kOuterStreamBytes) {
            run_outer(P, nt);
        } else if ((N == 1 || (4 * N <= uk.nr && K >= kDotMinKPerCol * N)) && A.cs == 1 &&
            B.rs == 1) {
            if (N == 1) fuse();  // the kernel's epilogue is a column's
            run_dot(P, nt);
        } else if (4 * N <= uk.nr && A.rs == 1 && M > N) {
            // Few columns and A stored by columns: C^T = B^T A^T keeps the kernel's
            // vectors along M instead of mostly empty along N, and with N <= mr
            // rows it is a single row block that reads A once.
            // B's column sums are the rows sums of B^T.
            TileEpilogue<T> sums;
            sums.rowsum_a = colsum;
            colsum = nullptr;
            const Problem<T> PT{uk, N, M, K, B.t(), A.t(), Mat<T>{C.p, C.cs, C.rs}, accumulate,
                                nullptr, sums.rowsum_a ? &sums : nullptr};
            run_direct(PT, nt);
            if (block_ep) epilogue_block(*block_ep, C, 0, M, 0, N);
        } else if (4 * M <= uk.nr && B.rs == 1 && N > M) {
            // Few rows and B stored by columns (a weight's transpose, as a small batch's
            // backward reads it): C^T = B^T A^T reads B in place where packing would copy
            // all of it (one row: a matrix-vector product along B's columns).
            gemm<T>(N, M, K, B.t(), A.t(), Mat<T>{C.p, C.cs, C.rs}, accumulate, nullptr);
            if (block_ep) epilogue_block(*block_ep, C, 0, M, 0, N);
        } else if (M == 1 && N > uk.wide_nr && B.cs == 1 && C.cs == 1 && !colsum) {
            // One sample through a layer wider than a direct block: the direct path would
            // walk B down its columns, once per block (1x1024x1024 3.6x, 1x128x128 1.3x
            // faster this way on Zen 3; 1x32x1024, one block, 1.4x slower).
            fuse();
            run_row(P, nt);
        } else if (K * N <= (M <= kDirectFewRows ? kDirectMaxBFewRows : kDirectMaxB) ||
                   (M <= uk.mr && B.cs == 1)) {
            // (One row block reads B in place exactly once: packing it never pays.)
            fuse_colsum();
            run_direct(P, nt_tiles);
        } else {
            run_packed(P, nt_tiles);
        }
    }
    if (colsum) colsum_block(colsum, B, K, 0, N);
}

template <class T>
index_t outer_panels_size(index_t rows, index_t cols, index_t k) {
    const GemmUkernel<T>& uk = ukernel<T>();
    return (round_up(rows, uk.mr) + round_up(cols, uk.nr)) * k;
}

template <class T>
void pack_outer(const T* x, const T* dy, index_t rows, index_t cols, index_t k, T* panels) {
    const GemmUkernel<T>& uk = ukernel<T>();
    pack_a(uk.mr, rows, k, CMat<T>{x, 1, rows}, panels);
    pack_b(uk.nr, k, cols, rowmajor(dy, cols), panels + round_up(rows, uk.mr) * k);
}

template <class T>
index_t outer_group_rows() {
    return ukernel<T>().mr;
}

// As packed_block's tiles with one K block: the same kernels, the same sums.
template <class T>
void form_outer_rows(const T* panels, index_t rows, index_t cols, index_t k, index_t r0,
                     index_t r1, T* c) {
    const GemmUkernel<T>& uk = ukernel<T>();
    const T* b = panels + round_up(rows, uk.mr) * k;
    const Mat<T> C{c, cols, 1};
    for (index_t i = r0; i < r1; i += uk.mr) {
        const index_t m = std::min<index_t>(uk.mr, r1 - i);
        for (index_t j = 0; j < cols; j += uk.nr)
            tile(uk, m, std::min<index_t>(uk.nr, cols - j), k, panels + i * k, 1, uk.mr,
                 b + j * k, uk.nr, C, i - r0, j, false);
    }
}

template void gemm<float>(index_t, index_t, index_t, CMat<float>, CMat<float>, Mat<float>, bool,
                          const Epilogue<float>*);
template void gemm<double>(index_t, index_t, index_t, CMat<double>, CMat<double>, Mat<double>,
                           bool, const Epilogue<double>*);
template index_t outer_panels_size<float>(index_t, index_t, index_t);
template index_t outer_panels_size<double>(index_t, index_t, index_t);
template void pack_outer<float>(const float*, const float*, index_t, index_t, index_t, float*);
template void pack_outer<double>(const double*, const double*, index_t, index_t, index_t,
                                 double*);
template index_t outer_group_rows<float>();
template index_t outer_group_rows<double>();
template void form_outer_rows<float>(const float*, index_t, index_t, index_t, index_t, index_t,
                                     float*);
template void form_outer_rows<double>(const double*, index_t, index_t, index_t, index_t, index_t,
                                      double*);

}  // namespace fastmlp
