// Optimizer_f32 / Optimizer_f64: the core optimizer over NumPy parameter views.
#include <pybind11/stl.h>

#include "support.h"

namespace fastmlp {

namespace {

template <class T>
void bind_optimizer(py::module_& m, const char* name) {
    using namespace pybind11::literals;
    py::class_<PyOptimizer<T>>(m, name)
        .def(py::init([](OptSpec spec, std::vector<std::pair<carray<T>, carray<T>>> params,
                         std::vector<carray<T>> states) {
                 check_opt(spec);
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
             }),
             "spec"_a, "params"_a, "states"_a)
        .def("step", [](PyOptimizer<T>& o) { o.opt.step(); })
        .def("zero_grad", [](PyOptimizer<T>& o) { o.opt.zero_grad(); })
        .def_property(
            "step_count", [](const PyOptimizer<T>& o) { return o.opt.step_count; },
            [](PyOptimizer<T>& o, std::int64_t v) { o.opt.step_count = v; })
        .def_property(
            "lr", [](const PyOptimizer<T>& o) { return o.opt.spec.lr; },
            [](PyOptimizer<T>& o, double v) { o.opt.spec.lr = v; });
}

}  // namespace

void register_optim(py::module_& m) {
    bind_optimizer<float>(m, "Optimizer_f32");
    bind_optimizer<double>(m, "Optimizer_f64");
}

}  // namespace fastmlp
