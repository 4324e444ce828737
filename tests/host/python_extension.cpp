// python_extension - a CPython extension module (`import crashdrop_pyext`) that embeds crashdrop
// the way docs/plugins.md tells a plugin to: the single header, hidden visibility, a fork helper,
// started from Python code. tests/host/real_hosts.py builds it with plain g++ against
// single_include/crashdrop.hpp and python3-dev's headers, and runs it in `python3 -X faulthandler`.
//
//   start(database, only_this_module) -> "ok" or "<error>: <message>"
//   check_handlers()                  -> "ok" or "<error>: <message>"
//   crash()                           a write to 0x51 in crashdrop_pyext_crash_leaf (SIGSEGV)
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define CRASHDROP_IMPLEMENTATION
#include "crashdrop.hpp"

#include <cstdint>
#include <string>

namespace {

int* volatile g_bad = reinterpret_cast<int*>(static_cast<std::uintptr_t>(0x51));

PyObject* status_text(const crashdrop::Status& s) {
    const std::string text = s.ok() ? std::string("ok") : std::string(crashdrop::error_name(s.code())) + ": " + s.message();
    return PyUnicode_FromString(text.c_str());
}

PyObject* py_start(PyObject*, PyObject* args) {
    const char* database = nullptr;
    int only = 0;
    if (!PyArg_ParseTuple(args, "sp", &database, &only)) return nullptr;
    crashdrop::Options o;
    o.database_path = database;
    o.product_name = "crashdrop_pyext";
    o.product_version = CRASHDROP_VERSION_STRING;
    o.helper_mode = crashdrop::HelperMode::fork;  // an extension cannot re-run python
    o.only_this_module = only != 0;
    return status_text(crashdrop::start(o));
}

PyObject* py_check_handlers(PyObject*, PyObject*) { return status_text(crashdrop::check_handlers()); }

}  // namespace

// Plain names (outside the anonymous namespace), kept as separate frames: the dump must name them.
extern "C" __attribute__((noinline)) void crashdrop_pyext_crash_leaf() {
    *g_bad = 1;
    __asm__ volatile("");
}

extern "C" __attribute__((noinline)) PyObject* crashdrop_pyext_crash(PyObject*, PyObject*) {
    crashdrop_pyext_crash_leaf();
    __asm__ volatile("");
    Py_RETURN_NONE;
}

namespace {

PyMethodDef g_methods[] = {
    {"start", py_start, METH_VARARGS, "start(database, only_this_module) -> status text"},
    {"check_handlers", py_check_handlers, METH_NOARGS, "crashdrop::check_handlers() -> status text"},
    {"crash", crashdrop_pyext_crash, METH_NOARGS, "a SIGSEGV in this extension's own code"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef g_module = {PyModuleDef_HEAD_INIT, "crashdrop_pyext", nullptr, -1, g_methods,
                        nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_crashdrop_pyext() { return PyModule_Create(&g_module); }
