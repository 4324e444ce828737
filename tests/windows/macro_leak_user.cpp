// A TU that sets NOMINMAX itself before the include: it must still be set afterwards.
#define NOMINMAX
#include "crashdrop.hpp"
#ifndef NOMINMAX
#error "crashdrop.hpp undefined the user's NOMINMAX"
#endif
int user_macros_tu() { return 1; }
