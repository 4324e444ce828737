# crashdrop_add_symbols(<target>
#     [OUTPUT_DIR <dir>]          the symbols folder (default: CRASHDROP_SYMBOLS_DIR, else
#                                 ${CMAKE_BINARY_DIR}/symbols)
#     [SPLIT_DEBUG]               move the DWARF into <dir>/<name>/<debug id>/<name>.debug, strip the
#     [STRIP_UNNEEDED]            binary (--strip-debug; --strip-unneeded with STRIP_UNNEEDED) and
#                                 add a .gnu_debuglink
#     [DUMP_SYMS <path>]          Breakpad's dump_syms (default: CRASHDROP_DUMP_SYMS, found in
#                                 $ENV{CRASHDROP_MINIDUMP_TOOLS}, PATH or tools/setup.sh's cache)
#     [SENTRY_UPLOAD]             also `sentry-cli debug-files upload`, at build time, when
#     [SENTRY_ORG <org>]          SENTRY_AUTH_TOKEN (and SENTRY_ORG/SENTRY_PROJECT unless given
#     [SENTRY_PROJECT <project>]  here) are in the build's environment; skipped otherwise
#     [OPTIONAL])                 without dump_syms (or on Windows): a warning, no symbols, instead
#                                 of a configure error
#
# After <target> (an executable or shared library) links, tools/crashdrop_symbols.py runs
# dump_syms on it and writes <dir>/<module name>/<debug id>/<module name>.sym, where
# minidump_stackwalk and Socorro/Crashpad symbol servers look for it. See docs/symbols.md.
# Available after find_package(crashdrop) and after add_subdirectory()/FetchContent of crashdrop.
include_guard(GLOBAL)

# Where the script is: the installed package's config sets CRASHDROP_SYMBOLS_SCRIPT; in the
# source tree it is tools/ next to this cmake/. A global property, so that a project that added
# crashdrop with add_subdirectory() sees it too.
if(NOT CRASHDROP_SYMBOLS_SCRIPT)
  get_filename_component(CRASHDROP_SYMBOLS_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/../tools/crashdrop_symbols.py" ABSOLUTE)
endif()
set_property(GLOBAL PROPERTY CRASHDROP_SYMBOLS_SCRIPT "${CRASHDROP_SYMBOLS_SCRIPT}")

function(crashdrop_add_symbols target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "SPLIT_DEBUG;STRIP_UNNEEDED;SENTRY_UPLOAD;OPTIONAL"
                        "OUTPUT_DIR;DUMP_SYMS;SENTRY_ORG;SENTRY_PROJECT" "")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "crashdrop_add_symbols(${target}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "crashdrop_add_symbols(${target}): no such target")
  endif()
  get_target_property(type ${target} TYPE)
  if(NOT type MATCHES "^(EXECUTABLE|SHARED_LIBRARY|MODULE_LIBRARY)$")
    message(FATAL_ERROR "crashdrop_add_symbols(${target}): a ${type} has no module of its own to make symbols "
                        "for; give the executable or shared library it is linked into")
  endif()
  if(arg_OPTIONAL)
    set(level WARNING)
  else()
    set(level FATAL_ERROR)
  endif()
  if(CMAKE_SYSTEM_NAME STREQUAL "Windows")
    message(${level} "crashdrop_add_symbols(${target}): Breakpad's dump_syms reads ELF only; a Windows (PE) "
                     "binary gets no .sym (docs/symbols.md#windows-mingw)")
    return()
  endif()

  if(arg_DUMP_SYMS)
    set(dump_syms "${arg_DUMP_SYMS}")
  else()
    if(DEFINED ENV{CRASHDROP_CACHE})
      set(cache "$ENV{CRASHDROP_CACHE}")
    elseif(DEFINED ENV{XDG_CACHE_HOME})
      set(cache "$ENV{XDG_CACHE_HOME}/crashdrop")
    else()
      set(cache "$ENV{HOME}/.cache/crashdrop")
    endif()
    find_program(CRASHDROP_DUMP_SYMS dump_syms
      HINTS ENV CRASHDROP_MINIDUMP_TOOLS "${cache}/minidump-0.26.0/package/bin/linux-x64"
      DOC "Breakpad's dump_syms, for crashdrop_add_symbols()")
    set(dump_syms "${CRASHDROP_DUMP_SYMS}")
  endif()
  if(NOT dump_syms OR NOT EXISTS "${dump_syms}")
    message(${level} "crashdrop_add_symbols(${target}): Breakpad's dump_syms not found (looked at "
      "'${arg_DUMP_SYMS}', in $CRASHDROP_MINIDUMP_TOOLS, on PATH and in tools/setup.sh's cache). Run "
      "crashdrop's tools/setup.sh (it unpacks the npm package minidump@0.26.0), or pass DUMP_SYMS <path> or "
      "-DCRASHDROP_DUMP_SYMS=<path>.")
    return()
  endif()

  find_package(Python3 COMPONENTS Interpreter)
  if(NOT Python3_Interpreter_FOUND)
    message(${level} "crashdrop_add_symbols(${target}): needs python3 (it runs crashdrop_symbols.py)")
    return()
  endif()
  get_property(script GLOBAL PROPERTY CRASHDROP_SYMBOLS_SCRIPT)

  if(arg_OUTPUT_DIR)
    get_filename_component(out "${arg_OUTPUT_DIR}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  elseif(CRASHDROP_SYMBOLS_DIR)
    set(out "${CRASHDROP_SYMBOLS_DIR}")
  else()
    set(out "${CMAKE_BINARY_DIR}/symbols")
  endif()

  set(cmd "${Python3_EXECUTABLE}" "${script}" "$<TARGET_FILE:${target}>" --out "${out}" --dump-syms "${dump_syms}" --quiet)
  if(arg_SPLIT_DEBUG)
    list(APPEND cmd --split-debug)
    if(arg_STRIP_UNNEEDED)
      list(APPEND cmd --strip-unneeded)
    endif()
    if(CMAKE_OBJCOPY)
      list(APPEND cmd --objcopy "${CMAKE_OBJCOPY}")
    endif()
    if(CMAKE_STRIP)
      list(APPEND cmd --strip "${CMAKE_STRIP}")
    endif()
  endif()
  if(arg_SENTRY_UPLOAD)
    list(APPEND cmd --sentry-upload)
    if(arg_SENTRY_ORG)
      list(APPEND cmd --sentry-org "${arg_SENTRY_ORG}")
    endif()
    if(arg_SENTRY_PROJECT)
      list(APPEND cmd --sentry-project "${arg_SENTRY_PROJECT}")
    endif()
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${cmd}
    COMMENT "crashdrop: symbols of ${target} into ${out}"
    VERBATIM)
  set_property(TARGET ${target} PROPERTY CRASHDROP_SYMBOLS_DIR "${out}")
endfunction()
