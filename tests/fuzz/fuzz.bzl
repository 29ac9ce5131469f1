"""coffer_fuzz_test: a fuzz target run by tests/fuzz/fuzz_driver.cc as a cc_test.

    load("//tests/fuzz:fuzz.bzl", "coffer_fuzz_test")

    coffer_fuzz_test(
        name = "esplora_fuzz",
        srcs = ["esplora_fuzz.cc"],
        deps = ["//services/fetcher/chains/bitcoin:esplora"],
    )

makes `esplora_fuzz_target` (the target alone, defining LLVMFuzzerTestOneInput
and no main, for libFuzzer where clang has it) and the test `esplora_fuzz`.
"""

load("@rules_cc//cc:defs.bzl", "cc_library", "cc_test")

def coffer_fuzz_test(name, srcs, deps = [], size = "small", **kwargs):
    cc_library(
        name = name + "_target",
        testonly = True,
        srcs = srcs,
        deps = deps,
        alwayslink = True,
        visibility = ["//tests:__subpackages__"],
    )
    cc_test(
        name = name,
        size = size,
        deps = [
            ":" + name + "_target",
            "//tests/fuzz:fuzz_driver",
        ],
        **kwargs
    )
