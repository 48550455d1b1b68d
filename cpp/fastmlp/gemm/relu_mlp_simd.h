// The fused two-layer training pass (ReluMlpPass in ukernel.h) over the vector
// traits S, included at the end of ukernel_simd.h.
#pragma once
#include <type_traits>

namespace fastmlp {
namespace {

// Rows in chunks of kChunk, each in four sweeps whose values stay in L1: the
// hidden rows; the outputs, loss and output gradients; the hidden gradients with
// gw2 and gb1; gw1. Each sweep's rows are independent or its sums are register
// chains over the rows, so the core overlaps many rows; a row at a time through
// all of it would wait on its own chain (product, horizontal sum, loss, gradient)
// and keep the weight gradients' sums in memory. NV vectors of hidden units, the
// last one masked when the width does not fill it (tested at run time: one
// instantiation instead of two halves this file's compile time under the
// sanitizers). Each value is summed in the order of the layer-by-layer kernel it
// replaces.
template <class S, int ACC, int NV>
void relu_mlp_all(ReluMlpPass<typename S::T>& p) {
    using T = typename S::T;
    using V = typename S::V;
    constexpr int L = S::L;
    constexpr int W = NV * L;                // a row in the chunk buffers
    // Rows per hidden block and inputs per gw1 block: as many as ACC registers hold.
    constexpr int R = ACC / NV < 4 ? ACC / NV : 4, KB = R;
    constexpr i64 kChunk = 32;
    // The mask exists only for a partial last vector (the traits take lane counts
    // in [1, L)): a run-time test, one instantiation for both.
    const bool masked = p.h % L != 0;
    const RowVectors<S, NV, true> rv{S::mask(masked ? p.h % L : 1)};
    auto ld = [&](const T* q, int v) { return masked ? rv.ld(q, v) : S::load(q); };
    auto st = [&](T* q, int v, V x) {
        if (masked)
            rv.st(q, v, x);
        else
            S::store(q, x);
    };
    // Locals, not p's fields: a store through a pointer could change those.
    const i64 n = p.n, d = p.d, h = p.h;
    const T *x0 = p.x, *y = p.y, *w1 = p.w1, *b1 = p.b1, *w2 = p.w2, *b2 = p.b2;
    T *gw1 = p.gw1, *gb1 = p.gb1, *gw2 = p.gw2;
    const T scale = p.scale;
    for (i64 i = 0; i < d * h; ++i) gw1[i] = T(0);
    V w2v[NV], gw2v[NV], gb1v[NV];
    FASTMLP_UNROLL(4)
    for (int v = 0; v < NV; ++v) w2v[v] = ld(w2 + v * L, v), gw2v[v] = gb1v[v] = S::zero();
    T* out = p.out;
    T gb2 = T(0);  // a row sum, as the output bias's gradient
    alignas(64) T hb[kChunk * W];  // hidden rows, then their gradients
    alignas(64) T gs[kChunk];

    // Hidden rows [i, i + RR) of the chunk at x (rows_blocks): an fma chain over the
    // inputs from zero, the bias, relu.
    auto hidden = [&](auto rows, const T* x, T* hr) {
        constexpr int RR = decltype(rows)::value;
        V a[RR][NV];
        FASTMLP_UNROLL(4)
        for (int r = 0; r < RR; ++r)
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) a[r][v] = S::zero();
        for (i64 k = 0; k < d; ++k) {
            V w[NV];
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) w[v] = ld(w1 + k * h + v * L, v);
            FASTMLP_UNROLL(4)
            for (int r = 0; r < RR; ++r) {
                const V xr = S::bcast(x + r * d + k);
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) a[r][v] = S::fma(xr, w[v], a[r][v]);
            }
        }
        FASTMLP_UNROLL(4)
        for (int r = 0; r < RR; ++r)
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v)
                S::store(hr + r * W + v * L,
                         S::relu(b1 ? S::add(a[r][v], ld(b1 + v * L, v)) : a[r][v]));
    };

    // Outputs of GG rows (dot_rows: vectors alternate between two sums, a masked tail
    // in the second, one horizontal sum per row, then the bias) and their MSE
    // gradients (loss_forward's).
    auto output = [&](auto rows, i64 row, const T* hr, T* gr) {
        constexpr int GG = decltype(rows)::value;
        V t[GG];
        FASTMLP_UNROLL(4)
        for (int r = 0; r < GG; ++r) {
            V s2[2] = {S::zero(), S::zero()};
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV - 1; ++v)
                s2[v % 2] = S::fma(S::load(hr + r * W + v * L), w2v[v], s2[v % 2]);
            const int tail = masked ? 1 : (NV - 1) % 2;  // the second sum takes a masked tail
            s2[tail] = S::fma(S::load(hr + r * W + (NV - 1) * L), w2v[NV - 1], s2[tail]);
            t[r] = S::add(s2[0], s2[1]);
        }
        T o[GG];
        hsum_rows<S, GG>(t, o);
        FASTMLP_UNROLL(4)
        for (int r = 0; r < GG; ++r) {
            out[row + r] = b2 ? o[r] + b2[0] : o[r];
            gr[r] = T(2) * (out[row + r] - y[row + r]) * scale;
            gb2 += gr[r];
        }
    };

    // gw1 rows [k0, k0 + KK) += the chunk's m rows of x^T dh (dh at hr).
    auto input_grads = [&](auto inputs, i64 k0, const T* xc, i64 m, const T* hr) {
        constexpr int KK = decltype(inputs)::value;
        V acc[KK][NV];
        FASTMLP_UNROLL(4)
        for (int k = 0; k < KK; ++k)
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) acc[k][v] = ld(gw1 + (k0 + k) * h + v * L, v);
        for (i64 i = 0; i < m; ++i) {
            const T* dh = hr + i * W;
            FASTMLP_UNROLL(4)
            for (int k = 0; k < KK; ++k) {
                const V xk = S::bcast(xc + i * d + k0 + k);
                FASTMLP_UNROLL(4)
                for (int v = 0; v < NV; ++v) acc[k][v] = S::fma(xk, S::load(dh + v * L), acc[k][v]);
            }
        }
        FASTMLP_UNROLL(4)
        for (int k = 0; k < KK; ++k)
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) st(gw1 + (k0 + k) * h + v * L, v, acc[k][v]);
    };

    const std::integral_constant<int, R> block;
    const std::integral_constant<int, 4> four;
    const std::integral_constant<int, 1> single;
    for (i64 c = 0; c < n; c += kChunk) {
        const i64 m = n - c < kChunk ? n - c : kChunk;
        const T* xc = x0 + c * d;
        i64 i = 0;
        for (; i + R <= m; i += R) hidden(block, xc + i * d, hb + i * W);
        for (; i < m; ++i) hidden(single, xc + i * d, hb + i * W);
        for (i = 0; i + 4 <= m; i += 4) output(four, c + i, hb + i * W, gs + i);
        for (; i < m; ++i) output(single, c + i, hb + i * W, gs + i);
        // gw2 += g h, gb1 += dh with dh = (g w2) relu'(h) (a one-step product, then the
        // epilogue's derivative) in place of h.
        for (i = 0; i < m; ++i) {
            const V g = S::bcast(gs + i);
            T* hr = hb + i * W;
            FASTMLP_UNROLL(4)
            for (int v = 0; v < NV; ++v) {
                const V a = S::load(hr + v * L);
                gw2v[v] = S::fma(g, a, gw2v[v]);
                const V dh = S::mul(S::fma(g, w2v[v], S::zero()), S::step(a));
                gb1v[v] = S::add(gb1v[v], dh);
                S::store(hr + v * L, dh);
            }
        }
        // gw1 += x^T dh, KB inputs at a time held in registers over the chunk's rows.
        i64 k = 0;
        for (; k + KB <= d; k += KB) input_grads(std::integral_constant<int, KB>(), k, xc, m, hb);
        switch (d - k) {  // (KB <= 4)
            case 3: input_grads(std::integral_constant<int, 3>(), k, xc, m, hb); break;
            case 2: input_grads(std::integral_constant<int, 2>(), k, xc, m, hb); break;
            case 1: input_grads(std::integral_constant<int, 1>(), k, xc, m, hb); break;
            default: break;
        }
    }
    FASTMLP_UNROLL(4)
    for (int v = 0; v < NV; ++v) {
        st(gw2 + v * L, v, gw2v[v]);
        if (gb1) st(gb1 + v * L, v, gb1v[v]);
    }
    if (p.gb2) *p.gb2 = gb2;
}

// The table's relu_mlp: hidden widths up to 4 vectors.
template <class S, int ACC>
void relu_mlp(ReluMlpPass<typename S::T>& p) {
    constexpr int L = S::L;
#define FASTMLP_NV(NV) return relu_mlp_all<S, ACC, NV>(p)
    switch ((p.h + L - 1) / L) {
        case 1: FASTMLP_NV(1);
        case 2: FASTMLP_NV(2);
        case 3: FASTMLP_NV(3);
        default: FASTMLP_NV(4);
    }
#undef FASTMLP_NV
}

}  // namespace
}  // namespace fastmlp
