#include "fastmlp/buffer.h"

#include <cstdlib>
#include <new>

#ifdef _MSC_VER
#include <malloc.h>
#endif

namespace fastmlp {

// MSVC has no std::aligned_alloc (its free() cannot release over-aligned
// blocks), so it takes _aligned_malloc/_aligned_free.
void* alloc_aligned64(std::size_t bytes) {
    bytes = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of 64
#ifdef _MSC_VER
    void* p = _aligned_malloc(bytes, 64);
#else
    void* p = std::aligned_alloc(64, bytes);
#endif
    if (!p) throw std::bad_alloc();
    return p;
}

void free_aligned64(void* p) {
#ifdef _MSC_VER
    _aligned_free(p);
#else
    std::free(p);
#endif
}

void* AlignedBuffer::reserve(std::size_t bytes) {
    if (bytes > bytes_ || !p_) {
        release();
        p_ = alloc_aligned64(bytes);
        bytes_ = bytes;
    }
    return p_;
}

void AlignedBuffer::release() {
    free_aligned64(p_);
    p_ = nullptr;
    bytes_ = 0;
}

}  // namespace fastmlp
