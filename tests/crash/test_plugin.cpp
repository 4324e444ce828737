// test_plugin.cpp - a shared library that crash_target dlopen()s and that crashes inside itself
// (a write to address 0x10), so the dump must list it as a module and symbolize its frames.
int* volatile g_bad = reinterpret_cast<int*>(0x10);

__attribute__((noinline)) void plugin_leaf() {
    *g_bad = 1;
    __asm__ volatile("");
}

extern "C" __attribute__((visibility("default"))) void crashdrop_test_plugin_crash(void (*before)()) {
    before();
    plugin_leaf();
    __asm__ volatile("");
}
