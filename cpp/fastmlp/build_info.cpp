#include "fastmlp/build_info.h"

#include <string>

#define FASTMLP_STR_(x) #x
#define FASTMLP_STR(x) FASTMLP_STR_(x)
#define FASTMLP_VERSION3(a, b, c) FASTMLP_STR(a) "." FASTMLP_STR(b) "." FASTMLP_STR(c)

namespace fastmlp {

// Clang also defines __GNUC__ (and clang-cl _MSC_VER), so it is asked first.
const char* compiler_id() {
#if defined(__clang__) && defined(__apple_build_version__)
    return "apple clang " FASTMLP_VERSION3(__clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__clang__)
    return "clang " FASTMLP_VERSION3(__clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
    return "gcc " FASTMLP_VERSION3(__GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#elif defined(_MSC_VER)
    // _MSC_FULL_VER is one number, e.g. 193833130 for 19.38.33130.
    static const std::string id = "msvc " + std::to_string(_MSC_VER / 100) + "." +
                                  std::to_string(_MSC_VER % 100) + "." +
                                  std::to_string(_MSC_FULL_VER % 100000);
    return id.c_str();
#else
    return "unknown compiler";
#endif
}

}  // namespace fastmlp
