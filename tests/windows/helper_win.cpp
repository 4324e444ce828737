// An external helper executable for Windows (HelperMode::external): all it does is run the
// helper the application asked for. report_target_win.exe's external_helper case starts it.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

int main(int argc, char** argv) { return crashdrop::run_helper(argc, argv); }
