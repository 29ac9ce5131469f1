"""System libraries from Debian's packages, as cc_library targets.

A repository rule runs pkg-config at fetch time and writes one cc_library per
library, with its defines, include directories and link flags, so no BUILD
file carries a pasted link line.
"""

def _flags(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config %s failed: %s (run tools/bootstrap)" % (" ".join(args), result.stderr))
    return [f for f in result.stdout.strip().split(" ") if f]

def _pkg_config_repository_impl(ctx):
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, spec in ctx.attr.libraries.items():
        modules = spec.split(" ")
        cflags = _flags(ctx, ["--cflags"] + modules)
        libs = _flags(ctx, ["--libs"] + modules)
        defines = []
        includes = []
        for flag in cflags:
            if flag.startswith("-D"):
                defines.append(flag[2:])
            elif flag.startswith("-I"):
                path = flag[2:]
                if path in ("/usr/include", "/usr/include/x86_64-linux-gnu"):
                    continue

                # Bazel accepts only relative include paths: link the system
                # directory into this repository.
                link = "include_%s_%d" % (name, len(includes))
                ctx.symlink(path, link)
                includes.append(link)
        extra = ctx.attr.extra_linkopts.get(name, "")
        linkopts = libs + (extra.split(" ") if extra else [])
        build.append("cc_library(")
        build.append("    name = %r," % name)
        if includes:
            build.append("    hdrs = glob([%s]),"
                         % ", ".join(['"%s/**/*.h"' % i for i in includes]))
            build.append("    includes = %r," % includes)
        build.append("    defines = %r," % defines)
        build.append("    linkopts = %r," % linkopts)
        build.append(")")
        build.append("")
    for name, header in ctx.attr.header_only.items():
        # Header-only libraries without a pkg-config module (Boost): the
        # headers sit on the default include path; the target documents the
        # dependency and fails early when the package is missing.
        if not ctx.path(header).exists:
            fail("%s not found: %s is missing (run tools/bootstrap)" % (header, name))
        build.append("cc_library(name = %r)" % name)
        build.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(build))

pkg_config_repository = repository_rule(
    implementation = _pkg_config_repository_impl,
    attrs = {
        # target name -> space-separated pkg-config modules
        "libraries": attr.string_dict(mandatory = True),
        # target name -> extra linker flags pkg-config does not report
        "extra_linkopts": attr.string_dict(),
        # target name -> a header whose presence shows the library is installed
        "header_only": attr.string_dict(),
    },
    local = True,
)

def system_libraries():
    pkg_config_repository(
        name = "system",
        libraries = {
            "absl": " ".join([
                "absl_base",
                "absl_status",
                "absl_statusor",
                "absl_strings",
                "absl_str_format",
                "absl_synchronization",
                "absl_time",
                "absl_flags",
                "absl_flags_parse",
                "absl_flags_usage",
                "absl_random_random",
                "absl_hash",
                "absl_raw_hash_set",
                "absl_cleanup",
                "absl_span",
            ]),
            "protobuf": "protobuf",
            "grpc": "grpc++ grpc",
            "grpc_reflection": "grpc++",
            "spdlog": "spdlog fmt",
            "sqlcipher": "sqlcipher",
            "curl": "libcurl",
            "httplib": "cpp-httplib",
            "gtest": "gtest gmock",
            "gtest_main": "gtest gmock gmock_main",
            "openssl": "openssl",
            "rapidjson": "RapidJSON",
        },
        header_only = {
            "boost": "/usr/include/boost/multiprecision/cpp_int.hpp",
        },
        extra_linkopts = {
            "grpc_reflection": "-lgrpc++_reflection",
        },
    )
    native.new_local_repository(
        name = "grpc_proto",
        path = "/usr/share/grpc-proto",
        build_file = "@//tools/bazel:grpc_proto.BUILD",
    )
