# The programs the crash tests make crash: crash_target (three builds), the plugins it loads,
# and, in a cross build, fixture_target (the program behind tests/fixtures/aarch64). Included
# by tests/CMakeLists.txt, and on its own by the aarch64 cross build that makes only these
# (CRASHDROP_CRASH_TARGETS_ONLY=ON, the ExternalProject in tests/CMakeLists.txt): they need
# nothing but the library and the C/C++ runtime, so they build for any architecture crashdrop
# supports. Built binaries land in CMAKE_CURRENT_BINARY_DIR of the includer.

# -O1 with sibling calls off: frames stay as written, as in a normal release-with-debug build.
set(CRASH_TARGET_FLAGS -g -O1 -fno-optimize-sibling-calls -fno-omit-frame-pointer)
set(_crash_dir ${CMAKE_CURRENT_LIST_DIR})

add_library(crashdrop_test_plugin MODULE ${_crash_dir}/test_plugin.cpp)
target_compile_options(crashdrop_test_plugin PRIVATE ${CRASH_TARGET_FLAGS})
set_target_properties(crashdrop_test_plugin PROPERTIES PREFIX "lib" OUTPUT_NAME crashdrop_test_plugin)

# The same plugin linked without a build-id note: its id must come from hashing .text.
add_library(crashdrop_test_plugin_nobuildid MODULE ${_crash_dir}/test_plugin.cpp)
target_compile_options(crashdrop_test_plugin_nobuildid PRIVATE ${CRASH_TARGET_FLAGS})
target_link_options(crashdrop_test_plugin_nobuildid PRIVATE -Wl,--build-id=none)
set_target_properties(crashdrop_test_plugin_nobuildid PROPERTIES PREFIX "lib" OUTPUT_NAME crashdrop_test_plugin_nobuildid)

# A library without a build-id note whose .text is larger than a page (the plugin above has a
# .text of a few hundred bytes): its id is where Breakpad's rule and Sentry's CLI agree.
add_library(crashdrop_test_bigtext_nobuildid MODULE ${_crash_dir}/bigtext_plugin.cpp)
target_compile_options(crashdrop_test_bigtext_nobuildid PRIVATE ${CRASH_TARGET_FLAGS})
target_link_options(crashdrop_test_bigtext_nobuildid PRIVATE -Wl,--build-id=none)
set_target_properties(crashdrop_test_bigtext_nobuildid PROPERTIES PREFIX "lib" OUTPUT_NAME crashdrop_test_bigtext_nobuildid)

add_library(crashdrop_test_thrower OBJECT ${_crash_dir}/thrower.cpp)
target_compile_options(crashdrop_test_thrower PRIVATE ${CRASH_TARGET_FLAGS})

function(crashdrop_crash_target name)
  add_executable(${name} ${_crash_dir}/crash_target.cpp $<TARGET_OBJECTS:crashdrop_test_thrower>)
  target_link_libraries(${name} PRIVATE crashdrop::crashdrop)
  target_compile_options(${name} PRIVATE ${CRASH_TARGET_FLAGS} ${ARGN})
endfunction()
crashdrop_crash_target(crash_target)
crashdrop_crash_target(crash_target_noexc -fno-exceptions -fno-rtti)
crashdrop_crash_target(crash_target_malloc_guard)
target_compile_definitions(crash_target_malloc_guard PRIVATE CRASHDROP_TEST_MALLOC_GUARD)
# With the library's test hooks (CRASHDROP_TEST_HOOKS: a helper that stalls on request) and the
# unload hook an executable does not get by default (stop() from an ELF destructor at exit).
crashdrop_crash_target(crash_target_hooks)
target_compile_definitions(crash_target_hooks PRIVATE CRASHDROP_TEST_HOOKS CRASHDROP_UNLOAD_HOOK=1)

# A host that recovers from its own faults (JIT-style code, siglongjmp, seccomp traps, a fault
# filter): faults it survives must give no report.
add_executable(fault_host ${_crash_dir}/fault_host.cpp)
target_link_libraries(fault_host PRIVATE crashdrop::crashdrop)
target_compile_options(fault_host PRIVATE ${CRASH_TARGET_FLAGS})

# A small program with one thread and no helper process: its aarch64 dump is a test fixture
# (tools/make_aarch64_fixture.sh). Only the cross build needs it.
if(CRASHDROP_CRASH_TARGETS_ONLY)
  add_executable(fixture_target ${_crash_dir}/fixture_target.cpp)
  target_link_libraries(fixture_target PRIVATE crashdrop::crashdrop)
  target_compile_options(fixture_target PRIVATE ${CRASH_TARGET_FLAGS})
endif()
