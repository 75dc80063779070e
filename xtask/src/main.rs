//! `cargo xtask <command>`: the project's automation, in Rust so that it runs wherever cargo
//! does.
//!
//! - `ci`: everything CI checks, in order: formatting, clippy, the tests, rustdoc with warnings
//!   denied, the benchmark chart against its committed run, the book build, the book's includes, every page in headless Chromium, and a leak
//!   check around all of it.
//! - `book-includes`: only the check that every `{{#include}}` in the book resolves to text.
//! - `book-browser`: only the check of the built book's pages in headless Chromium.
//! - `leaks`: lists the System V objects and FIFOs that the leak check would see now.
//! - `handout --out DIR`: writes the students' workspace (see `handout.rs`).
//! - `grade [LAB...] [--json FILE] [--timeout SECS] [--budget SECS]`: runs the graded tests
//!   with their points (see `grade.rs`).
//! - `autograder --out DIR [--hidden DIR]`: the Gradescope autograder; `grade-all SUBMISSIONS
//!   --csv FILE`: a whole class, graded the same way (see `autograde.rs`).
//! - `strip FILE...`: strips the lab markers from files in place, as the handout does.
//! - `classroom`: writes `grading/classroom.yml` from the points file.
//! - `bench-book [--write]`: checks (or redraws) the book's benchmark tables and chart against
//!   the committed run (see `bench_book.rs`).

#![forbid(unsafe_code)]

mod attacks;
mod autograde;
mod bench_book;
mod browser;
mod classroom;
mod grade;
mod handout;
mod includes;
mod leaks;
mod markers;
mod points;
mod reap;
mod results;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let rest: Vec<String> = std::env::args().skip(2).collect();
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
        Some("handout") => handout::command(&root, &rest),
        Some("grade") => grade::command(&root, &rest),
        Some("grade-all") => autograde::grade_all_command(&root, &rest),
        Some("autograder") => autograde::autograder_command(&root, &rest),
        Some("autograder-setup") => autograde::setup_command(&rest),
        Some("autograde") => autograde::autograde_command(&rest),
        Some("autograder-check") => attacks::check(&root),
        Some("strip") => strip_in_place(&rest),
        Some("classroom") => classroom::write(&root),
        Some("bench-book") => bench_book::command(&root, &rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | book-includes | book-browser | leaks | handout --out DIR \
                 | grade [LAB...] [--json FILE] | grade-all SUBMISSIONS --csv FILE \
                 | autograder --out DIR | strip FILE... | classroom | bench-book [--write]>\n\
                 (autograder-setup and autograde are what the Gradescope scripts run)"
            );
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

/// The workspace this xtask belongs to; `XTASK_ROOT` names another one (the Gradescope
/// script's copy, a test's fixture).
fn workspace_root() -> PathBuf {
    if let Some(root) = std::env::var_os("XTASK_ROOT") {
        return PathBuf::from(root);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// True in a students' handout, where the graded tests fail until the labs are solved.
fn is_handout(root: &Path) -> bool {
    root.join(handout::MARK).exists()
}

/// `cargo xtask strip FILE...`: each file's lab markers stripped, in place.
fn strip_in_place(files: &[String]) -> Result<(), String> {
    for file in files {
        let path = Path::new(file);
        let text = std::fs::read_to_string(path).map_err(|err| format!("{file}: {err}"))?;
        let lab = lab_of(path);
        let stripped = markers::strip(file, &text, &lab)?;
        std::fs::write(path, stripped.text).map_err(|err| format!("{file}: {err}"))?;
        println!(
            "{file}: {} solution and {} hidden-test regions stripped",
            stripped.solutions, stripped.hidden
        );
    }
    Ok(())
}

/// The lab a file belongs to: the crate directory above its `src/` or `tests/`.
fn lab_of(path: &Path) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    absolute
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file())
        .and_then(|dir| dir.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lab".to_owned())
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
    let handout = is_handout(root);
    cargo(root, &["fmt", "--all", "--check"])?;
    let mut clippy = vec![
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    if handout {
        // A `todo!()` body leaves parameters, imports and helpers unused until it is written.
        clippy.extend(["-A", "unused"]);
    }
    cargo(root, &clippy)?;
    if handout {
        // The graded tests fail until the labs are solved: `cargo xtask grade` runs them.
        let entries = points::load(root)?.unwrap_or_default();
        let mut args = vec!["test", "--workspace", "--", "--exact"];
        for entry in &entries {
            args.extend(["--skip", entry.test.as_str()]);
        }
        cargo(root, &args)?;
    } else {
        cargo(root, &["test", "--workspace"])?;
        handout_check(root)?;
    }
    // Man-page links and intra-doc links live in doc comments: broken ones fail the run.
    cargo_with(
        root,
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    bench_book::check(root)?;
    build_book(root)?;
    println!("==> book includes");
    includes::check(root)?;
    println!("==> the book in headless Chromium at 1280 px");
    browser::check(root)
}

fn cargo(root: &Path, args: &[&str]) -> Result<(), String> {
    cargo_with(root, args, &[])
}

/// The graders can fail and can pass: a handout compiles and fails every graded test it holds,
/// the reference solution passes every one, and the handout's Classroom steps, run as the
/// workflow runs them, give full marks with the reference solutions put in and fail on the
/// stubs. Then, as root, the Gradescope autograder and its attacks (see `attacks.rs`).
fn handout_check(root: &Path) -> Result<(), String> {
    println!("==> handout check");
    let entries = match points::load(root)? {
        Some(entries) if !entries.is_empty() => entries,
        _ => {
            println!(
                "{} lists no graded test: handout check skipped",
                points::FILE
            );
            return Ok(());
        }
    };
    points::check_workspace(root, &entries)?;
    classroom::check(root, &entries)?;
    reap::become_subreaper()?;
    let dir = root.join("target/handout-check");
    handout::make(root, &dir, true)?;
    let options = grade::Options {
        timeout: grade::DEFAULT_TIMEOUT,
        budget: Duration::from_secs(3600),
        verbose: true,
    };
    let shown = points::visible(root, &entries)?;
    println!("==> grading the handout: every graded test it holds must fail");
    let on_stub = grade::run(
        &options,
        &shown,
        &mut grade::Cargo::new(&dir, Some(dir.join("target"))),
    )?;
    println!("==> grading the reference solution: every graded test must pass");
    let on_reference = grade::run(&options, &entries, &mut grade::Cargo::new(root, None))?;
    let mut problems = Vec::new();
    for outcome in on_stub.iter().filter(|o| o.passed) {
        problems.push(format!(
            "{} {}: passes on the handout's stubs, so it grades nothing",
            outcome.entry.lab, outcome.entry.test
        ));
    }
    for outcome in on_reference.iter().filter(|o| !o.passed) {
        problems.push(format!(
            "{} {}: fails on the reference solution ({})\n{}",
            outcome.entry.lab, outcome.entry.test, outcome.note, outcome.output
        ));
    }
    if on_reference.len() != entries.len() {
        problems.push(format!(
            "the reference ran {} of {} graded tests",
            on_reference.len(),
            entries.len()
        ));
    }
    if !problems.is_empty() {
        return Err(format!("handout check:\n  {}", problems.join("\n  ")));
    }
    let (_, total) = grade::totals(&on_reference);
    println!(
        "==> handout check: {} graded tests ({} points, {} labs) fail on the handout and pass on \
         the reference",
        entries.len(),
        total,
        points::labs(&entries).len()
    );
    classroom_check(root, &dir, &shown)?;
    attacks::check(root)
}

/// The handout's Classroom workflow, each step run as the runner would run it (`bash -c`, in
/// the repository, within the step's timeout): every graded step exits 0 with the reference
/// solutions put into the handout, and non-zero on the stubs.
fn classroom_check(root: &Path, handout: &Path, shown: &[points::Entry]) -> Result<(), String> {
    let yml = std::fs::read_to_string(handout.join(".github/workflows/classroom.yml"))
        .map_err(|err| format!("the handout's classroom.yml: {err}"))?;
    let steps = classroom::steps(&yml)?;
    let run_steps = |expect_pass: bool| -> Result<u32, String> {
        let mut earned = 0;
        for step in &steps {
            let (script, minutes, points, name) = match step {
                classroom::Step::Run(script) => (script.clone(), 30, 0, "build"),
                classroom::Step::Graded {
                    name,
                    setup,
                    command,
                    minutes,
                    points,
                } => {
                    let script = if setup.is_empty() {
                        command.clone()
                    } else {
                        format!("{setup} && {command}")
                    };
                    (script, *minutes, *points, name.as_str())
                }
            };
            let mut command = Command::new("bash");
            command.args(["-c", &script]).current_dir(handout);
            command.env("CARGO_TARGET_DIR", handout.join("target"));
            let ran = grade::run_logged(command, Some(Duration::from_secs(minutes * 60)))?;
            let passed = ran.success && !ran.timed_out;
            println!(
                "classroom step {name}: `{script}` exits {} ({points} points)",
                if passed { "0" } else { "non-zero" }
            );
            if points == 0 && !passed {
                return Err(format!(
                    "the workflow's step `{script}` failed:\n{}",
                    ran.output
                ));
            }
            if passed && points > 0 {
                earned += points;
            }
            if points > 0 && passed != expect_pass {
                return Err(format!(
                    "classroom step {name} {} on the {}:\n{}",
                    if passed { "passes" } else { "fails" },
                    if expect_pass { "reference" } else { "stubs" },
                    grade::tail(&ran.output)
                ));
            }
        }
        Ok(earned)
    };
    let total: u32 = shown.iter().map(|e| e.points).sum();
    println!("==> the handout's Classroom steps on its stubs: each must fail");
    run_steps(false)?;
    println!("==> the handout's Classroom steps with the reference solutions put in");
    let mut originals = Vec::new();
    for lab in points::labs(shown) {
        let file = Path::new(&lab).join("src/lab.rs");
        let stub = std::fs::read_to_string(handout.join(&file))
            .map_err(|err| format!("{}: {err}", file.display()))?;
        let reference = std::fs::read_to_string(root.join(&file))
            .map_err(|err| format!("{}: {err}", file.display()))?;
        let name = file.to_string_lossy();
        let solved = markers::splice(&name, &stub, &name, &reference)?;
        std::fs::write(handout.join(&file), solved)
            .map_err(|err| format!("{}: {err}", file.display()))?;
        originals.push((file, stub));
    }
    let earned = run_steps(true);
    for (file, stub) in originals {
        std::fs::write(handout.join(&file), stub)
            .map_err(|err| format!("{}: {err}", file.display()))?;
    }
    let earned = earned?;
    if earned != total {
        return Err(format!(
            "the Classroom steps gave {earned}/{total} to the reference"
        ));
    }
    println!(
        "==> Classroom: the reference scores {earned}/{total} in the handout, every step exits 0"
    );
    Ok(())
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
