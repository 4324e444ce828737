// The Windows parent of a crash case: starts the program given on its command line with
// CreateProcessW, waits for it, and prints the child's full 32-bit exit code,
//     child exit code 0xC0000005
// which Linux cannot see (a wine process's status holds only the low byte). It then exits with
// the same code, so the low byte still reaches the runner too.
//     exit_code_win.exe <program.exe> [arguments...]
// Exit codes of its own: 0x70 bad usage, 0x71 CreateProcess failed, 0x72 the child did not end
// within 90 s (it is terminated).
#include <windows.h>

#include <cstdio>
#include <string>

namespace {

/// Appends one argument, quoted the way CommandLineToArgvW and the CRT split it again.
void append_argument(std::wstring* line, const wchar_t* arg) {
    if (!line->empty()) line->push_back(L' ');
    line->push_back(L'"');
    std::size_t backslashes = 0;
    for (const wchar_t* p = arg; *p != 0; ++p) {
        if (*p == L'\\') {
            ++backslashes;
            continue;
        }
        if (*p == L'"') backslashes = backslashes * 2 + 1;  // escape them and the quote
        line->append(backslashes, L'\\');
        backslashes = 0;
        line->push_back(*p);
    }
    line->append(backslashes * 2, L'\\');  // before the closing quote
    line->push_back(L'"');
}

}  // namespace

int main() {
    int argc = 0;
    wchar_t** argv = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (argv == nullptr || argc < 2) {
        std::fprintf(stderr, "usage: exit_code_win.exe <program.exe> [arguments...]\n");
        return 0x70;
    }
    std::wstring line;
    for (int i = 1; i < argc; ++i) append_argument(&line, argv[i]);

    STARTUPINFOW si = {};
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi = {};
    std::fflush(stdout);
    if (!CreateProcessW(argv[1], &line[0], nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) {
        std::fprintf(stderr, "CreateProcess failed: error %lu\n", GetLastError());
        return 0x71;
    }
    CloseHandle(pi.hThread);
    if (WaitForSingleObject(pi.hProcess, 90000) != WAIT_OBJECT_0) {
        std::fprintf(stderr, "the child did not end within 90 s\n");
        TerminateProcess(pi.hProcess, 0x72);
        return 0x72;
    }
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    std::printf("child exit code 0x%08lX\n", static_cast<unsigned long>(code));
    std::fflush(stdout);
    ExitProcess(code);
}
