// crashdrop_helper - an external helper executable (HelperMode::external). An application that
// cannot re-run itself as its helper (and where fork mode does not fit) ships this next to
// itself and sets Options::helper_path to it. Everything it needs - the database, the upload
// URL and format, the shared crash buffer - comes from the application that starts it.
#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

int main(int argc, char** argv) { return crashdrop::run_helper(argc, argv); }
