// crashdrop/minidump/format.hpp - the minidump file format: wire structs, stream numbers and
// constants. Field order follows Microsoft's DbgHelp (MS name in each comment); every struct
// carries a static_assert of its size. Knows no operating system and no CPU: the thread
// context layouts live in context_amd64.hpp / context_arm64.hpp.
// Context: implementation TU; plain data, used on the crash path.
#if CRASHDROP_DETAIL_IMPL_ACTIVE

CRASHDROP_NAMESPACE_BEGIN
namespace minidump {

// Microsoft declares these with 4-byte packing: 64-bit fields may sit at 4-byte offsets.
#pragma pack(push, 4)

/// RVA: offset from the start of the file (so one dump is < 4 GiB).
using rva32 = std::uint32_t;

constexpr std::uint32_t k_signature = 0x504d444du;  // "MDMP"
constexpr std::uint32_t k_version = 0xa793u;         // MINIDUMP_VERSION (low 16 bits)

/// MINIDUMP_HEADER
struct header {
    std::uint32_t signature;
    std::uint32_t version;
    std::uint32_t stream_count;         // NumberOfStreams
    rva32 stream_directory_rva;         // StreamDirectoryRva
    std::uint32_t checksum;             // CheckSum (0: none)
    std::uint32_t time_date_stamp;      // TimeDateStamp (time_t)
    std::uint64_t flags;                // Flags (MINIDUMP_TYPE)
};
static_assert(sizeof(header) == 32, "MINIDUMP_HEADER");

/// MINIDUMP_LOCATION_DESCRIPTOR
struct location_descriptor {
    std::uint32_t data_size;  // DataSize
    rva32 rva;                // Rva
};
static_assert(sizeof(location_descriptor) == 8, "MINIDUMP_LOCATION_DESCRIPTOR");

/// MINIDUMP_DIRECTORY
struct directory {
    std::uint32_t stream_type;     // StreamType
    location_descriptor location;  // Location
};
static_assert(sizeof(directory) == 12, "MINIDUMP_DIRECTORY");

/// MINIDUMP_MEMORY_DESCRIPTOR
struct memory_descriptor {
    std::uint64_t start_of_memory_range;  // StartOfMemoryRange
    location_descriptor memory;           // Memory
};
static_assert(sizeof(memory_descriptor) == 16, "MINIDUMP_MEMORY_DESCRIPTOR");

/// Stream types (MINIDUMP_STREAM_TYPE and the Breakpad/Crashpad extensions).
enum stream_type : std::uint32_t {
    stream_unused = 0,
    stream_thread_list = 3,        // ThreadListStream
    stream_module_list = 4,        // ModuleListStream
    stream_memory_list = 5,        // MemoryListStream
    stream_exception = 6,          // ExceptionStream
    stream_system_info = 7,        // SystemInfoStream
    stream_memory64_list = 9,      // Memory64ListStream
    stream_comment_a = 10,         // CommentStreamA
    stream_comment_w = 11,         // CommentStreamW
    stream_handle_data = 12,       // HandleDataStream
    stream_unloaded_module_list = 14,  // UnloadedModuleListStream
    stream_misc_info = 15,         // MiscInfoStream
    stream_memory_info_list = 16,  // MemoryInfoListStream
    stream_thread_info_list = 17,  // ThreadInfoListStream
    stream_token = 19,             // TokenStream
    stream_system_memory_info = 21,   // SystemMemoryInfoStream
    stream_process_vm_counters = 22,  // ProcessVmCountersStream
    stream_thread_name_list = 24,  // ThreadNamesStream
    // Wine's dbghelp: the host (ELF) modules, laid out as a MINIDUMP_MODULE_LIST.
    stream_wine_host_module_list = 0xfff0u,
    // Breakpad's Linux streams ("Gg" = 0x4767).
    stream_linux_cpu_info = 0x47670003u,     // /proc/cpuinfo text
    stream_linux_proc_status = 0x47670004u,  // /proc/PID/status text
    stream_linux_lsb_release = 0x47670005u,  // /etc/lsb-release (or os-release) text
    stream_linux_cmd_line = 0x47670006u,     // /proc/PID/cmdline bytes
    stream_linux_environ = 0x47670007u,      // /proc/PID/environ bytes
    stream_linux_auxv = 0x47670008u,         // /proc/PID/auxv bytes
    stream_linux_maps = 0x47670009u,         // /proc/PID/maps text
    stream_linux_dso_debug = 0x4767000au,    // debug64 + dynamic section
    // Crashpad's info stream: report/client ids and the simple annotations.
    stream_crashpad_info = 0x43500001u,
    // crashdrop's own: UTF-8 text, one line per thing the writer could not capture.
    stream_crashdrop_writer_errors = 0x43440001u,  // "CD" 0x0001
    stream_crashdrop_context = 0x43440002u,        // user, tags, attachments, breadcrumbs (text)
};

/// MINIDUMP_THREAD
struct thread {
    std::uint32_t thread_id;             // ThreadId
    std::uint32_t suspend_count;         // SuspendCount
    std::uint32_t priority_class;        // PriorityClass
    std::uint32_t priority;              // Priority
    std::uint64_t teb;                   // Teb (Linux: the thread pointer)
    memory_descriptor stack;             // Stack
    location_descriptor thread_context;  // ThreadContext
};
static_assert(sizeof(thread) == 48, "MINIDUMP_THREAD");

/// MINIDUMP_THREAD_NAME
struct thread_name {
    std::uint32_t thread_id;            // ThreadId
    std::uint64_t rva_of_thread_name;   // RvaOfThreadName (64-bit RVA to a MINIDUMP_STRING)
};
static_assert(sizeof(thread_name) == 12, "MINIDUMP_THREAD_NAME");

/// VS_FIXEDFILEINFO (all zero on Linux)
struct fixed_file_info {
    std::uint32_t signature;
    std::uint32_t struct_version;
    std::uint32_t file_version_hi;
    std::uint32_t file_version_lo;
    std::uint32_t product_version_hi;
    std::uint32_t product_version_lo;
    std::uint32_t file_flags_mask;
    std::uint32_t file_flags;
    std::uint32_t file_os;
    std::uint32_t file_type;
    std::uint32_t file_subtype;
    std::uint32_t file_date_hi;
    std::uint32_t file_date_lo;
};
static_assert(sizeof(fixed_file_info) == 52, "VS_FIXEDFILEINFO");

/// MINIDUMP_MODULE
struct module {
    std::uint64_t base_of_image;      // BaseOfImage
    std::uint32_t size_of_image;      // SizeOfImage
    std::uint32_t checksum;           // CheckSum
    std::uint32_t time_date_stamp;    // TimeDateStamp
    rva32 module_name_rva;            // ModuleNameRva (MINIDUMP_STRING)
    fixed_file_info version_info;     // VersionInfo
    location_descriptor cv_record;    // CvRecord
    location_descriptor misc_record;  // MiscRecord
    std::uint64_t reserved0;
    std::uint64_t reserved1;
};
static_assert(sizeof(module) == 108, "MINIDUMP_MODULE");

/// CodeView record for ELF modules (Breakpad's "BpEL"): signature then the raw build id.
constexpr std::uint32_t k_cv_signature_elf = 0x4270454cu;  // bytes 4C 45 70 42
/// CodeView PDB 7.0 record signature ("RSDS"), used by Windows modules.
constexpr std::uint32_t k_cv_signature_pdb70 = 0x53445352u;

/// MINIDUMP_EXCEPTION
struct exception_record {
    std::uint32_t exception_code;           // ExceptionCode (Linux: signal number)
    std::uint32_t exception_flags;          // ExceptionFlags (Linux: si_code)
    std::uint64_t exception_record;         // ExceptionRecord
    std::uint64_t exception_address;        // ExceptionAddress (Linux: si_addr)
    std::uint32_t number_parameters;        // NumberParameters
    std::uint32_t unused_alignment;         // __unusedAlignment
    std::uint64_t exception_information[15];  // ExceptionInformation
};
static_assert(sizeof(exception_record) == 152, "MINIDUMP_EXCEPTION");

/// MINIDUMP_EXCEPTION_STREAM
struct exception_stream {
    std::uint32_t thread_id;             // ThreadId
    std::uint32_t alignment;             // __alignment
    exception_record exception;          // ExceptionRecord
    location_descriptor thread_context;  // ThreadContext
};
static_assert(sizeof(exception_stream) == 168, "MINIDUMP_EXCEPTION_STREAM");

/// Breakpad's exception code for a dump requested by the application (no crash).
constexpr std::uint32_t k_exception_dump_requested = 0xffffffffu;
/// The code crashdrop's Windows write_dump() gives its dump (Crashpad's code for a simulated
/// crash; platform/windows/state_windows.hpp): also a requested dump.
constexpr std::uint32_t k_exception_dump_requested_windows = 0x0517A7EDu;
/// crashdrop's codes for reports of the helper (issue 14), both platforms: a hang (the dump of
/// a live process whose watched thread stopped calling heartbeat(); the exception thread is the
/// watched one) and an abnormal exit whose cause has no code of its own (a process that died by
/// a signal has that signal's number, as a crash has). Bytes of "HANG" / "EXIT".
constexpr std::uint32_t k_exception_hang = 0x48414E47u;
constexpr std::uint32_t k_exception_abnormal_exit = 0x45584954u;

/// The Crashpad annotation every dump crashdrop writes carries with what the dump is (`crash`,
/// `requested`, `hang`, `abnormal_exit`: report_kind_name in database/metadata.hpp), so a dump
/// read alone says it. The writer's entry is the only one: an application annotation of this
/// name is refused (context/context_ops.hpp) and skipped by the writers.
constexpr const char k_annotation_crash_kind[] = "crash_kind";

/// CPU_INFORMATION (24 bytes): the x86 arm, Breakpad's ARM arm, or processor_features
union cpu_information {
    struct {
        std::uint32_t vendor_id[3];               // VendorId (cpuid 0: ebx, edx, ecx)
        std::uint32_t version_information;        // VersionInformation (cpuid 1: eax)
        std::uint32_t feature_information;        // FeatureInformation (cpuid 1: edx)
        std::uint32_t amd_extended_cpu_features;  // AMDExtendedCpuFeatures
    } x86;
    struct {
        std::uint32_t cpuid;       // MIDR_EL1 layout: implementer, variant, arch, part, revision
        std::uint32_t elf_hwcaps;  // AT_HWCAP
    } arm;
    struct {
        std::uint64_t processor_features[2];      // ProcessorFeatures
    } other;
};
static_assert(sizeof(cpu_information) == 24, "CPU_INFORMATION");

/// MINIDUMP_SYSTEM_INFO
struct system_info {
    std::uint16_t processor_architecture;  // ProcessorArchitecture
    std::uint16_t processor_level;         // ProcessorLevel
    std::uint16_t processor_revision;      // ProcessorRevision
    std::uint8_t number_of_processors;     // NumberOfProcessors
    std::uint8_t product_type;             // ProductType
    std::uint32_t major_version;           // MajorVersion
    std::uint32_t minor_version;           // MinorVersion
    std::uint32_t build_number;            // BuildNumber
    std::uint32_t platform_id;             // PlatformId
    rva32 csd_version_rva;                 // CSDVersionRva (MINIDUMP_STRING)
    std::uint16_t suite_mask;              // SuiteMask
    std::uint16_t reserved2;               // Reserved2
    cpu_information cpu;                   // Cpu
};
static_assert(sizeof(system_info) == 56, "MINIDUMP_SYSTEM_INFO");

constexpr std::uint16_t k_arch_amd64 = 9;    // PROCESSOR_ARCHITECTURE_AMD64
constexpr std::uint16_t k_arch_arm64 = 12;   // PROCESSOR_ARCHITECTURE_ARM64
constexpr std::uint32_t k_platform_linux = 0x8201u;    // Breakpad's MD_OS_LINUX
constexpr std::uint32_t k_platform_windows = 2u;       // VER_PLATFORM_WIN32_NT

/// MINIDUMP_MISC_INFO
struct misc_info {
    std::uint32_t size_of_info;         // SizeOfInfo
    std::uint32_t flags1;               // Flags1
    std::uint32_t process_id;           // ProcessId
    std::uint32_t process_create_time;  // ProcessCreateTime (time_t)
    std::uint32_t process_user_time;    // ProcessUserTime (seconds)
    std::uint32_t process_kernel_time;  // ProcessKernelTime (seconds)
};
static_assert(sizeof(misc_info) == 24, "MINIDUMP_MISC_INFO");
constexpr std::uint32_t k_misc1_process_id = 0x1u;     // MINIDUMP_MISC1_PROCESS_ID
constexpr std::uint32_t k_misc1_process_times = 0x2u;  // MINIDUMP_MISC1_PROCESS_TIMES

/// MDGUID / GUID
struct guid {
    std::uint32_t data1;
    std::uint16_t data2;
    std::uint16_t data3;
    std::uint8_t data4[8];
};
static_assert(sizeof(guid) == 16, "GUID");

/// Crashpad's MinidumpCrashpadInfo (stream_crashpad_info), version 1.
struct crashpad_info {
    std::uint32_t version;                   // 1
    guid report_id;
    guid client_id;
    location_descriptor simple_annotations;  // -> simple_string_dictionary
    location_descriptor module_list;         // -> MinidumpModuleCrashpadInfoList (unused: 0)
    std::uint32_t reserved;
    std::uint64_t address_mask;
};
static_assert(sizeof(crashpad_info) == 64, "MinidumpCrashpadInfo");

/// Crashpad's MinidumpSimpleStringDictionaryEntry: RVAs of two MinidumpUTF8String.
struct simple_string_dictionary_entry {
    rva32 key;
    rva32 value;
};
static_assert(sizeof(simple_string_dictionary_entry) == 8, "MinidumpSimpleStringDictionaryEntry");

#pragma pack(pop)

// Breakpad's DSO debug records keep natural alignment (they are not packed).

/// MDRawLinkMap64: one entry of the dynamic linker's link_map list.
struct link_map64 {
    std::uint64_t addr;  // l_addr (load bias)
    rva32 name;          // MINIDUMP_STRING with l_name
    std::uint32_t padding;
    std::uint64_t ld;    // l_ld (the module's dynamic section)
};
static_assert(sizeof(link_map64) == 24, "MDRawLinkMap64");

/// MDRawDebug64: r_debug. The stream holds this followed by the executable's dynamic section.
struct debug64 {
    std::uint32_t version;    // r_version
    rva32 map;                // array of link_map64
    std::uint32_t dso_count;
    std::uint32_t padding;
    std::uint64_t brk;        // r_brk
    std::uint64_t ldbase;     // r_ldbase
    std::uint64_t dynamic;    // address of the executable's _DYNAMIC
};
static_assert(sizeof(debug64) == 40, "MDRawDebug64");

}  // namespace minidump
CRASHDROP_NAMESPACE_END

#endif  // CRASHDROP_DETAIL_IMPL_ACTIVE
