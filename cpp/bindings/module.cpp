// pybind11 only: NumPy arrays <-> core views, GIL release, exception mapping. No math here.
#include "support.h"

#include "fastmlp/common.h"

using namespace fastmlp;

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
    register_specs(m);
    register_optim(m);
    register_net(m);
    register_kernels(m);
    register_build(m);
}
