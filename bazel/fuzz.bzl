"""Fuzz targets: one libFuzzer binary, its short CI run, and a corpus replay test.

    sef_cc_fuzzer(
        name = "decode_fuzzer",           # corpus: testdata/fuzz/decode_fuzzer/
        srcs = ["decode_fuzzer.cc"],
        deps = [...],
    )

defines
  :decode_fuzzer              the libFuzzer binary (tags manual + fuzz; only with --config=fuzz)
  :decode_fuzzer_run_test     runs it for `seconds` over its corpus (manual + fuzz; what
                              scripts/test.sh runs with --config=fuzz)
  :decode_fuzzer_corpus_test  replays every corpus file through the same code without libFuzzer
                              (any compiler, part of `bazel test //...`), so a seed or an input
                              that once crashed the target is checked on every run.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_test")

def sef_cc_fuzzer(name, srcs, deps, seconds = 5, fuzzer_args = [], data = [], corpus_test_size = "small"):
    corpus = "//testdata:fuzz_" + name
    corpus_dir = "testdata/fuzz/" + name
    cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps,
        data = data,
        linkopts = select(
            {"//bazel:fuzzing": ["-fsanitize=fuzzer"]},
            no_match_error = "fuzz targets build with --config=fuzz (clang and libFuzzer)",
        ),
        tags = ["manual", "fuzz"],
    )
    native.sh_test(
        name = name + "_run_test",
        size = "small",
        srcs = ["//bazel:run_fuzzer.sh"],
        args = ["$(location :%s)" % name, corpus_dir, str(seconds)] + fuzzer_args,
        data = [":" + name, corpus] + data,
        tags = ["manual", "fuzz"],
    )
    cc_test(
        name = name + "_corpus_test",
        size = corpus_test_size,
        srcs = srcs,
        deps = deps + ["//sef/base:fuzz_replay_main"],
        args = [corpus_dir],
        data = [corpus] + data,
    )
