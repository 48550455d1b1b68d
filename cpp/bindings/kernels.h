// Bindings of the single kernels behind fastmlp.functional and the GEMM tests.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "fastmlp/activation.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/loss.h"
#include "fastmlp/optim.h"

namespace fastmlp {

namespace py = pybind11;

// A 2-D NumPy array of T as a strided view (strides in elements, any order).
template <class T>
CMat<T> view_of(const py::array_t<T, 0>& a, const char* name) {
    require(a.ndim() == 2, std::string(name) + " must be 2-D");
    require(a.strides(0) % py::ssize_t(sizeof(T)) == 0 && a.strides(1) % py::ssize_t(sizeof(T)) == 0,
            std::string(name) + " has strides that are not a multiple of its item size");
    return {a.data(), index_t(a.strides(0) / py::ssize_t(sizeof(T))),
            index_t(a.strides(1) / py::ssize_t(sizeof(T)))};
}

template <class T>
py::array_t<T> new_2d(index_t r, index_t c) {
    return py::array_t<T>({py::ssize_t(r), py::ssize_t(c)});
}

template <class T>
void bind_kernels(py::module_& m, const std::string& sfx) {
    using arr = py::array_t<T, 0>;  // no forcecast: callers pass the exact dtype
    using carr = py::array_t<T, py::array::c_style>;

    m.def(("linear_forward" + sfx).c_str(), [](arr x, arr w, py::object b) {
        const auto X = view_of(x, "x"), W = view_of(w, "w");
        const index_t n = x.shape(0), k = x.shape(1), o = w.shape(1);
        auto y = new_2d<T>(n, o);
        Epilogue<T> ep;
        carr bias;
        if (!b.is_none()) {
            bias = b.cast<carr>();
            ep.bias = bias.data();
        }
        gemm<T>(n, o, k, X, W, rowmajor(y.mutable_data(), o), false, &ep);
        return y;
    });
    m.def(("linear_backward" + sfx).c_str(), [](arr x, arr w, arr gy) {
        const auto X = view_of(x, "x"), W = view_of(w, "w"), G = view_of(gy, "grad");
        const index_t n = x.shape(0), k = x.shape(1), o = w.shape(1);
        auto gx = new_2d<T>(n, k), gw = new_2d<T>(k, o);
        py::array_t<T> gb(o);
        std::fill(gb.mutable_data(), gb.mutable_data() + o, T(0));
        Epilogue<T> ep;
        ep.colsum_b = gb.mutable_data();
        gemm<T>(k, o, n, X.t(), G, rowmajor(gw.mutable_data(), o), false, &ep);
        gemm<T>(n, k, o, G, W.t(), rowmajor(gx.mutable_data(), k), false);
        return py::make_tuple(gx, gw, gb);
    });
    m.def(("act_forward" + sfx).c_str(), [](carr x, int kind, double a, double b) {
        py::array_t<T> y(x.request().shape);
        act_forward<T>(y.mutable_data(), x.data(), x.size(), ActSpec{Act(kind), a, b});
        return y;
    });
    m.def(("act_backward" + sfx).c_str(), [](carr x, carr gy, int kind, double a, double b) {
        require(x.size() == gy.size(), "input and gradient sizes differ");
        const ActSpec s{Act(kind), a, b};
        py::array_t<T> y(x.request().shape), gx(x.request().shape);
        act_forward<T>(y.mutable_data(), x.data(), x.size(), s);
        act_backward<T>(gx.mutable_data(), gy.data(), x.data(), y.data(), x.size(), s);
        return gx;
    });
    m.def(("loss" + sfx).c_str(),
          [](carr pred, py::object y, py::object labels, const LossSpec& spec, bool want_grad) {
              const index_t n = pred.shape(0), d = pred.ndim() == 2 ? pred.shape(1) : 1;
              Targets<T> t;
              carr ya;
              py::array_t<std::int64_t, py::array::c_style> la;
              if (!y.is_none()) {
                  ya = y.cast<carr>();
                  t.y = ya.data();
              }
              if (!labels.is_none()) {
                  la = labels.cast<py::array_t<std::int64_t, py::array::c_style>>();
                  t.labels = la.data();
              }
              py::object g = py::none();
              T* gp = nullptr;
              if (want_grad) {
                  py::array_t<T> ga(pred.request().shape);
                  gp = ga.mutable_data();
                  g = ga;
              }
              const double v = loss_forward<T>(spec, pred.data(), t, n, d, gp);
              return py::make_tuple(v, g);
          });
    m.def(("log_softmax" + sfx).c_str(), [](carr z) {
        require(z.ndim() == 2, "log_softmax expects a 2-D array");
        py::array_t<T> out(z.request().shape);
        log_softmax_forward<T>(out.mutable_data(), z.data(), z.shape(0), z.shape(1));
        return out;
    });
    m.def(("optim_update" + sfx).c_str(),
          [](const OptSpec& spec, std::int64_t step, carr p, carr g, std::vector<carr> states) {
              require(g.size() == p.size(), "grad size differs from param size");
              require(int(states.size()) == optim_state_count(spec), "wrong number of states");
              std::vector<T*> st;
              for (auto& s : states) {
                  require(s.size() == p.size(), "state size differs from param size");
                  st.push_back(s.mutable_data());
              }
              optim_update<T>(spec, step, p.mutable_data(), g.data(), st.data(), p.size());
          },
          py::arg("spec"), py::arg("step"), py::arg("p").noconvert(), py::arg("g"),
          py::arg("states").noconvert());
    m.def(("gemm" + sfx).c_str(), [](arr a, arr b, arr c, bool accumulate, bool reference) {
        require(c.writeable(), "c is read-only");
        const index_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
        require(b.shape(0) == K && c.shape(0) == M && c.shape(1) == N, "gemm: shape mismatch");
        const auto C = view_of(c, "c");
        const Mat<T> Cw{c.mutable_data(), C.rs, C.cs};
        (reference ? gemm_ref<T> : gemm<T>)(M, N, K, view_of(a, "a"), view_of(b, "b"), Cw,
                                            accumulate, nullptr);
    });
}

}  // namespace fastmlp
