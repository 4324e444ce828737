// A DLL for the "crash in a loaded DLL" case: crash_target_win.exe loads it with LoadLibrary
// after start() and calls crashdrop_test_dll_divide(0), which divides by zero inside the DLL.
// The runner checks that the DLL is in the dump's module list, that the crash address lies in
// it, and that lldb names this function from the DLL's own DWARF. No crashdrop in here.
volatile int g_dll_divisor_zero = 0;

extern "C" __declspec(dllexport) __attribute__((noinline)) int crashdrop_test_dll_divide(int x) {
    return (1000 + x) / g_dll_divisor_zero;
}
