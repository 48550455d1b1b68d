// The thread count and the worker pool behind parallel().
//
// Each OS thread that starts a parallel region gets its own pool (so two
// Python threads training two models never wait for each other), created on
// first use and joined when that thread ends. A worker that finishes a task
// spins for kSpinMicros waiting for the next one, then sleeps on a condition
// variable: the products of one training step follow each other within
// microseconds and find the workers awake (a region then costs about a cache
// line's round trip), while an idle process leaves the cores alone. OpenMP's
// fork-join with sleeping workers paid a futex wake-up per region (tens of
// microseconds); with spinning workers it kept cores busy for milliseconds
// after the work (bench_parallel measures both).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fastmlp/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FASTMLP_HAS_FORK 1
#endif
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <immintrin.h>
#endif

namespace fastmlp {

namespace {

int initial_threads() {
    if (const char* env = std::getenv("FASTMLP_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
#ifdef _OPENMP
    return omp_get_num_procs();  // the CPUs this process may run on (taskset)
#else
    return 1;
#endif
}

std::atomic<int> g_threads{initial_threads()};

// How long an idle worker spins before it sleeps. A step of a mid-size network
// has gaps of a few to tens of microseconds between its products; 200 us
// covers them and the gap between two steps of fit, and is short enough not
// to hog a shared machine (measured: bench/README.md).
constexpr std::int64_t kSpinMicros = 200;
// The first part of that spin keeps the core; the rest yields it to any other
// thread that wants it.
constexpr std::int64_t kPauseMicros = 20;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Bumped in a forked child: the parent's workers do not exist there, so each
// thread's pool is rebuilt on its next use.
std::atomic<unsigned> g_forks{0};
#ifdef FASTMLP_HAS_FORK
[[maybe_unused]] const int g_atfork_registered = pthread_atfork(nullptr, nullptr, [] { ++g_forks; });
#endif

std::atomic<long long> g_multithreaded_regions{0};  // multithreaded_regions()

// Parts of a job are claimed, not assigned: whoever is free takes the next
// one, the caller included. Which thread runs a part never changes its result
// (parts write disjoint outputs), and a worker that is late (asleep, or
// descheduled on a busy machine) leaves its parts to the others instead of
// holding everyone up.
class Pool {
public:
    Pool() : forks_(g_forks.load()) {}
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    ~Pool() {
        stop_.store(true);
        publish(0);
        for (std::thread& w : workers_) w.join();
    }

    unsigned forks() const { return forks_; }

    void run(int parts, ParallelTask task, void* ctx) {
        while (int(workers_.size()) < parts - 1) {
            const std::uint64_t seen = seq_;
            workers_.emplace_back([this, seen] { work(seen); });
        }
        task_ = task;
        ctx_ = ctx;
        done_.store(0, std::memory_order_relaxed);
        publish(parts);
        run_parts(seq_, false);
        // Parts still running elsewhere: spin, but give the core away after a
        // while in case their thread was descheduled.
        for (int spins = 0; done_.load(std::memory_order_acquire) != parts; ++spins) {
            if (spins < 4096)
                cpu_relax();
            else
                std::this_thread::yield();
        }
        if (helped_.exchange(false, std::memory_order_relaxed))
            g_multithreaded_regions.fetch_add(1, std::memory_order_relaxed);
    }

private:
    // Job word: sequence number (high 32 bits), part count (16), next unclaimed
    // part (16). One compare-and-swap claims a part of exactly this job.
    static std::uint64_t seq_of(std::uint64_t j) { return j >> 32; }
    static std::uint64_t parts_of(std::uint64_t j) { return (j >> 16) & 0xffff; }
    static std::uint64_t next_of(std::uint64_t j) { return j & 0xffff; }

    void publish(int parts) {
        job_.store((++seq_ << 32) | (std::uint64_t(parts) << 16), std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            wake_.notify_all();
        }
    }

    // Runs unclaimed parts of job seq until none is left.
    void run_parts(std::uint64_t seq, bool worker) {
        std::uint64_t j = job_.load(std::memory_order_acquire);
        while (seq_of(j) == seq && next_of(j) < parts_of(j)) {
            if (job_.compare_exchange_weak(j, j + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
                // Seen by run() through done_'s release/acquire.
                if (worker) helped_.store(true, std::memory_order_relaxed);
                task_(ctx_, int(next_of(j)));
                done_.fetch_add(1, std::memory_order_release);
                j = job_.load(std::memory_order_acquire);
            }
        }
    }

    // Waits for a job after `seen`: spins (yielding the core after kPauseMicros,
    // in case others want it), then sleeps. Returns the new job's sequence number.
    std::uint64_t next_job(std::uint64_t seen) {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        const auto yield_from = start + std::chrono::microseconds(kPauseMicros);
        const auto sleep_from = start + std::chrono::microseconds(kSpinMicros);
        bool yielding = false;
        for (int spins = 1;; ++spins) {
            const std::uint64_t s = seq_of(job_.load(std::memory_order_acquire));
            if (s != seen) return s;
            if (yielding) {
                std::this_thread::yield();
            } else {
                cpu_relax();
            }
            if (spins % 64 == 0 || yielding) {
                const auto now = clock::now();
                if (now >= sleep_from) break;
                yielding = now >= yield_from;
            }
        }
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        std::uint64_t s;
        wake_.wait(lock, [&] { return (s = seq_of(job_.load(std::memory_order_seq_cst))) != seen; });
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        return s;
    }

    // seen: the last job published before this worker was started.
    void work(std::uint64_t seen) {
        for (;;) {
            seen = next_job(seen);
            if (stop_.load()) return;
            run_parts(seen, true);
        }
    }

    const unsigned forks_;
    std::vector<std::thread> workers_;
    std::uint64_t seq_ = 0;  // the last job published; the owning thread's alone
    std::atomic<std::uint64_t> job_{0};
    std::atomic<int> done_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::atomic<bool> helped_{false};  // a worker ran a part of the current job
    // Written before a job is published, read by the threads that claim its parts.
    ParallelTask task_ = nullptr;
    void* ctx_ = nullptr;
    std::mutex mutex_;
    std::condition_variable wake_;
};

Pool& this_threads_pool() {
    thread_local std::unique_ptr<Pool> pool;
    if (!pool || pool->forks() != g_forks.load()) {
        // After a fork the old pool's threads are gone: it cannot be joined, so it leaks.
        if (pool) (void)pool.release();
        pool = std::make_unique<Pool>();
    }
    return *pool;
}

}  // namespace

int num_threads() {
#ifdef _OPENMP
    return g_threads.load(std::memory_order_relaxed);
#else
    return 1;
#endif
}

// The pool's job word holds the part count in 16 bits.
void set_num_threads(int n) { g_threads.store(std::clamp(n, 1, 65535), std::memory_order_relaxed); }

bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

long long multithreaded_regions() { return g_multithreaded_regions.load(std::memory_order_relaxed); }

void run_parallel(int nt, ParallelTask task, void* ctx) {
    if (nt <= 1) {
        if (nt == 1) task(ctx, 0);
        return;
    }
    this_threads_pool().run(nt, task, ctx);
}

}  // namespace fastmlp
