// host_library - a library hostile_host is linked against, whose constructor appends
// "host library constructor pid=<pid>" to $HOSTILE_HOST_SIDE_EFFECTS: it shows which processes
// run the constructors of the host executable's libraries (the host, and a clean helper that
// runs with the host executable as the loader's program).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

__attribute__((constructor)) static void host_library_constructor() {
    const char* path = getenv("HOSTILE_HOST_SIDE_EFFECTS");
    if (path == nullptr) return;
    const std::string line = "host library constructor pid=" + std::to_string(getpid()) + "\n";
    const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, line.data(), line.size()) < 0) {
    }
    close(fd);
}

extern "C" __attribute__((visibility("default"))) int host_library_linked() {
    return 1;
}
