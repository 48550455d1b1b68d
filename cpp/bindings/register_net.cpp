// Net_f32 / Net_f64: the core Net over a model's flat NumPy buffers, and the
// native fit loop with its Python hook; CsrMatrix_f32 / CsrMatrix_f64: sparse
// input rows for them.
#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include <algorithm>
#include <variant>

#include "fastmlp/buffer.h"
#include "fastmlp/fit.h"
#include "fastmlp/lbfgs.h"
#include "fastmlp/net.h"
#include "gil.h"
#include "support.h"

namespace fastmlp {
namespace {

// An argument of any type that the function converts itself: named builtins.object in
// signatures (and so in the generated _core.pyi).
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
    static constexpr auto name = const_name("builtins.object");
};
}  // namespace detail
}  // namespace pybind11

namespace fastmlp {

namespace {

constexpr index_t kStackScratch = 2048;
// Bytes of predict scratch a thread keeps between calls: a fresh buffer costs
// its page faults and zeroing on every call (16 MiB for 4096 rows through
// 512-wide layers), a kept one nothing; past this it is freed with the call.
constexpr std::size_t kKeptScratchBytes = std::size_t(64) << 20;

// Uninitialised room for n values of T: the calling thread's kept buffer, or
// `owned` (the call's own) when n passes kKeptScratchBytes.
template <class T>
T* predict_scratch(std::size_t n, AlignedBuffer& owned) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes > kKeptScratchBytes) return static_cast<T*>(owned.reserve(bytes));
    thread_local AlignedBuffer kept;
    return static_cast<T*>(kept.reserve(bytes));
}
// Work (in multiply-adds) above which a call releases the GIL.
constexpr index_t kReleaseGilWork = 1 << 14;

// f(), with the GIL released when the work pays for giving it up and taking it back.
template <class F>
auto releasing_gil_for(index_t work, F&& f) {
    if (work >= kReleaseGilWork) return without_gil(std::forward<F>(f));
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

// A CSR matrix over NumPy arrays (scipy's data, indices and indptr), its
// structure checked once; int32 indices arrive converted to int64. The values
// are float32 or float64: a Net reads those of its own dtype.
struct PyCsr {
    std::variant<carray<float>, carray<double>> data;
    carray<std::int64_t> indices, indptr;
    index_t rows, cols;
    template <class T>
    Csr<T> view() const {
        const carray<T>* values = std::get_if<carray<T>>(&data);
        require(values != nullptr, "x: CSR values of another dtype than the net's");
        return {indptr.data(), indices.data(), values->data()};
    }
    index_t stored() const { return indptr.data()[rows]; }
};

// A model's input as the call received it: a C-ordered matrix or a CsrMatrix.
template <class T>
using matrix_or_csr = std::variant<carray<T>, PyCsr>;

// What the core reads of x, and its rows.
template <class T>
struct XRows {
    Input<T> x;
    index_t n;
};

// x's rows, after checking its width.
template <class T>
XRows<T> x_rows(const matrix_or_csr<T>& x, index_t in_features) {
    if (const PyCsr* m = std::get_if<PyCsr>(&x)) {
        require(m->cols == in_features, "x must have in_features columns");
        return {Input<T>(m->view<T>()), m->rows};
    }
    const carray<T>& d = std::get<carray<T>>(x);
    require(d.ndim() == 2 && d.shape(1) == in_features, "x must be a matrix of in_features columns");
    return {Input<T>(d.data()), d.shape(0)};
}

// Whether every value x holds is finite.
template <class T>
bool values_finite(const matrix_or_csr<T>& x) {
    if (const PyCsr* m = std::get_if<PyCsr>(&x)) return all_finite(m->view<T>().data, m->stored());
    const carray<T>& d = std::get<carray<T>>(x);
    return all_finite(d.data(), d.size());
}

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
// A data-parallel step's sum over the processes: (gradients too, this process's exception or
// None); raises when any process failed.
using SyncFn = py::typing::Callable<void(bool, py::object)>;

// The Python exception that an error caught in the core becomes: the one pybind11's
// exception translators (module.cpp's, then its defaults) raise for it from a call.
py::object python_error(std::exception_ptr p) {
    try {
        std::rethrow_exception(p);
    } catch (const py::error_already_set& e) {
        return e.value();
    } catch (...) {
        py::detail::try_translate_exceptions();  // sets the Python error for the current one
        return py::error_already_set().value();
    }
}

// The core's FitSync over the Python sum and its extras (the values after the gradients);
// empty without sum. The sum takes the GIL: the core calls it with the GIL released.
template <class T>
std::optional<FitSync<T>> sync_of(const std::optional<SyncFn>& sum, std::optional<carray<T>>& extras) {
    if (!sum) return std::nullopt;
    require(extras && extras->ndim() == 1 && extras->size() == kSyncSlots,
            "sync_extras must be " + std::to_string(kSyncSlots) + " values");
    FitSync<T> s;
    s.extras = mutable_data(*extras, "sync_extras");
    s.sum = [&sum](bool grads, std::exception_ptr error) {
        py::gil_scoped_acquire gil;
        (*sum)(grads, error ? python_error(error) : py::none());
    };
    return s;
}

template <class T>
Targets<T> targets_of(const opt_array<T>& y, const opt_labels& labels,
                      const opt_array<T>& w = std::nullopt) {
    Targets<T> t;
    if (y) t.y = y->data();
    if (labels) t.labels = labels->data();
    if (w) t.w = w->data();
    return t;
}

// The values of `a` when it is an array of exactly V, C-contiguous and of shape
// (rows, cols) (cols 0: a vector of rows), else nullptr. No conversion, no new object.
template <class V>
const V* exact_values(const py::handle& a, index_t rows, index_t cols) {
    if (!py::isinstance<py::array_t<V>>(a)) return nullptr;
    const auto arr = py::reinterpret_borrow<py::array>(a);
    if (!(arr.flags() & py::array::c_style)) return nullptr;
    const bool shaped = cols == 0 ? arr.ndim() == 1 && arr.shape(0) == rows
                                  : arr.ndim() == 2 && arr.shape(0) == rows && arr.shape(1) == cols;
    return shaped ? static_cast<const V*>(arr.data()) : nullptr;
}

// x as predict() reads it: as given when it already is a matrix it reads (the
// fast path apps take in loops), else what `prepare` makes of it (shape checked
// by x_rows).
template <class T>
matrix_or_csr<T> predict_input(const PyNet<T>& s, const array_like& obj) {
    if (py::isinstance<carray<T>>(obj)) {
        auto x = py::reinterpret_borrow<carray<T>>(obj);
        if (x.ndim() == 2 && x.shape(1) == s.net.in_features() && (x.flags() & py::array::c_style))
            return x;
    }
    py::object prepared = s.prepare(obj);
    if (py::isinstance<carray<T>>(prepared))
        return py::reinterpret_steal<carray<T>>(prepared.release());
    require(py::isinstance<PyCsr>(prepared),
            "predict: prepare() must return a C-ordered matrix or a CsrMatrix");
    return prepared.cast<const PyCsr&>();
}

void bind_csr(py::module_& m) {
    using namespace pybind11::literals;
    py::class_<PyCsr>(m, "CsrMatrix")
        .def(py::init([](std::variant<carray<float>, carray<double>> data,
                         carray<std::int64_t> indices, carray<std::int64_t> indptr,
                         index_t n_cols, const std::string& what) {
                 const index_t stored = std::visit([](const auto& d) { return index_t(d.size()); },
                                                   data);
                 const bool vectors = std::visit([](const auto& d) { return d.ndim() == 1; }, data);
                 require(vectors && indices.ndim() == 1 && indptr.ndim() == 1 &&
                             indptr.size() >= 1 && indices.size() == stored && n_cols > 0,
                         what + ": CSR arrays of the wrong shapes");
                 const index_t rows = indptr.size() - 1;
                 check_csr(indptr.data(), indices.data(), rows, n_cols, stored, what.c_str());
                 return new PyCsr{std::move(data), indices, indptr, rows, n_cols};
             }),
             "data"_a, "indices"_a, "indptr"_a, "n_cols"_a, "name"_a,
             "Rows of a CSR matrix with n_cols columns over scipy's three arrays (kept, not "
             "copied, but int32 indices are widened to int64), for a Net of the values' dtype; "
             "bad structure raises ValueError naming `name`.");
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
             "dtype with in_features columns or a CsrMatrix of them (checked).")
        .def_property(
            "training", [](const PyNet<T>& s) { return s.net.training; },
            [](PyNet<T>& s, bool v) { s.net.training = v; })
        .def_property(
            "dropout_seed", [](const PyNet<T>& s) { return s.net.dropout_seed; },
            [](PyNet<T>& s, std::uint64_t v) {
                s.net.dropout_seed = v;
                s.net.dropout_draws = 0;
            })
        .def_property(
            "dropout_draws", [](const PyNet<T>& s) { return s.net.dropout_draws; },
            [](PyNet<T>& s, std::uint64_t v) { s.net.dropout_draws = v; },
            "Training forwards so far under dropout_seed: the position of the dropout masks.")
        .def_property_readonly("batch", [](const PyNet<T>& s) { return s.net.batch(); })
        .def("predict",
             [](const PyNet<T>& s, const array_like& obj) {
                 const matrix_or_csr<T> x = predict_input(s, obj);
                 const XRows<T> r = x_rows(x, s.net.in_features());
                 const index_t n = r.n;
                 auto y = new_matrix<T>(n, s.net.out_features());
                 // No heap scratch for small batches.
                 T small[kStackScratch];
                 AlignedBuffer owned;
                 const index_t need = s.net.predict_scratch(n);
                 T* scratch = need <= kStackScratch ? small : predict_scratch<T>(size_t(need), owned);
                 T* yp = y.mutable_data();
                 releasing_gil_for(n * s.params.size(), [&] { s.net.predict(r.x, n, yp, scratch); });
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
             [](PyNet<T>& s, const matrix_or_csr<T>& x, const opt_array<T>& y,
                const opt_labels& labels, const opt_array<T>& w, LossSpec loss, PyOptimizer<T>& o,
                double clip, double l2, const std::optional<SyncFn>& sync,
                std::optional<carray<T>> sync_extras) {
                 const Targets<T> t = targets_of<T>(y, labels, w);
                 const XRows<T> r = x_rows(x, s.net.in_features());
                 const index_t n = r.n;
                 const std::optional<FitSync<T>> synced = sync_of(sync, sync_extras);
                 // The Python layer leaves this check here: one vectorised pass, no temporaries.
                 // Synced, a failure is shared with the other processes instead.
                 std::exception_ptr error;
                 try {
                     require(values_finite(x), "x contains NaN or Inf");
                     require(!t.y || all_finite(t.y, n * s.net.out_features()),
                             "y contains NaN or Inf");
                 } catch (...) {
                     if (!synced) throw;
                     error = std::current_exception();
                 }
                 if (synced) {
                     return without_gil([&] {
                         double seen = 0.0;
                         return sync_step(s.net, o.opt, loss, r.x, t, n, clip, l2, *synced,
                                          error, &seen)
                             .value;
                     });
                 }
                 return releasing_gil_for(n * s.params.size(), [&] {
                     return s.net.train_step(r.x, t, n, loss, o.opt, clip, l2).value;
                 });
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "optimizer"_a, "clip_norm"_a,
             "weight_l2"_a, "sync"_a = py::none(), "sync_extras"_a = py::none(),
             "With sync (and sync_extras, the values after the gradient buffer), one "
             "data-parallel step: the gradients are summed over the processes by sync.")
        .def("train_step_exact",
             [](PyNet<T>& s, const py::handle& x, const py::handle& y, const LossSpec& loss,
                bool labels, PyOptimizer<T>& o) -> std::optional<double> {
                 const index_t in = s.net.in_features(), out = s.net.out_features();
                 if (!py::isinstance<py::array>(x)) return std::nullopt;
                 const auto xa = py::reinterpret_borrow<py::array>(x);
                 const index_t n = xa.ndim() == 2 ? xa.shape(0) : 0;  // exact_values checks the rest
                 const T* xv = n > 0 ? exact_values<T>(x, n, in) : nullptr;
                 if (!xv || !all_finite(xv, n * in)) return std::nullopt;
                 Targets<T> t;
                 if (labels) {
                     t.labels = exact_values<std::int64_t>(y, n, 0);
                     if (!t.labels) return std::nullopt;
                     const auto [lo, hi] = std::minmax_element(t.labels, t.labels + n);
                     if (*lo < 0 || *hi >= out) return std::nullopt;
                 } else {
                     t.y = exact_values<T>(y, n, out);
                     if (!t.y && out == 1) t.y = exact_values<T>(y, n, 0);
                     if (!t.y || !all_finite(t.y, n * out)) return std::nullopt;
                 }
                 return releasing_gil_for(n * s.params.size(), [&] {
                     return s.net.train_step(Input<T>(xv), t, n, loss, o.opt, 0.0, 0.0).value;
                 });
             },
             "x"_a, "y"_a, "loss"_a, "labels"_a, "optimizer"_a,
             "train_step's per-step path: dense x and y (or int64 labels) exactly as the net "
             "reads them, finite and in range, no sample weights, clipping or penalty. None "
             "when they are not, for the full path to check and explain.")
        .def("fit",
             [](PyNet<T>& s, const matrix_or_csr<T>& x, const opt_array<T>& y,
                const opt_labels& labels, const opt_array<T>& w, LossSpec loss, PyOptimizer<T>& o,
                FitOptions opts, const std::optional<matrix_or_csr<T>>& vx, const opt_array<T>& vy,
                const opt_labels& vlabels, const std::optional<ReportFn>& on_report,
                FitState& state, const std::optional<SyncFn>& sync,
                std::optional<carray<T>> sync_extras) {
                 const std::optional<FitSync<T>> synced = sync_of(sync, sync_extras);
                 const XRows<T> xr = x_rows(x, s.net.in_features());
                 Dataset<T> train{xr.x, targets_of<T>(y, labels, w), xr.n};
                 Dataset<T> val;
                 if (vx) {
                     const XRows<T> v = x_rows(*vx, s.net.in_features());
                     val = {v.x, targets_of<T>(vy, vlabels), v.n};
                 }
                 FitHook hook = [&](index_t e, bool report, double l, double pen, double vl) {
                     py::gil_scoped_acquire gil;
                     if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                     return !report || !on_report || (*on_report)(e, l, pen, vl).cast<bool>();
                 };
                 const FitResult r = without_gil([&] {
                     return fit(s.net, o.opt, loss, train, vx ? &val : nullptr, opts, hook,
                                &state, synced ? &*synced : nullptr);
                 });
                 std::optional<py::array_t<double>> vl;
                 if (vx) vl = py::array_t<double>(r.val_loss.size(), r.val_loss.data());
                 return py::make_tuple(py::array_t<double>(r.loss.size(), r.loss.data()),
                                       py::array_t<double>(r.penalty.size(), r.penalty.data()),
                                       vl);
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "optimizer"_a, "options"_a,
             "val_x"_a, "val_y"_a, "val_labels"_a, "on_report"_a, "state"_a,
             "sync"_a = py::none(), "sync_extras"_a = py::none(),
             "The native training loop: (loss per epoch, its weight-L2 part, validation loss per "
             "epoch or None). It continues from the epoch of `state` (0: a fresh run) and keeps "
             "it up to date, before each report, for checkpoints. With sync, data-parallel: see "
             "train_step.")
        .def("fit_lbfgs",
             [](PyNet<T>& s, const matrix_or_csr<T>& x, const opt_array<T>& y,
                const opt_labels& labels, const opt_array<T>& w, LossSpec loss, double l2,
                LbfgsOptions opts, const std::optional<IterFn>& on_iter) {
                 const XRows<T> r = x_rows(x, s.net.in_features());
                 const Dataset<T> data{r.x, targets_of<T>(y, labels, w), r.n};
                 LbfgsHook hook = [&](index_t it, double f) {
                     py::gil_scoped_acquire gil;
                     if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                     return !on_iter || (*on_iter)(it, f).cast<bool>();
                 };
                 return without_gil([&] { return fit_lbfgs(s.net, loss, data, l2, opts, hook); });
             },
             "x"_a, "y"_a, "labels"_a, "sample_weight"_a, "loss"_a, "weight_l2"_a, "options"_a,
             "on_iter"_a,
             "Full-batch L-BFGS on (x, targets); on_iter(iteration, objective) after each "
             "iteration, False stops.");
}

}  // namespace

void register_net(py::module_& m) {
    // A data-parallel step's extras after the gradients, and which of them counts failures.
    m.attr("SYNC_SLOTS") = int(kSyncSlots);
    m.attr("SYNC_FAILED") = int(kSyncFailed);
    bind_csr(m);
    bind_net<float>(m, "Net_f32");
    bind_net<double>(m, "Net_f64");
}

}  // namespace fastmlp
