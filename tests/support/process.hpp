// tests/support/process.hpp - runs a program in a child process with a time limit and collects
// its exit status, stdout and stderr. Used by every test that crashes something: the crash
// happens in the child, the test inspects the result from outside.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace testsupport {

struct run_result {
    bool started = false;
    bool timed_out = false;
    int status = 0;  // waitpid status
    std::string out;
    std::string err;
    double seconds = 0;

    bool signaled() const { return started && !timed_out && WIFSIGNALED(status); }
    int signal() const { return signaled() ? WTERMSIG(status) : 0; }
    bool exited() const { return started && !timed_out && WIFEXITED(status); }
    int exit_code() const { return exited() ? WEXITSTATUS(status) : -1; }
    bool core_dumped() const { return signaled() && WCOREDUMP(status); }
    std::string describe() const {
        std::string s = timed_out ? "timed out" : exited() ? "exit " + std::to_string(exit_code())
                                                : signaled() ? "signal " + std::to_string(signal())
                                                             : "did not start";
        return s + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
    }
};

inline double now_seconds() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

/// Runs argv[0] (searched in PATH) with extra "KEY=VALUE" environment entries, in `cwd` when
/// given. `in_child` runs in the child just before exec (e.g. to set rlimits). The child is
/// killed with SIGKILL after `timeout` seconds.
inline run_result run_process(const std::vector<std::string>& argv, double timeout,
                              const std::vector<std::string>& env = {}, const std::string& cwd = "",
                              const std::function<void()>& in_child = {}) {
    run_result r;
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return r;
    const double start = now_seconds();
    pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
        for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
        if (in_child) in_child();
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    r.started = true;
    close(out_pipe[1]);
    close(err_pipe[1]);
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    bool exited = false;
    char buf[65536];
    while (!exited || open_fds > 0) {
        const double left = timeout - (now_seconds() - start);
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            r.timed_out = true;
            break;
        }
        if (open_fds > 0) {
            int n = poll(fds, 2, static_cast<int>(left * 1000 < 50 ? left * 1000 + 1 : 50));
            if (n > 0) {
                for (int i = 0; i < 2; ++i) {
                    if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t got = read(fds[i].fd, buf, sizeof(buf));
                        if (got > 0) {
                            (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
                        } else {
                            close(fds[i].fd);
                            fds[i].fd = -1;
                            --open_fds;
                        }
                    }
                }
            }
        } else {
            usleep(1000);
        }
        if (!exited && waitpid(pid, &r.status, WNOHANG) == pid) exited = true;
    }
    for (auto& f : fds) {
        if (f.fd >= 0) close(f.fd);
    }
    if (r.timed_out) {
        waitpid(pid, &r.status, 0);
    } else if (!exited) {
        waitpid(pid, &r.status, 0);
    }
    r.seconds = now_seconds() - start;
    return r;
}

/// A process left running while the test goes on (a server); stopped when this goes away.
class background_process {
public:
    background_process() = default;
    background_process(const background_process&) = delete;
    background_process& operator=(const background_process&) = delete;
    background_process(background_process&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
    ~background_process() { stop(); }

    /// Starts argv with stdout and stderr appended to `log`.
    bool start(const std::vector<std::string>& argv, const std::string& log) {
        pid_ = fork();
        if (pid_ < 0) return false;
        if (pid_ == 0) {
            setpgid(0, 0);
            const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        return true;
    }
    pid_t pid() const { return pid_; }
    void stop() {
        if (pid_ <= 0) return;
        kill(-pid_, SIGTERM);
        kill(pid_, SIGTERM);
        for (int i = 0; i < 200; ++i) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                return;
            }
            usleep(10000);
        }
        kill(-pid_, SIGKILL);
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
};

/// Polls `done` until it is true or `timeout` seconds pass.
template <typename F>
inline bool eventually(double timeout, F&& done) {
    const double end = now_seconds() + timeout;
    for (;;) {
        if (done()) return true;
        if (now_seconds() > end) return false;
        usleep(20000);
    }
}

inline std::string read_text_file(const std::string& path) {
    std::string s;
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) return s;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
    fclose(f);
    return s;
}

inline std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
        if (c == sep) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(cur);
    return out;
}

inline std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}

inline std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace testsupport
