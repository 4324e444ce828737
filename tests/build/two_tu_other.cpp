// The second translation unit: declarations only (no <signal.h>, no implementation).
#include "crashdrop.hpp"

#include <string>

bool other_tu_write_dump(std::string* path) {
    return crashdrop::is_started() && crashdrop::write_dump(path).ok();
}
