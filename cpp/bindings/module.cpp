// pybind11 only: NumPy arrays <-> core views, GIL release, exception mapping. No math here.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "fastmlp/build_info.h"
#include "fastmlp/common.h"
#include "fastmlp/fit.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/net.h"
#include "kernels.h"

namespace py = pybind11;
using namespace fastmlp;

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style>;

// Work (in multiply-adds) above which a call releases the GIL.
constexpr index_t kReleaseGilWork = 1 << 14;
constexpr index_t kStackScratch = 2048;

LayerSpec layer_from(py::tuple t) {
    LayerSpec s;
    s.kind = LayerKind(t[0].cast<int>());
    s.in = t[1].cast<index_t>();
    s.out = t[2].cast<index_t>();
    s.bias = t[3].cast<bool>();
    s.act = {Act(t[4].cast<int>()), t[5].cast<double>(), t[6].cast<double>()};
    s.p = t[7].cast<double>();
    return s;
}

template <class T>
T* mutable_data(carray<T>& a, const char* name) {
    if (!a.writeable()) throw std::invalid_argument(std::string(name) + " is read-only");
    return a.mutable_data();
}

// A core Net plus the NumPy buffers it points into, kept alive together.
template <class T>
struct PyNet {
    carray<T> params, grads;
    Net<T> net;
    std::vector<T> xcopy;  // forward() input kept for backward()
    PyNet(std::vector<LayerSpec> layers, index_t in, carray<T> p, carray<T> g)
        : params(p), grads(g), net(std::move(layers), in, mutable_data(params, "params"),
                                   mutable_data(grads, "grads")) {}
};

template <class T>
struct PyOptimizer {
    std::vector<py::object> keep;  // the arrays the spans and states point into
    Optimizer<T> opt;
};

template <class T>
Targets<T> targets_of(const py::object& y, const py::object& labels,
                      const py::object& w = py::none()) {
    // The Python layer passes exact-dtype contiguous arrays, so these casts never copy.
    Targets<T> t;
    if (!y.is_none()) t.y = y.cast<carray<T>>().data();
    if (!labels.is_none()) t.labels = labels.cast<carray<std::int64_t>>().data();
    if (!w.is_none()) t.w = w.cast<carray<T>>().data();
    return t;
}

template <class T>
carray<T> new_matrix(index_t rows, index_t cols) {
    return carray<T>({py::ssize_t(rows), py::ssize_t(cols)});
}

// Micro-kernel sets compiled into this binary.
py::list isa_built() {
    py::list out;
    for (const GemmKernels* k : {gemm_kernels_portable(), gemm_kernels_avx2(), gemm_kernels_avx512(),
                                 gemm_kernels_neon()})
        if (k) out.append(k->name);
    return out;
}

// The built sets this CPU can run.
py::list isa_runnable() {
    py::list out;
    for (const char* name : {"portable", "avx2", "avx512", "neon"})
        if (gemm_isa_runnable(name)) out.append(name);
    return out;
}

template <class T>
void bind_dtype(py::module_& m, const std::string& sfx) {
    py::class_<PyNet<T>>(m, ("Net" + sfx).c_str())
        .def(py::init([](std::vector<py::tuple> layers, index_t in, carray<T> p, carray<T> g) {
                 std::vector<LayerSpec> specs;
                 for (auto& t : layers) specs.push_back(layer_from(t));
                 const index_t need = Net<T>::count_params(specs);
                 require(p.size() == need && g.size() == need,
                         "params/grads must hold " + std::to_string(need) + " values");
                 return new PyNet<T>(std::move(specs), in, p, g);
             }),
             py::arg("layers"), py::arg("in_features"), py::arg("params"), py::arg("grads"))
        .def_property(
            "training", [](PyNet<T>& s) { return s.net.training; },
            [](PyNet<T>& s, bool v) { s.net.training = v; })
        .def_property(
            "dropout_seed", [](PyNet<T>& s) { return s.net.dropout_seed; },
            [](PyNet<T>& s, std::uint64_t v) {
                s.net.dropout_seed = v;
                s.net.dropout_draws = 0;
            })
        .def_property_readonly("batch", [](PyNet<T>& s) { return s.net.batch(); })
        .def("predict",
             [](const PyNet<T>& s, py::handle obj) -> py::object {
                 // None asks the Python layer to validate and convert: this path
                 // takes only arrays that need nothing, as apps pass in loops.
                 if (!py::isinstance<carray<T>>(obj)) return py::none();
                 auto x = py::reinterpret_borrow<carray<T>>(obj);
                 if (x.ndim() != 2 || x.shape(1) != s.net.in_features() ||
                     !(x.flags() & py::array::c_style))
                     return py::none();
                 const index_t n = x.shape(0);
                 auto y = new_matrix<T>(n, s.net.out_features());
                 // No heap scratch for small batches.
                 T small[kStackScratch];
                 std::vector<T> big;
                 const index_t need = s.net.predict_scratch(n);
                 T* scratch = need <= kStackScratch ? small : (big.resize(size_t(need)), big.data());
                 const T* xp = x.data();
                 T* yp = y.mutable_data();
                 if (n * s.params.size() >= kReleaseGilWork) {
                     py::gil_scoped_release nogil;
                     s.net.predict(xp, n, yp, scratch);
                 } else {
                     s.net.predict(xp, n, yp, scratch);
                 }
                 return std::move(y);
             })
        .def("forward",
             [](PyNet<T>& s, carray<T> x) {
                 const index_t n = x.shape(0);
                 s.xcopy.assign(x.data(), x.data() + x.size());
                 auto y = new_matrix<T>(n, s.net.out_features());
                 const T* out = s.net.forward(s.xcopy.data(), n);
                 std::copy(out, out + y.size(), y.mutable_data());
                 return y;
             })
        .def("backward",
             [](PyNet<T>& s, carray<T> g, bool need_dx) -> py::object {
                 require(g.shape(0) == s.net.batch() && g.ndim() == 2 &&
                             g.shape(1) == s.net.out_features(),
                         "grad shape does not match the last forward output");
                 if (!need_dx) {
                     s.net.backward(g.data(), nullptr, true);
                     return py::none();
                 }
                 auto dx = new_matrix<T>(s.net.batch(), s.net.in_features());
                 s.net.backward(g.data(), dx.mutable_data(), true);
                 return dx;
             })
        .def("train_step",
             [](PyNet<T>& s, carray<T> x, py::object y, py::object labels, py::object w,
                LossSpec loss, PyOptimizer<T>& o, double clip) {
                 const Targets<T> t = targets_of<T>(y, labels, w);
                 const index_t n = x.shape(0);
                 // The Python layer leaves this check here: one vectorised pass, no temporaries.
                 require(all_finite(x.data(), x.size()), "x contains NaN or Inf");
                 require(!t.y || all_finite(t.y, n * s.net.out_features()), "y contains NaN or Inf");
                 if (n * s.params.size() >= kReleaseGilWork) {
                     py::gil_scoped_release nogil;
                     return s.net.train_step(x.data(), t, n, loss, o.opt, clip);
                 }
                 return s.net.train_step(x.data(), t, n, loss, o.opt, clip);
             })
        .def("fit", [](PyNet<T>& s, carray<T> x, py::object y, py::object labels, py::object w,
                       LossSpec loss, PyOptimizer<T>& o, FitOptions opts, py::object vx,
                       py::object vy, py::object vlabels, py::object on_report) {
            Dataset<T> train{x.data(), targets_of<T>(y, labels, w), x.shape(0)};
            Dataset<T> val;
            if (!vx.is_none()) {
                auto vxa = vx.cast<carray<T>>();
                val = {vxa.data(), targets_of<T>(vy, vlabels), vxa.shape(0)};
            }
            FitHook hook = [&](index_t e, bool report, double l, double vl) {
                py::gil_scoped_acquire gil;
                if (PyErr_CheckSignals() != 0) throw py::error_already_set();
                return !report || on_report.is_none() || on_report(e, l, vl).cast<bool>();
            };
            FitResult r;
            {
                py::gil_scoped_release nogil;
                r = fit(s.net, o.opt, loss, train, vx.is_none() ? nullptr : &val, opts, hook);
            }
            py::object vl = py::none();
            if (!vx.is_none()) vl = py::array_t<double>(r.val_loss.size(), r.val_loss.data());
            return py::make_tuple(py::array_t<double>(r.loss.size(), r.loss.data()), vl);
        });

    py::class_<PyOptimizer<T>>(m, ("Optimizer" + sfx).c_str())
        .def(py::init([](OptSpec spec, std::vector<std::pair<carray<T>, carray<T>>> params,
                         std::vector<carray<T>> states) {
                 auto* o = new PyOptimizer<T>();
                 o->opt.spec = spec;
                 index_t off = 0;
                 for (auto& [d, g] : params) {
                     require(d.size() == g.size(), "parameter and gradient sizes differ");
                     o->opt.spans.push_back({mutable_data(d, "param"), mutable_data(g, "grad"),
                                             index_t(d.size()), off});
                     off += d.size();
                     o->keep.push_back(d);
                     o->keep.push_back(g);
                 }
                 require(int(states.size()) == optim_state_count(spec),
                         "wrong number of optimizer state buffers");
                 for (auto& st : states) {
                     require(st.size() == off, "optimizer state has the wrong size");
                     o->opt.state.push_back(mutable_data(st, "state"));
                     o->keep.push_back(st);
                 }
                 return o;
             }))
        .def("step", [](PyOptimizer<T>& o) { o.opt.step(); })
        .def("zero_grad", [](PyOptimizer<T>& o) { o.opt.zero_grad(); })
        .def_property(
            "step_count", [](PyOptimizer<T>& o) { return o.opt.step_count; },
            [](PyOptimizer<T>& o, std::int64_t v) { o.opt.step_count = v; })
        .def_property(
            "lr", [](PyOptimizer<T>& o) { return o.opt.spec.lr; },
            [](PyOptimizer<T>& o, double v) { o.opt.spec.lr = v; });

    bind_kernels<T>(m, sfx);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastmlp native core";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const NonFiniteError& e) {
            PyErr_SetString(PyExc_FloatingPointError, e.what());
        } catch (const ProtocolError& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    });

    py::class_<LossSpec>(m, "LossSpec")
        .def(py::init([](int kind, bool mean, double delta) {
                 return LossSpec{LossKind(kind), mean, delta};
             }),
             py::arg("kind"), py::arg("mean") = true, py::arg("delta") = 1.0);

    py::class_<OptSpec>(m, "OptSpec")
        .def(py::init<>())
        .def_property(
            "kind", [](const OptSpec& s) { return int(s.kind); },
            [](OptSpec& s, int k) { s.kind = OptKind(k); })
        .def_readwrite("lr", &OptSpec::lr)
        .def_readwrite("momentum", &OptSpec::momentum)
        .def_readwrite("dampening", &OptSpec::dampening)
        .def_readwrite("weight_decay", &OptSpec::weight_decay)
        .def_readwrite("beta1", &OptSpec::beta1)
        .def_readwrite("beta2", &OptSpec::beta2)
        .def_readwrite("eps", &OptSpec::eps)
        .def_readwrite("alpha", &OptSpec::alpha)
        .def_readwrite("nesterov", &OptSpec::nesterov)
        .def_readwrite("amsgrad", &OptSpec::amsgrad)
        .def_readwrite("centered", &OptSpec::centered)
        .def("state_count", [](const OptSpec& s) { return optim_state_count(s); });

    py::class_<FitOptions>(m, "FitOptions")
        .def(py::init<>())
        .def_readwrite("epochs", &FitOptions::epochs)
        .def_readwrite("batch_size", &FitOptions::batch_size)
        .def_readwrite("shuffle", &FitOptions::shuffle)
        .def_readwrite("seed", &FitOptions::seed)
        .def_readwrite("report_every", &FitOptions::report_every)
        .def_readwrite("clip_norm", &FitOptions::clip_norm)
        .def_readwrite("poll_seconds", &FitOptions::poll_seconds);

    bind_dtype<float>(m, "_f32");
    bind_dtype<double>(m, "_f64");

    m.def("set_num_threads", &set_num_threads);
    m.def("get_num_threads", &num_threads);
    m.def("build_info", []() {
        py::dict d;
        d["compiler"] = std::string(compiler_id());
        d["openmp"] = openmp_enabled();
        d["num_threads"] = num_threads();
        d["isa"] = std::string(gemm_isa());
        d["isa_built"] = isa_built();
        d["isa_runnable"] = isa_runnable();
        return d;
    });
    // For tests and benches: re-choose the GEMM micro-kernels ("" = best).
    m.def("_select_isa", [](const std::string& r) { return std::string(gemm_select_isa(r.c_str())); });
}
