// Facts about how the core was built, for build_info().
#pragma once

namespace fastmlp {

// The compiler and its version, e.g. "gcc 12.2.0", "clang 14.0.6",
// "apple clang 15.0.0", "msvc 19.38.33130".
const char* compiler_id();

}  // namespace fastmlp
