// slow_resolver - an LD_PRELOAD library for the upload tests: getaddrinfo() for a name ending in
// ".hang.invalid" behaves like a resolver whose name server never answers (it returns EAI_AGAIN
// after 30 s); every other name goes to the C library's getaddrinfo.
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>

extern "C" __attribute__((visibility("default"))) int getaddrinfo(const char* node, const char* service,
                                                                  const struct addrinfo* hints, struct addrinfo** res) {
    static const char k_suffix[] = ".hang.invalid";
    const size_t n = node != nullptr ? strlen(node) : 0;
    if (n >= sizeof(k_suffix) - 1 && strcmp(node + n - (sizeof(k_suffix) - 1), k_suffix) == 0) {
        sleep(30);
        return EAI_AGAIN;
    }
    using fn = int (*)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
    static const fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "getaddrinfo"));
    return real != nullptr ? real(node, service, hints, res) : EAI_FAIL;
}
