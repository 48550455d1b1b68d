// Net_f32 / Net_f64: the core Net over a model's flat NumPy buffers, and the
// native fit loop with its Python hook.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include "fastmlp/fit.h"
#include "fastmlp/lbfgs.h"
#include "fastmlp/net.h"
#include "support.h"

namespace fastmlp {
namespace {

// An argument of any type that the function converts itself: named
// numpy.typing.ArrayLike in signatures (and so in the generated _core.pyi).
class array_like : public py::object {
    static int accepts_any(PyObject*) { return 1; }
    PYBIND11_OBJECT_DEFAULT(array_like, object, accepts_any)
};

}  // namespace
}  // namespace fastmlp

namespace pybind11 {
namespace detail {
template <>
struct handle_type_name<fastmlp::array_like> {
    static constexpr auto name = const_name("numpy.typing.ArrayLike");
};
}  // namespace detail
}  // namespace pybind11

namespace fastmlp {

namespace {

constexpr index_t kStackScratch = 2048;
// Work (in multiply-adds) above which a call releases the GIL.
constexpr index_t kReleaseGilWork = 1 << 14;

// f(), with the GIL released when the work pays for giving it up and taking it back.
template <class F>
auto releasing_gil_for(index_t work, F&& f) {
    if (work >= kReleaseGilWork) {
        py::gil_scoped_release nogil;
        return f();
    }
    return f();
}

// A core Net plus the NumPy buffers it points into, kept alive together, and
// the callable that turns any predict() input into a C-ordered matrix of T.
template <class T>
struct PyNet {
    carray<T> params, grads;
    py::object prepare;
    Net<T> net;
    std::vector<T> xcopy;  // forward() input kept for backward()
    PyNet(const std::vector<LayerSpec>& layers, index_t in, carray<T> p, carray<T> g,
          py::object prep)
        : params(p), grads(g), prepare(std::move(prep)),
          net(layers, in, mutable_data(params, "params"), mutable_data(grads, "grads")) {}
};

// Optional arrays as the call received them: the Python layer passes exact-dtype
// contiguous arrays, so pybind11 copies none of them.
template <class T>
using opt_array = std::optional<carray<T>>;
using opt_labels = std::optional<carray<std::int64_t>>;

// Called when a fit reports: (epoch, loss, its weight penalty, validation loss) -> keep
// training.
using ReportFn = py::typing::Callable<bool(index_t, double, double, double)>;
// Called after each L-BFGS iteration: (iteration, objective) -> keep going.
using IterFn = py::typing::Callable<bool(index_t, double)>;

template <class T>
Targets<T> targets_of(const opt_array<T>& y, const opt_labels& labels,
                      const opt_array<T>& w = std::nullopt) {
    Targets<T> t;
    if (y) t.y = y->data();
    if (labels) t.labels = labels->data();
    if (w) t.w = w->data();
    return t;
}

// x as the matrix predict() reads: as given when it already is one (the
// fast path apps take in loops), else what `prepare` makes of it.
template <class T>
carray<T> predict_input(const PyNet<T>& s, const array_like& obj) {
    if (py::isinstance<carray<T>>(obj)) {
        auto x = py::reinterpret_borrow<carray<T>>(obj);
        if (x.ndim() == 2 && x.shape(1) == s.net.in_features() && (x.flags() & py::array::c_style))
            return x;
    }
    py::object prepared = s.prepare(obj);
    require(py::isinstance<carray<T>>(prepared), "predict: prepare() must return a C-ordered matrix");
    auto x = py::reinterpret_steal<carray<T>>(prepared.release());
    require(x.ndim() == 2 && x.shape(1) == s.net.in_features(),
            "predict: prepare() returned the wrong shape");
    return x;
}

template <class T>
void bind_net(py::module_& m, const char* name) {
    using namespace pybind11::literals;
    py::class_<PyNet<T>>(m, name)
        .def(py::init([](const std::vector<LayerSpec>& layers, index_t in, carray<T> p,
                         carray<T> g, py::typing::Callable<array_like(array_like)> prepare) {
                 const index_t need = param_count(layers);
                 require(p.size() == need && g.size() == need,
                         "params/grads must hold " + std::to_string(need) + " values");
                 return new PyNet<T>(layers, in, p, g, std::move(prepare));
             }),
             "layers"_a, "in_features"_a, "params"_a, "grads"_a, "prepare"_a,
             "prepare(x) turns what predict() was given into a C-ordered matrix of the net's "
             "dtype with in_features columns (checked).")
        .def_property(
            "training", [](const PyNet<T>& s) { return s.net.training; },
            [](PyNet<T>& s, bool v) { s.net.training = v; })
        .def_property(
            "dropout_seed", [](const PyNet<T>& s) { return s.net.dropout_seed; },
            [](PyNet<T>& s, std::uint64_t v) {
                s.net.dropout_seed = v;
                s.net.dropout_draws = 0;
            })
        .def_property_readonly("batch", [](const PyNet<T>& s) { return s.net.batch(); })
        .def("predict",
             [](const PyNet<T>& s, const array_like& obj) {
                 const carray<T> x = predict_input(s, obj);
                 const index_t n = x.shape(0);
                 auto y = new_matrix<T>(n, s.net.out_features());
                 // No heap scratch for small batches.
                 T small[kStackScratch];
                 std::vector<T> big;
                 const index_t need = s.net.predict_scratch(n);
                 T* scratch = need <= kStackScratch ? small : (big.resize(size_t(need)), big.data());
                 const T* xp = x.data();
                 T* yp = y.mutable_data();
                 releasing_gil_for(n * s.params.size(), [&] { s.net.predict(xp, n, yp, scratch); });
                 return y;
             },
             "x"_a)
        .def("forward",
             [](PyNet<T>& s, carray<T> x) {
                 const index_t n = x.shape(0);
                 s.xcopy.assign(x.data(), x.data() + x.size());
                 auto y = new_matrix<T>(n, s.net.out_features());
                 const T* out = s.net.forward(s.xcopy.data(), n);
                 std::copy(out, out + y.size(), y.mutable_data());
                 return y;
             },
             "x"_a)
        .def("backward",
             [](PyNet<T>& s, carray<T> g) {
                 require(g.ndim() == 2 && g.shape(0) == s.net.batch() &&
                             g.shape(1) == s.net.out_features(),
                         "grad shape does not match the last forward output");
                 auto dx = new_matrix<T>(s.net.batch(), s.net.in_features());
                 s.net.backward(g.data(), dx.mutable_data(), true);
                 return dx;
             },
             "grad"_a)
        .def("train_step",
             [](PyNet<T>& s, carray<T> x, const opt_array<T>& y, const opt_labels& labels,
                const opt_array<T>& w, LossSpec loss, PyOptimizer<T>& o, double clip,
                double l2) {
                 const Targets<T> t = targets_of<T>(y, labels, w);
                 const index_t n = x.shape(0);
                 // The Python layer leaves this check here: one vectorised pass, no temporaries.
                 require(all_finite(x.data(), x.size()), "x contains NaN or Inf");
                 require(!t.y || all_finite(t.y, n * s.net.out_features()), "y contains NaN or Inf");
                 return releasing_gil_for(n * s.params.size(), [&] {
                     return s.net.train_step(x.data(), t, n, loss, o.opt, clip, l2).value;
                 });
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "optimizer"_a, "clip_norm"_a,
             "weight_l2"_a)
        .def("fit",
             [](PyNet<T>& s, carray<T> x, const opt_array<T>& y, const opt_labels& labels,
                const opt_array<T>& w, LossSpec loss, PyOptimizer<T>& o, FitOptions opts,
                const opt_array<T>& vx, const opt_array<T>& vy, const opt_labels& vlabels,
                const std::optional<ReportFn>& on_report) {
                 Dataset<T> train{x.data(), targets_of<T>(y, labels, w), x.shape(0)};
                 Dataset<T> val;
                 if (vx) val = {vx->data(), targets_of<T>(vy, vlabels), vx->shape(0)};
                 FitHook hook = [&](index_t e, bool report, double l, double pen, double vl) {
                     py::gil_scoped_acquire gil;
                     if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                     return !report || !on_report || (*on_report)(e, l, pen, vl).cast<bool>();
                 };
                 FitResult r;
                 {
                     py::gil_scoped_release nogil;
                     r = fit(s.net, o.opt, loss, train, vx ? &val : nullptr, opts, hook);
                 }
                 std::optional<py::array_t<double>> vl;
                 if (vx) vl = py::array_t<double>(r.val_loss.size(), r.val_loss.data());
                 return py::make_tuple(py::array_t<double>(r.loss.size(), r.loss.data()),
                                       py::array_t<double>(r.penalty.size(), r.penalty.data()),
                                       vl);
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "optimizer"_a, "options"_a,
             "val_x"_a, "val_y"_a, "val_labels"_a, "on_report"_a,
             "The native training loop: (loss per epoch, its weight-L2 part, validation loss per "
             "epoch or None).")
        .def("fit_lbfgs",
             [](PyNet<T>& s, carray<T> x, const opt_array<T>& y, const opt_labels& labels,
                const opt_array<T>& w, LossSpec loss, double l2, LbfgsOptions opts,
                const std::optional<IterFn>& on_iter) {
                 const Dataset<T> data{x.data(), targets_of<T>(y, labels, w), x.shape(0)};
                 LbfgsHook hook = [&](index_t it, double f) {
                     py::gil_scoped_acquire gil;
                     if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                     return !on_iter || (*on_iter)(it, f).cast<bool>();
                 };
                 py::gil_scoped_release nogil;
                 return fit_lbfgs(s.net, loss, data, l2, opts, hook);
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "weight_l2"_a, "options"_a,
             "on_iter"_a,
             "Full-batch L-BFGS on (x, targets); on_iter(iteration, objective) after each "
             "iteration, False stops.");
}

}  // namespace

void register_net(py::module_& m) {
    bind_net<float>(m, "Net_f32");
    bind_net<double>(m, "Net_f64");
}

}  // namespace fastmlp
