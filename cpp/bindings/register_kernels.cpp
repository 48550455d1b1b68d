// The single core kernels behind fastmlp.functional, and the GEMM for tests and
// benches: array checks and allocation here, the math in the core.
#include <pybind11/stl.h>

#include "fastmlp/activation.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/linear.h"
#include "fastmlp/loss.h"
#include "support.h"

namespace fastmlp {

namespace {

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
void require_matrix(const carray<T>& a, index_t rows, index_t cols, const char* name) {
    require(a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols,
            std::string(name) + " must have shape (" + std::to_string(rows) + ", " +
                std::to_string(cols) + ")");
}

template <class T>
void bind_kernels(py::module_& m, const std::string& sfx) {
    using namespace pybind11::literals;
    using arr = py::array_t<T, 0>;  // no forcecast: callers pass the exact dtype
    using carr = carray<T>;

    m.def(("linear_forward" + sfx).c_str(),
          [](carr x, carr w, std::optional<carr> b) {
              require(x.ndim() == 2 && w.ndim() == 2, "x and w must be 2-D");
              const index_t n = x.shape(0), k = x.shape(1), o = w.shape(1);
              require_matrix(w, k, o, "w");
              if (b) require(b->ndim() == 1 && b->shape(0) == o, "b must have shape (out,)");
              auto y = new_matrix<T>(n, o);
              linear_forward<T>(y.mutable_data(), nullptr, x.data(), w.data(),
                                b ? b->data() : nullptr, n, k, o, nullptr);
              return y;
          },
          "x"_a, "w"_a, "b"_a);
    m.def(("linear_backward" + sfx).c_str(),
          [](carr x, carr w, carr g) {
              require(x.ndim() == 2 && w.ndim() == 2, "x and w must be 2-D");
              const index_t n = x.shape(0), k = x.shape(1), o = w.shape(1);
              require_matrix(w, k, o, "w");
              require_matrix(g, n, o, "grad");
              auto gx = new_matrix<T>(n, k), gw = new_matrix<T>(k, o);
              carray<T> gb(o);
              linear_backward<T>(gx.mutable_data(), gw.mutable_data(), gb.mutable_data(), g.data(),
                                 x.data(), w.data(), n, k, o, false, nullptr);
              return py::make_tuple(gx, gw, gb);
          },
          "x"_a, "w"_a, "grad"_a);
    m.def(("act_forward" + sfx).c_str(),
          [](carr x, const ActSpec& s) {
              carray<T> y(x.request().shape);
              act_forward<T>(y.mutable_data(), x.data(), x.size(), s);
              return y;
          },
          "x"_a, "act"_a);
    m.def(("act_backward" + sfx).c_str(),
          [](carr x, carr gy, const ActSpec& s) {
              require(x.size() == gy.size(), "input and gradient sizes differ");
              carray<T> gx(x.request().shape);
              act_backward<T>(gx.mutable_data(), gy.data(), x.data(), nullptr, x.size(), s);
              return gx;
          },
          "x"_a, "grad"_a, "act"_a);
    m.def(("loss" + sfx).c_str(),
          [](carr pred, std::optional<carr> y, std::optional<carray<std::int64_t>> labels,
             const LossSpec& spec, bool want_grad) {
              require(pred.ndim() == 2, "pred must be 2-D");
              const index_t n = pred.shape(0), d = pred.shape(1);
              Targets<T> t;
              if (y) {
                  require(y->size() == pred.size(), "target and pred sizes differ");
                  t.y = y->data();
              }
              if (labels) {
                  require(labels->ndim() == 1 && labels->shape(0) == n, "labels must have shape (n,)");
                  t.labels = labels->data();
              }
              require((t.y != nullptr) != (t.labels != nullptr), "pass exactly one of y and labels");
              std::optional<carr> g;
              T* gp = nullptr;
              if (want_grad) {
                  g.emplace(pred.request().shape);
                  gp = g->mutable_data();
              }
              const double v = loss_forward<T>(spec, pred.data(), t, n, d, gp);
              return py::make_tuple(v, g);
          },
          "pred"_a, "y"_a, "labels"_a, "loss"_a, "want_grad"_a,
          "(loss value, dloss/dpred or None); pass exactly one of y and labels.");
    m.def(("log_softmax" + sfx).c_str(),
          [](carr z) {
              require(z.ndim() == 2, "log_softmax expects a 2-D array");
              carray<T> out(z.request().shape);
              log_softmax_forward<T>(out.mutable_data(), z.data(), z.shape(0), z.shape(1));
              return out;
          },
          "z"_a);
    m.def(("optim_update" + sfx).c_str(),
          [](const OptSpec& spec, std::int64_t step, carr p, carr g, std::vector<carr> states) {
              require(g.size() == p.size(), "grad size differs from param size");
              require(int(states.size()) == optim_state_count(spec), "wrong number of states");
              std::vector<T*> st;
              for (auto& s : states) {
                  require(s.size() == p.size(), "state size differs from param size");
                  st.push_back(mutable_data(s, "state"));
              }
              optim_update<T>(spec, step, mutable_data(p, "p"), g.data(), st.data(), p.size());
          },
          "spec"_a, "step"_a, py::arg("p").noconvert(), "g"_a, py::arg("states").noconvert());
    m.def(("gemm" + sfx).c_str(),
          [](arr a, arr b, arr c, bool accumulate) {
              require(c.writeable(), "c is read-only");
              const index_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
              require(b.shape(0) == K && c.shape(0) == M && c.shape(1) == N, "gemm: shape mismatch");
              const auto C = view_of(c, "c");
              gemm<T>(M, N, K, view_of(a, "a"), view_of(b, "b"), Mat<T>{c.mutable_data(), C.rs, C.cs},
                      accumulate, nullptr);
          },
          "a"_a, "b"_a, "c"_a, "accumulate"_a);
}

}  // namespace

void register_kernels(py::module_& m) {
    bind_kernels<float>(m, "_f32");
    bind_kernels<double>(m, "_f64");
}

}  // namespace fastmlp
