// An application built with a sanitizer (-fsanitize=thread, =address, =undefined) or linked
// -static, run by check_sanitized.py. One source, two translation units: compiled with
// CRASHDROP_IMPLEMENTATION it is crashdrop's implementation (built once per compiler, or with the
// application's sanitizer), without it the application.
//   sanitized_app threads <db>   start(), prints start()'s note, runs threads that report whether
//                                they have an alternate signal stack, writes a dump, then uses
//                                what needs the dynamic loader (check_handlers/reinstall with a
//                                foreign handler on top, only_this_module's module search) and stops
//   sanitized_app crash <db> [url]   start() (sending to url, if given), then a null write in a
//                                second thread
//   sanitized_app overflow <db> [prepare]   start(), then a stack overflow in a second thread
//                                (which first calls prepare_thread() if asked)
#if defined(CRASHDROP_IMPLEMENTATION)
#include "crashdrop.hpp"
#else
#include "crashdrop.hpp"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int k_threads = 6;

void foreign_handler(int) {}

int run_threads(const char* db) {
    crashdrop::Options options;
    options.database_path = db;
    options.product_name = "sanitized_app";
    const crashdrop::Status status = crashdrop::start(options);
    if (!status.ok()) {
        std::fprintf(stderr, "start failed: %s: %s\n", crashdrop::error_name(status.code()), status.message().c_str());
        return 1;
    }
    std::printf("note: %s\n", status.note().empty() ? "-" : status.note().c_str());
    std::printf("message: %s\n", status.message().empty() ? "-" : status.message().c_str());

    std::mutex lock;
    int ran = 0;
    int with_stack = 0;
    std::vector<std::thread> threads;
    for (int i = 0; i < k_threads; ++i) {
        threads.emplace_back([&lock, &ran, &with_stack, i] {
            stack_t current;
            const bool has = sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE);
            crashdrop::add_breadcrumb("thread " + std::to_string(i));
            std::lock_guard<std::mutex> hold(lock);
            ++ran;
            if (has) ++with_stack;
        });
    }
    for (std::thread& t : threads) t.join();
    std::printf("threads: %d ran, %d with an alternate stack\n", ran, with_stack);

    std::string path;
    const crashdrop::Status dumped = crashdrop::write_dump(&path);
    std::printf("write_dump: %s\n", dumped.ok() ? "ok" : dumped.message().c_str());

    // A foreign handler over crashdrop's: noticed, and crashdrop goes back on top (chaining).
    struct sigaction foreign;
    std::memset(&foreign, 0, sizeof(foreign));
    foreign.sa_handler = foreign_handler;
    sigaction(SIGBUS, &foreign, nullptr);
    const crashdrop::Status replaced = crashdrop::check_handlers();
    const crashdrop::Status back = crashdrop::reinstall();
    std::printf("check_handlers: %s, reinstall: %s, check again: %s\n", crashdrop::error_name(replaced.code()),
                crashdrop::error_name(back.code()), crashdrop::error_name(crashdrop::check_handlers().code()));
    crashdrop::stop();

    // only_this_module searches the loaded modules for the one holding crashdrop.
    options.only_this_module = true;
    options.helper_mode = crashdrop::HelperMode::none;
    const crashdrop::Status own = crashdrop::start(options);
    std::printf("only_this_module start: %s\n", own.ok() ? "ok" : own.message().c_str());
    crashdrop::stop();

    // The C API hands on the same note.
    crashdrop_options c_options;
    crashdrop_options_init(&c_options);
    c_options.database_path = db;
    c_options.helper_mode = CRASHDROP_HELPER_NONE;
    const int c_started = crashdrop_start(&c_options);
    const std::string c_note = crashdrop_start_note();
    std::printf("C start: %s, same note: %s\n", c_started == CRASHDROP_OK ? "ok" : crashdrop_last_error(),
                c_note == status.note() ? "yes" : "no");
    crashdrop_stop();
    return dumped.ok() && ran == k_threads ? 0 : 1;
}

volatile int g_depth_limit = 1 << 30;  // never reached: 1 KiB frames overflow any stack long before

int recurse(volatile char* previous, int depth) {
    if (depth > g_depth_limit) return 0;
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    if (previous != nullptr) frame[1] = previous[0];
    return recurse(frame, depth + 1) + frame[1];
}

int run_overflow(const char* db, bool prepare) {
    crashdrop::Options options;
    options.database_path = db;
    options.product_name = "sanitized_app";
    if (!crashdrop::start(options).ok()) return 1;
    std::thread overflowing([prepare] {
        if (prepare && !crashdrop::prepare_thread().ok()) std::fprintf(stderr, "prepare_thread failed\n");
        std::printf("%d\n", recurse(nullptr, 0));
    });
    overflowing.join();
    return 3;  // not reached
}

int run_crash(const char* db, const char* url) {
    crashdrop::Options options;
    options.database_path = db;
    if (url != nullptr) options.submit_url = url;
    options.product_name = "sanitized_app";
    const crashdrop::Status status = crashdrop::start(options);
    if (!status.ok()) {
        std::fprintf(stderr, "start failed: %s\n", status.message().c_str());
        return 1;
    }
    std::fflush(stdout);
    std::thread crasher([] {
        volatile int* volatile nowhere = nullptr;
        *nowhere = 42;
    });
    crasher.join();
    return 3;  // not reached
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "threads") == 0) return run_threads(argv[2]);
    if ((argc == 3 || argc == 4) && std::strcmp(argv[1], "crash") == 0) return run_crash(argv[2], argc == 4 ? argv[3] : nullptr);
    if ((argc == 3 || argc == 4) && std::strcmp(argv[1], "overflow") == 0) return run_overflow(argv[2], argc == 4);
    std::fprintf(stderr, "usage: sanitized_app threads <database> | crash <database> [url] | overflow <database> [prepare]\n");
    return 2;
}
#endif
