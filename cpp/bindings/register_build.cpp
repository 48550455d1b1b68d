// What was built and what runs: threads, compiler, OpenMP, GEMM kernels.
#include <pybind11/typing.h>

#include "fastmlp/build_info.h"
#include "fastmlp/gemm/dispatch.h"
#include "fastmlp/gemm/gemm.h"
#include "fastmlp/parallel.h"
#include "support.h"

namespace fastmlp {

namespace {

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

}  // namespace

void register_build(py::module_& m) {
    using namespace pybind11::literals;
    m.def("set_num_threads", &set_num_threads, "n"_a);
    m.def("get_num_threads", &num_threads);
    m.def("build_info", []() {
        py::typing::Dict<py::str, py::typing::Union<py::str, py::bool_, py::int_,
                                                    py::typing::List<py::str>>> d;
        d["compiler"] = std::string(compiler_id());
        d["openmp"] = openmp_enabled();
        d["num_threads"] = num_threads();
        d["isa"] = std::string(gemm_isa());
        d["isa_built"] = isa_built();
        d["isa_runnable"] = isa_runnable();
        return d;
    });
    // For tests: grows when a parallel region ran on more than one thread.
    m.def("_multithreaded_regions", &multithreaded_regions);
    // For tests and benches: re-choose the GEMM micro-kernels ("" = best).
    m.def("_select_isa", [](const std::string& r) { return std::string(gemm_select_isa(r.c_str())); },
          "isa"_a);
}

}  // namespace fastmlp
