// 64-byte aligned memory: a buffer that grows on demand, and an allocator
// for vectors whose data should start on a cache line.
#pragma once
#include <cstddef>
#include <vector>

namespace fastmlp {

// A block of at least `bytes` starting on a 64-byte line (throws
// std::bad_alloc), and its release.
void* alloc_aligned64(std::size_t bytes);
void free_aligned64(void* p);

template <class T>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() = default;
    template <class U>
    AlignedAllocator(const AlignedAllocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(alloc_aligned64(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) { free_aligned64(p); }
    template <class U>
    bool operator==(const AlignedAllocator<U>&) const { return true; }
    template <class U>
    bool operator!=(const AlignedAllocator<U>&) const { return false; }
};
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Uninitialised aligned memory that grows on demand and frees itself.
class AlignedBuffer {
public:
    AlignedBuffer() = default;
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    ~AlignedBuffer() { release(); }

    // At least `bytes` of room, reusing the current block when it is large
    // enough (a thread_local one makes a loop allocate nothing per call). A
    // larger request frees the old block first, so both never coexist.
    void* reserve(std::size_t bytes);
    void release();

private:
    void* p_ = nullptr;
    std::size_t bytes_ = 0;
};

}  // namespace fastmlp
