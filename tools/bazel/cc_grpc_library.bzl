"""cc_grpc_library: C++ messages and gRPC stubs from .proto files.

Runs Debian's protoc with grpc_cpp_plugin in a genrule, so the build needs
neither network nor a protobuf source tree.
"""

load("@rules_cc//cc:defs.bzl", "cc_library")

def _strip_proto(path):
    return path[:-len(".proto")]

def cc_grpc_library(name, srcs, deps = [], libs = [], grpc = True, headers_only = False, visibility = None):
    """Generates and compiles C++ for srcs.

    The package directory is the import root: a package at protos/ holding
    coffer/v1/x.proto is imported as "coffer/v1/x.proto" and its header
    included as "coffer/v1/x.pb.h".

    Args:
      name: the cc_library target.
      srcs: .proto files below this package.
      deps: other cc_grpc_library targets whose protos srcs import.
      libs: further cc_library dependencies (not protos).
      grpc: whether to generate service stubs.
      headers_only: compile none of the generated code, only offer its
        headers; for protos a system library already carries compiled (such
        as gRPC's reflection service in libgrpc++_reflection), where a second
        copy would register the same descriptors twice and abort at startup.
      visibility: as usual.
    """
    repo = native.repository_name()
    parts = ["external/" + repo[1:]] if repo != "@" else []
    if native.package_name():
        parts.append(native.package_name())
    import_dir = "/".join(parts) if parts else "."

    outs = []
    for src in srcs:
        stem = _strip_proto(src)
        outs += [stem + ".pb.h", stem + ".pb.cc"]
        if grpc:
            outs += [stem + ".grpc.pb.h", stem + ".grpc.pb.cc"]

    gen_dir = "$(GENDIR)" + ("/" + import_dir if import_dir != "." else "")
    cmd = " ".join([
        "protoc",
        "-I" + import_dir,
        "-I/usr/share/grpc-proto",
        "-I/usr/include",
        "--cpp_out=" + gen_dir,
    ] + ([
        "--grpc_out=" + gen_dir,
        "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
    ] if grpc else []) + [
        (import_dir + "/" + src) if import_dir != "." else src
        for src in srcs
    ])
    # The .proto files of this target and of every target it depends on, so
    # protoc finds imported files inside the sandbox.
    native.filegroup(
        name = name + "_protos",
        srcs = srcs + [dep + "_protos" for dep in deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_gen",
        srcs = [":" + name + "_protos"],
        outs = outs,
        cmd = cmd,
        message = "protoc " + " ".join(srcs),
    )
    cc_library(
        name = name,
        srcs = [] if headers_only else [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + libs + [
            "@system//:grpc",
            "@system//:protobuf",
        ],
        visibility = visibility,
    )
