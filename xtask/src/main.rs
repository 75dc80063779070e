//! `cargo xtask <command>`: the project's automation, in Rust so that it runs wherever cargo
//! does.
//!
//! - `ci`: everything CI checks, in order: formatting, clippy, the tests, rustdoc with warnings
//!   denied, the book build, the book's includes, every page in headless Chromium, and a leak
//!   check around all of it.
//! - `book-includes`: only the check that every `{{#include}}` in the book resolves to text.
//! - `book-browser`: only the check of the built book's pages in headless Chromium.
//! - `leaks`: lists the System V objects and FIFOs that the leak check would see now.

#![forbid(unsafe_code)]

mod browser;
mod includes;
mod leaks;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let root = workspace_root();
    let outcome = match command.as_deref() {
        Some("ci") => ci(&root),
        Some("book-includes") => includes::check(&root),
        Some("book-browser") => browser::check(&root),
        Some("leaks") => leaks::snapshot(&root).map(|objects| {
            for object in objects {
                println!("{object}");
            }
        }),
        _ => {
            eprintln!("usage: cargo xtask <ci | book-includes | book-browser | leaks>");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("xtask: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn ci(root: &Path) -> Result<(), String> {
    let before = leaks::snapshot(root)?;
    let checks = run_checks(root);
    // Looked at whether or not the checks passed: a failing test is the likeliest to leak.
    let after = leaks::snapshot(root)?;
    let leaked: Vec<&String> = after.difference(&before).collect();
    if !leaked.is_empty() {
        let listed: Vec<&str> = leaked.iter().map(|line| line.as_str()).collect();
        let problem = format!(
            "the run left these behind (IPC objects, FIFOs or processes that did not exist \
             before it):\n  {}",
            listed.join("\n  ")
        );
        return Err(match checks {
            Ok(()) => problem,
            Err(failed) => format!("{failed}\nxtask: {problem}"),
        });
    }
    checks?;
    println!("==> leak check: nothing new in /proc/sysvipc, among the FIFOs or the processes");
    Ok(())
}

fn run_checks(root: &Path) -> Result<(), String> {
    cargo(root, &["fmt", "--all", "--check"])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    cargo(root, &["test", "--workspace"])?;
    // Man-page links and intra-doc links live in doc comments: broken ones fail the run.
    cargo_with(
        root,
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    build_book(root)?;
    println!("==> book includes");
    includes::check(root)?;
    println!("==> the book in headless Chromium at 1280 px");
    browser::check(root)
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    cargo_with(root, args, &[])
}

fn cargo_with(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let shown_env: String = env.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
    println!("==> {shown_env}cargo {}", args.join(" "));
    // The cargo that runs this xtask, so that CI checks with the same toolchain.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// mdBook reports a broken include or a bad SUMMARY.md as an ERROR line and may still exit 0,
/// so the output is read, not only the status.
fn build_book(root: &Path) -> Result<(), String> {
    println!("==> mdbook build book");
    let output = Command::new("mdbook")
        .args(["build", "book"])
        .current_dir(root)
        .output()
        .map_err(|err| format!("cannot run mdbook (install it: cargo install mdbook --locked --version 0.5.4): {err}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{text}");
    let errors: Vec<&str> = text.lines().filter(|line| line.contains("ERROR")).collect();
    if !output.status.success() || !errors.is_empty() {
        return Err(format!(
            "mdbook build failed ({}): {}",
            output.status,
            errors.join(" | ")
        ));
    }
    Ok(())
}
