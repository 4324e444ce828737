// blocking_ctor - a shared library whose constructor never finishes (it sleeps for ten minutes):
// a thread that dlopen()s it stays inside the dynamic loader, holding the loader's lock, for as
// long as a hostile_host test runs. It first creates the file $BLOCKING_CTOR_FLAG, so the host
// knows the thread is in there.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void block_in_constructor() {
    if (const char* flag = getenv("BLOCKING_CTOR_FLAG")) {
        const int fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    sleep(600);
}
