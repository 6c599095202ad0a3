"""A repository rule that exposes system libraries to Bazel through pkg-config.

Each entry of `libraries` becomes a header-less cc_library in the generated repository whose
copts and linkopts are what `pkg-config --cflags` and `pkg-config --libs` print for its modules.
Headers come from the toolchain's built-in /usr/include. A module that pkg-config does not know
fails the fetch with the module's name and the hint to run scripts/setup.sh.
"""

def _pkg_config(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config {} failed: {}\nRun scripts/setup.sh to install the project's packages.".format(
            " ".join(args),
            result.stderr.strip(),
        ))
    return [f for f in result.stdout.strip().split(" ") if f]

def _starlark_list(items):
    return "[" + ", ".join(['"{}"'.format(i) for i in items]) + "]"

def _pkg_config_repository_impl(ctx):
    if not ctx.which("pkg-config"):
        fail("pkg-config is not installed. Run scripts/setup.sh.")
    build = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, modules in ctx.attr.libraries.items():
        # The toolchain already searches /usr/include; repeating it would demote system headers.
        cflags = [f for f in _pkg_config(ctx, ["--cflags"] + modules) if f != "-I/usr/include"]
        libs = _pkg_config(ctx, ["--libs"] + modules)
        build.append("cc_library(")
        build.append('    name = "{}",'.format(name))
        build.append("    copts = {},".format(_starlark_list(cflags)))
        build.append("    linkopts = {},".format(_starlark_list(libs)))
        build.append(")")
        build.append("")
    ctx.file("WORKSPACE", 'workspace(name = "{}")\n'.format(ctx.name))
    ctx.file("BUILD.bazel", "\n".join(build))

pkg_config_repository = repository_rule(
    implementation = _pkg_config_repository_impl,
    attrs = {
        "libraries": attr.string_list_dict(
            mandatory = True,
            doc = "Target name -> pkg-config module names.",
        ),
    },
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
