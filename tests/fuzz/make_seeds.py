#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz corpora (tests/fuzz/corpus/<target>/gen_*).

The dump seeds are small synthetic minidumps with every stream the readers and the amender look
at: a thread list (with a context and a stack), a module list whose module has no CodeView record
and whose PE image (with an RSDS record) is in the file itself, a memory list, an exception,
system info, Crashpad's info stream with annotations (one long value split into parts),
crashdrop's context stream and Breakpad's DSO debug stream. amend_fuzz serves the input itself as
the crashed process's memory at the low 32 bits of an address, so the module's base points at
that image. A real dump (bp_linux_inline.dmp, see corpus/README.md) is copied by hand.

Run from the repository: python3 tests/fuzz/make_seeds.py (rewrites the gen_* files only).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def align(data, n):
    return data + b"\0" * (-len(data) % n)


def utf16_string(text):
    raw = text.encode("utf-16-le")
    return struct.pack("<I", len(raw)) + raw + b"\0\0"


def utf8_string(text):
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw + b"\0"


def pe_image(pdb_name):
    """A PE32+ image's first page: DOS header, NT headers, a debug directory, an RSDS record."""
    img = bytearray(0x400)
    struct.pack_into("<H", img, 0, 0x5A4D)           # MZ
    struct.pack_into("<I", img, 0x3C, 0x40)          # e_lfanew
    struct.pack_into("<I", img, 0x40, 0x00004550)    # PE\0\0
    struct.pack_into("<H", img, 0x44, 0x8664)        # machine
    struct.pack_into("<H", img, 0x44 + 16, 240)      # SizeOfOptionalHeader
    optional = 0x44 + 20
    struct.pack_into("<H", img, optional, 0x20B)     # PE32+
    struct.pack_into("<I", img, optional + 108, 16)  # NumberOfRvaAndSizes
    struct.pack_into("<II", img, optional + 112 + 6 * 8, 0x200, 28)  # debug directory: rva, size
    record = struct.pack("<I", 0x53445352) + bytes(range(16)) + struct.pack("<I", 3) + pdb_name.encode() + b"\0"
    # IMAGE_DEBUG_DIRECTORY: characteristics, time, major, minor, type 2 (CodeView), size, rva, file offset
    struct.pack_into("<IIHHIIII", img, 0x200, 0, 0, 0, 0, 2, len(record), 0x240, 0x240)
    img[0x240:0x240 + len(record)] = record
    return bytes(img)


def synthetic_dump(arch=9, with_crashpad=True, split_directory=False):
    streams = []  # (type, bytes-builder(rva) -> bytes)
    body = bytearray(32)  # header, filled last

    def put(data, n=8):
        nonlocal body
        body = bytearray(align(bytes(body), n))
        rva = len(body)
        body += data
        return rva

    context_size = 0x4D0 if arch == 9 else 0x390
    context = bytearray(context_size)
    if arch == 9:
        struct.pack_into("<I", context, 0x30, 0x10001F)
        struct.pack_into("<Q", context, 0x98, 0x7FFC0000F000)  # rsp
        struct.pack_into("<Q", context, 0xF8, 0x7FF600001234)  # rip
    else:
        struct.pack_into("<I", context, 0, 0x400007)
        struct.pack_into("<Q", context, 0x100, 0x7FFC0000F000)  # sp
        struct.pack_into("<Q", context, 0x108, 0x7FF600001234)  # pc
    context_rva = put(bytes(context))
    stack = bytes(range(256))
    stack_rva = put(stack)
    threads = struct.pack("<I", 1) + struct.pack("<IIIIQQIIII", 4242, 0, 0, 0, 0x7000, 0x7FFC0000F000, len(stack), stack_rva,
                                                 context_size, context_rva)
    streams.append((3, put(threads), len(threads)))

    image = pe_image("crash_target_win.pdb")
    image_rva = put(image, 16)
    streams.append((0x46555A5A, image_rva, len(image)))  # "FUZZ": an unknown stream holding the image
    name_rva = put(utf16_string("C:\\app\\crash_target_win.exe"), 4)
    module = struct.pack("<QIIII", 0x7FF600000000 | image_rva, len(image), 0, 0, name_rva) + b"\0" * 52 + b"\0" * 32
    assert len(module) == 108
    modules = struct.pack("<I", 1) + module
    streams.append((4, put(modules, 4), len(modules)))

    memory = struct.pack("<I", 1) + struct.pack("<QII", 0x7FFC0000F000, len(stack), stack_rva)
    streams.append((5, put(memory, 4), len(memory)))
    exception = struct.pack("<II", 4242, 0) + struct.pack("<IIQQII", 0xC0000005, 0, 0, 0x7FF600001234, 2, 0) + struct.pack(
        "<15Q", 0, 0x10, *([0] * 13)) + struct.pack("<II", context_size, context_rva)
    streams.append((6, put(exception, 4), len(exception)))
    system = struct.pack("<HHHBBIIII", arch, 6, 0, 2, 1, 10, 0, 19041, 2) + b"\0" * 32
    streams.append((7, put(system, 4), len(system)))

    if with_crashpad:
        strings = [("product", "demo"), ("version", "1.2.3"), ("note__1", "first part "), ("note__2", "second part")]
        entries = []
        for key, value in strings:
            entries.append((put(utf8_string(key), 4), put(utf8_string(value), 4)))
        dictionary = struct.pack("<I", len(entries)) + b"".join(struct.pack("<II", k, v) for k, v in entries)
        dict_rva = put(dictionary, 4)
        info = struct.pack("<I", 1) + bytes(range(16)) + bytes(range(16, 32)) + struct.pack("<II", len(dictionary), dict_rva) + \
            struct.pack("<IIIQ", 0, 0, 0, 0)
        assert len(info) == 64
        streams.append((0x43500001, put(info, 4), len(info)))

    context_text = ("user.id=42\nuser.email=a@example.com\ntag.level=7\nattachment.0000=/tmp/app.log\n"
                    "breadcrumb.00000=1700000000123|info|ui|clicked %7C button\nbreadcrumb.2=1|fatal|x|y\n").encode()
    streams.append((0x43440002, put(context_text, 4), len(context_text)))

    # Breakpad's MDRawDebug64: version, map rva, count, then brk, ldbase, dynamic; one link_map entry.
    dso_name = put(utf16_string("/lib/libc.so.6"), 4)
    link_map = struct.pack("<QII Q", 0x7F0000000000, dso_name, 0, 0x7F0000001000)
    map_rva = put(link_map, 8)
    debug = struct.pack("<IIIIQQQ", 1, map_rva, 1, 0, 0, 0x7F0000000000, 0)
    streams.append((0x4767000A, put(debug, 8), len(debug)))

    directory = b"".join(struct.pack("<III", t, size, rva) for t, rva, size in streams)
    if split_directory:  # a directory entry of type 0 (unused) and the directory before the data's end
        directory = struct.pack("<III", 0, 0, 0) + directory
    dir_rva = put(directory, 4)
    count = len(directory) // 12
    struct.pack_into("<IIIIIIQ", body, 0, 0x504D444D, 0xA793, count, dir_rva, 0, 1700000000, 0)
    return bytes(body)


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    dumps = {
        "gen_amd64.dmp": synthetic_dump(9),
        "gen_arm64_no_crashpad.dmp": synthetic_dump(12, with_crashpad=False),
        "gen_unused_entry.dmp": synthetic_dump(9, split_directory=True),
    }
    for target in ("amend", "dump_reader", "minidump_file"):
        for name, data in dumps.items():
            write(target, name, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
