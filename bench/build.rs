//! Compiles the plain-C reference programs (`c/pipe_pingpong.c`, `c/futex_pingpong.c`) into a
//! static library that the benchmark links, and sets `cfg(bench_c_reference)` when that worked.
//! Without a C compiler the build goes on: cargo prints a warning, and the benchmark reports the
//! C reference as "skipped: no C compiler".

fn main() {
    println!("cargo::rustc-check-cfg=cfg(bench_c_reference)");
    println!("cargo::rerun-if-changed=c");
    let sources = ["c/pipe_pingpong.c", "c/futex_pingpong.c"];
    for source in sources {
        println!("cargo::rerun-if-changed={source}");
    }
    let mut build = cc::Build::new();
    build
        .files(sources)
        .define("_GNU_SOURCE", None)
        // The reference is the optimized C a careful programmer ships, in every cargo profile.
        .opt_level(2)
        .warnings(true)
        // -Wall -Wextra; a warning shows as a cargo warning (there are none).
        .extra_warnings(true);
    match build.try_compile("bench_c_reference") {
        Ok(()) => println!("cargo::rustc-cfg=bench_c_reference"),
        Err(err) => println!(
            "cargo::warning=bench: the C reference is skipped (no working C compiler: {err})"
        ),
    }
}
