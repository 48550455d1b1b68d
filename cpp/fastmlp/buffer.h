// Uninitialised, 64-byte aligned memory that grows on demand and frees itself.
#pragma once
#include <cstddef>

namespace fastmlp {

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
