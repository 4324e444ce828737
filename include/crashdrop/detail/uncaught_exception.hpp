// crashdrop/detail/uncaught_exception.hpp - what a std::terminate handler can say about the
// exception that ended the program: its type (demangled) and, for a std::exception, what().
// Portable C++ plus the Itanium C++ ABI's <cxxabi.h>, which libstdc++ has on Linux and in
// mingw-w64 builds alike; each platform's terminate handler passes its own way of recording.
// Context: implementation TU; ordinary code (runs inside std::terminate, before the abort that
// the crash path captures; it may allocate: the demangled name comes from malloc).
#if CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED

CRASHDROP_NAMESPACE_BEGIN
namespace detail {

#if !defined(__cpp_exceptions) && defined(__GLIBCXX__)
// std::exception's type_info, named by its symbol because typeid is unavailable with -fno-rtti.
// Declared as bytes: declared as a type_info object, the compiler would know its dynamic type
// and call type_info::__do_catch non-virtually (an exact-type comparison).
#if defined(_WIN32)
extern const char crashdrop_std_exception_type_info[] __asm__("_ZTISt9exception");
#else
extern __attribute__((visibility("default"))) const char crashdrop_std_exception_type_info[] __asm__("_ZTISt9exception");
#endif
#endif

/// The uncaught exception's what(), when it is a std::exception; nullptr otherwise.
inline const char* current_exception_what(const std::type_info* type) {
#if defined(__cpp_exceptions)
    (void)type;
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return nullptr;
    }
#elif defined(__GLIBCXX__)
    // This translation unit cannot catch, so ask the C++ runtime directly: libstdc++'s
    // exception_ptr holds the thrown object's address, and type_info::__do_catch performs the
    // same derived-to-base test (and pointer adjustment) a catch clause would.
    if (type == nullptr) return nullptr;
    std::exception_ptr current = std::current_exception();
    static_assert(sizeof(current) == sizeof(void*), "libstdc++ exception_ptr is one pointer");
    void* object = nullptr;
    std::memcpy(&object, static_cast<const void*>(&current), sizeof(object));
    const auto* std_exception = reinterpret_cast<const std::type_info*>(crashdrop_std_exception_type_info);
    if (object == nullptr || !std_exception->__do_catch(type, &object, 1)) return nullptr;
    return static_cast<const std::exception*>(object)->what();
#else
    (void)type;
    return nullptr;
#endif
}

/// Reports the exception std::terminate is handling through note(key, value): "exception_type"
/// (demangled) and, for a std::exception, "exception_what"; with no exception in flight (a
/// direct std::terminate(), a pure virtual call in a GCC build), "terminate" says so.
inline void describe_current_exception(void (*note)(const char* key, const char* value)) {
#if defined(__GNUC__) || defined(__clang__)
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (type != nullptr) {
        int status = -1;
        char* demangled = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
        note("exception_type", status == 0 && demangled != nullptr ? demangled : type->name());
        std::free(demangled);
        if (const char* what = current_exception_what(type)) note("exception_what", what);
        return;
    }
#endif
    note("terminate", "std::terminate called without an active exception");
}

}  // namespace detail
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE && CRASHDROP_SUPPORTED
