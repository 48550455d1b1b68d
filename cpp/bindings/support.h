// What the register_*.cpp files share: NumPy array views and the registrars.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "fastmlp/common.h"
#include "fastmlp/optim.h"

namespace fastmlp {

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

template <class T>
T* mutable_data(carray<T>& a, const char* name) {
    if (!a.writeable()) throw std::invalid_argument(std::string(name) + " is read-only");
    return a.mutable_data();
}

template <class T>
carray<T> new_matrix(index_t rows, index_t cols) {
    return carray<T>({py::ssize_t(rows), py::ssize_t(cols)});
}

// A core Optimizer plus the NumPy arrays its spans and states point into.
template <class T>
struct PyOptimizer {
    std::vector<py::object> keep;
    Optimizer<T> opt;
};

void register_specs(py::module_& m);
void register_net(py::module_& m);
void register_optim(py::module_& m);
void register_kernels(py::module_& m);
void register_build(py::module_& m);

}  // namespace fastmlp
