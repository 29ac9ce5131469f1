"""integration_test: an integration test and its secure twin.

The secure twin (NAME_secure) runs the same test binary's code with
COFFER_TEST_SECURE=1, under which the harness (integration_test_base.h)
gives every service mutual TLS and a tokens file, the scheduler a
certificate and an admin token, and the test's own clients both: the whole
integration suite runs once in the clear and once with mTLS and tokens on
(issue 8). The sources compile once, into a library both tests link.
"""

load("@rules_cc//cc:defs.bzl", "cc_library", "cc_test")

def integration_test(name, srcs, deps, size = "medium", data = [], tags = [], secure_twin = True):
    """A cc_test NAME and, unless secure_twin is False, NAME_secure.

    Args:
      name: the plain test's name.
      srcs: the test's sources.
      deps: its dependencies (gtest_main among them).
      size: both tests' size.
      data: both tests' data.
      tags: both tests' tags; the twin adds "secure".
      secure_twin: False for a test that sets up TLS or tokens itself.
    """
    cc_library(
        name = name + "_cases",
        testonly = True,
        srcs = srcs,
        deps = deps,
        # The cases register themselves from static initializers that
        # nothing references: keep every object.
        alwayslink = True,
    )
    cc_test(
        name = name,
        size = size,
        data = data,
        tags = tags,
        deps = [":" + name + "_cases"],
    )
    if secure_twin:
        cc_test(
            name = name + "_secure",
            size = size,
            data = data,
            env = {"COFFER_TEST_SECURE": "1"},
            tags = tags + ["secure"],
            deps = [":" + name + "_cases"],
        )
