// The core's enumerations and plain specs, bound once: Python reads the kinds
// and the parameter layout from here, never from a table of its own.
#include <pybind11/stl.h>
#include <pybind11/typing.h>

#include "fastmlp/fit.h"
#include "fastmlp/lbfgs.h"
#include "fastmlp/net.h"
#include "support.h"

namespace fastmlp {

void register_specs(py::module_& m) {
    using namespace pybind11::literals;
    py::enum_<LayerKind>(m, "LayerKind")
        .value("linear", LayerKind::linear)
        .value("activation", LayerKind::activation)
        .value("dropout", LayerKind::dropout);
    py::enum_<Act>(m, "Act")
        .value("identity", Act::identity)
        .value("relu", Act::relu)
        .value("leaky_relu", Act::leaky_relu)
        .value("tanh", Act::tanh)
        .value("sigmoid", Act::sigmoid)
        .value("gelu", Act::gelu)
        .value("gelu_tanh", Act::gelu_tanh)
        .value("silu", Act::silu)
        .value("softplus", Act::softplus);
    py::enum_<LossKind>(m, "LossKind")
        .value("mse", LossKind::mse)
        .value("l1", LossKind::l1)
        .value("huber", LossKind::huber)
        .value("bce_with_logits", LossKind::bce_with_logits)
        .value("cross_entropy", LossKind::cross_entropy)
        .value("poisson_nll", LossKind::poisson_nll);
    py::enum_<OptKind>(m, "OptKind")
        .value("sgd", OptKind::sgd)
        .value("adam", OptKind::adam)
        .value("adamw", OptKind::adamw)
        .value("rmsprop", OptKind::rmsprop);

    py::class_<ActSpec>(m, "ActSpec", "An activation: a = negative slope (leaky_relu) or beta "
                                      "(softplus); b = threshold (softplus).")
        .def(py::init([](Act kind, double a, double b) { return ActSpec{kind, a, b}; }),
             py::arg_v("kind", Act::identity, "Act.identity"), "a"_a = 0.0, "b"_a = 0.0)
        .def_readwrite("kind", &ActSpec::kind)
        .def_readwrite("a", &ActSpec::a)
        .def_readwrite("b", &ActSpec::b);

    py::class_<LayerSpec>(m, "LayerSpec")
        .def(py::init([](LayerKind kind, index_t in_features, index_t out_features, bool bias,
                         ActSpec act, double p) {
                 return LayerSpec{kind, in_features, out_features, bias, act, p};
             }),
             "kind"_a, "in_features"_a = 0, "out_features"_a = 0, "bias"_a = true,
             py::arg_v("act", ActSpec{}, "ActSpec()"), "p"_a = 0.0)
        .def_readwrite("kind", &LayerSpec::kind)
        .def_readwrite("in_features", &LayerSpec::in)
        .def_readwrite("out_features", &LayerSpec::out)
        .def_readwrite("bias", &LayerSpec::bias)
        .def_readwrite("act", &LayerSpec::act)
        .def_readwrite("p", &LayerSpec::p);

    py::class_<ParamInfo>(m, "ParamInfo", "Where a parameter lives in a model's flat buffers.")
        .def_readonly("layer", &ParamInfo::layer)
        .def_readonly("name", &ParamInfo::name)
        .def_readonly("offset", &ParamInfo::offset)
        .def_property_readonly("shape", [](const ParamInfo& p) {
            py::typing::Tuple<index_t, py::ellipsis> t(p.shape.size());
            for (size_t i = 0; i < p.shape.size(); ++i) t[i] = p.shape[i];
            return t;
        });
    m.def("param_layout", &param_layout, "layers"_a,
          "Each Linear's weight then bias, in layer order; checks the specs.");
    m.def("param_count", &param_count, "layers"_a);

    py::class_<LossSpec>(m, "LossSpec")
        .def(py::init([](LossKind kind, bool mean, double delta) {
                 return LossSpec{kind, mean, delta};
             }),
             "kind"_a, "mean"_a = true, "delta"_a = 1.0)
        .def_readwrite("kind", &LossSpec::kind)
        .def_readwrite("mean", &LossSpec::mean)
        .def_readwrite("delta", &LossSpec::delta);

    py::class_<OptSpec>(m, "OptSpec")
        .def(py::init<>())
        .def_readwrite("kind", &OptSpec::kind)
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
        .def("state_count", &optim_state_count);

    py::class_<FitOptions>(m, "FitOptions")
        .def(py::init<>())
        .def_readwrite("epochs", &FitOptions::epochs)
        .def_readwrite("batch_size", &FitOptions::batch_size)
        .def_readwrite("shuffle", &FitOptions::shuffle)
        .def_readwrite("seed", &FitOptions::seed)
        .def_readwrite("report_every", &FitOptions::report_every)
        .def_readwrite("clip_norm", &FitOptions::clip_norm)
        .def_readwrite("l2", &FitOptions::l2)
        .def_readwrite("steps", &FitOptions::steps);
    // Arrays cross as copies: a checkpoint reads them between epochs.
    const auto doubles = [](const std::vector<double>& v) {
        return py::array_t<double>(py::ssize_t(v.size()), v.data());
    };
    py::class_<FitState>(m, "FitState")
        .def(py::init<>())
        .def_readwrite("epoch", &FitState::epoch)
        .def_readwrite("rng", &FitState::rng)
        .def_property(
            "order",
            [](const FitState& s) {
                const std::vector<std::int64_t> v = s.order.values();
                return py::array_t<std::int64_t>(py::ssize_t(v.size()), v.data());
            },
            [](FitState& s, const carray<std::int64_t>& a) {
                require(a.ndim() == 1, "order must be a vector");
                s.order.assign(a.data(), index_t(a.size()));
            })
        .def_property_readonly("loss", [=](const FitState& s) { return doubles(s.result.loss); })
        .def_property_readonly("penalty",
                               [=](const FitState& s) { return doubles(s.result.penalty); })
        .def_property_readonly("val_loss",
                               [=](const FitState& s) { return doubles(s.result.val_loss); });

    py::class_<LbfgsOptions>(m, "LbfgsOptions")
        .def(py::init<>())
        .def_readwrite("max_iter", &LbfgsOptions::max_iter)
        .def_readwrite("max_fun", &LbfgsOptions::max_fun)
        .def_readwrite("gtol", &LbfgsOptions::gtol)
        .def_readwrite("ftol", &LbfgsOptions::ftol)
        .def_readwrite("history", &LbfgsOptions::history)
        .def_readwrite("max_ls", &LbfgsOptions::max_ls);
    py::class_<LbfgsResult>(m, "LbfgsResult")
        .def_readonly("f", &LbfgsResult::f)
        .def_readonly("n_iter", &LbfgsResult::n_iter)
        .def_readonly("n_fun", &LbfgsResult::n_fun)
        .def_property_readonly("status", [](const LbfgsResult& r) { return int(r.status); },
                               "0 converged, 1 an iteration or evaluation limit, 2 the line "
                               "search failed (scipy's status codes)")
        .def_readonly("message", &LbfgsResult::message);
}

}  // namespace fastmlp
