// needs_host - linked into hostile_plugin_needs_host together with hostile_plugin's objects: a
// reference to data that only its host executable (hostile_host, which exports it) defines, as a
// Python extension module refers to `_Py_NoneStruct`. The dynamic loader resolves it when it
// loads the object (a data reference is never bound lazily), so the object cannot be loaded
// without its host: `ld.so --preload <it> libdl.so.2` fails.
extern "C" int hostile_host_data;

extern "C" __attribute__((visibility("default"))) int hostile_plugin_host_data() {
    return hostile_host_data;
}
