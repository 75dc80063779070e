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
//! - `classroom`: writes `grading/classroom.yml` from the points file, for the graded tests
//!   that a handout's test binaries list.
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
mod po;
mod points;
mod reap;
mod results;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The project's automation: CI, the book's checks, the labs' handout and their grading.
#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    after_help = "autograder-setup and autograde, not listed, are what the Gradescope scripts \
                  run (grading/gradescope/); `cargo xtask <COMMAND> --help` tells more."
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks, in order, with a leak check around it.
    ///
    /// Formatting, clippy, the tests, rustdoc with warnings denied, the benchmark chart against
    /// its committed run, the book built in English and in Chinese, the Chinese catalogue against
    /// the English text, the book's includes, every page of both in headless Chromium; in the
    /// instructor's workspace also a handout, graded, and the Gradescope autograder under attack
    /// (as root). Fails when the run leaves an IPC object (System V or POSIX), a FIFO or a
    /// process behind.
    Ci,
    /// Builds the book in English (book/book) and in Chinese (book/book/zh-CN).
    Book,
    /// Checks that every `{{#include}}` in the book resolves to text.
    BookIncludes,
    /// Refreshes po/messages.pot from the English book and merges it into po/zh-CN.po.
    ///
    /// New English text comes in untranslated, changed text fuzzy (with the old translation to
    /// start from); messages from code blocks are translated to themselves. Needs
    /// mdbook-i18n-helpers 0.4 and GNU gettext.
    PoUpdate,
    /// Checks po/zh-CN.po against the English book: every message there, translated, none
    /// fuzzy, code unchanged (part of `ci`).
    PoCheck,
    /// Checks the built book's pages in headless Chromium.
    BookBrowser,
    /// Lists the System V objects, FIFOs and processes that the leak check would see now.
    Leaks,
    /// Writes the students' workspace (the handout) into a directory, and checks it.
    ///
    /// Every file of the workspace is copied, with the solutions replaced by their prompts or
    /// `todo!()` and the hidden tests removed; its points file and Classroom workflow count the
    /// graded tests its compiled test binaries list. Then the book is built from it, every file
    /// is searched for the solutions' lines, and the handout is compiled.
    Handout {
        /// The directory to write (empty, or a handout made before: its .git/ and target/ stay).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Skip the book build and the compile check (the labs' tests are still compiled, into
        /// DIR/target, to list them).
        #[arg(long)]
        no_build: bool,
    },
    /// Runs the graded tests with their points, and prints the score.
    ///
    /// Runs the graded tests of grading/points.txt (all labs by default), each alone with a
    /// deadline, within a budget for the whole run, and prints a row per test and the score;
    /// under a failing test, the compiler's errors or the assertion message. Exits non-zero
    /// below full marks.
    Grade {
        /// The labs to grade (every lab of the points file when none is given).
        #[arg(value_name = "LAB")]
        labs: Vec<String>,
        /// Also write the results to FILE, in Gradescope's results.json format.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        #[command(flatten)]
        timing: grade::Timing,
    },
    /// Grades a whole class as the Gradescope autograder does, into a CSV (as root).
    ///
    /// Grades every folder of SUBMISSIONS (one per student) as the Gradescope autograder does,
    /// N at a time, each as a user of its own, into FILE (one row per student, a column per
    /// lab). Copies each student's LAB/src/lab.rs to DIR/LAB/STUDENT.rs for a plagiarism
    /// checker. Runs as root.
    GradeAll(autograde::GradeAll),
    /// Writes the Gradescope autograder: DIR/autograder.zip and the same tree in DIR/autograder/.
    Autograder {
        /// Where to write autograder.zip and autograder/.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A course's private tests: the hidden tests of DIR/LAB/tests/lab.rs (their
        /// `// BEGIN HIDDEN TESTS` regions) and, if present, the points of DIR/points.txt,
        /// instead of this repository's.
        #[arg(long, value_name = "DIR")]
        hidden: Option<PathBuf>,
    },
    /// Prepares the autograder's work directory (Gradescope's setup.sh runs it, as root).
    #[command(hide = true)]
    AutograderSetup(autograde::Setup),
    /// Grades one submission into results.json (Gradescope's run_autograder runs it, as root).
    #[command(hide = true)]
    Autograde(autograde::Autograde),
    /// Builds the autograder and grades the reference, nothing, and every attack (as root).
    AutograderCheck,
    /// Strips the lab markers from files in place, as the handout does.
    Strip {
        /// The files to strip.
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Writes grading/classroom.yml, the GitHub Classroom workflow, from the points file.
    Classroom,
    /// Checks the book's benchmark tables and chart against the committed run.
    BenchBook {
        /// Redraw them from the committed run instead of checking them.
        #[arg(long)]
        write: bool,
    },
}

fn main() -> ExitCode {
    // A usage error exits 2, with clap's message; `--help` exits 0.
    let cli = Cli::parse();
    let root = workspace_root();
    let outcome = match cli.task {
        Task::Ci => ci(&root),
        Task::Book => build_book(&root),
        Task::BookIncludes => includes::check(&root),
        Task::PoUpdate => po::update(&root),
        Task::PoCheck => po::check(&root),
        Task::BookBrowser => browser::check(&root),
        Task::Leaks => leaks::snapshot(&root).map(|objects| {
            for object in objects {
                println!("{object}");
            }
        }),
        Task::Handout { out, no_build } => handout::command(&root, &out, !no_build),
        Task::Grade { labs, json, timing } => grade::command(&root, &labs, json.as_deref(), timing),
        Task::GradeAll(args) => autograde::grade_all_command(&root, &args),
        Task::Autograder { out, hidden } => {
            autograde::autograder_command(&root, &out, hidden.as_deref()).map(drop)
        }
        Task::AutograderSetup(args) => autograde::setup_command(&args),
        Task::Autograde(args) => autograde::autograde_command(&args),
        Task::AutograderCheck => attacks::check(&root),
        Task::Strip { files } => strip_in_place(&files),
        Task::Classroom => classroom::write(&root),
        Task::BenchBook { write: false } => bench_book::check(&root),
        Task::BenchBook { write: true } => bench_book::write(&root),
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
fn strip_in_place(files: &[PathBuf]) -> Result<(), String> {
    for path in files {
        let file = path.display();
        let text = std::fs::read_to_string(path).map_err(|err| format!("{file}: {err}"))?;
        let lab = lab_of(path);
        let stripped = markers::strip(&file.to_string(), &text, &lab)?;
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
    println!(
        "==> leak check: nothing new in /proc/sysvipc, /dev/mqueue or /dev/shm, among the FIFOs \
         or the processes"
    );
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
    po::check(root)?;
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
    reap::become_subreaper()?;
    let dir = root.join(handout::CHECK_DIR);
    let shown = handout::make(root, &dir, true, &dir.join("target"))?.shown;
    classroom::check(root, &shown)?;
    let options = grade::Options {
        timeout: grade::DEFAULT_TIMEOUT,
        budget: Duration::from_secs(3600),
        verbose: true,
    };
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

/// The book in both languages: English in `book/book`, then Chinese (from `po/zh-CN.po`) in
/// `book/book/zh-CN` (after the English, whose build empties `book/book`).
///
/// mdBook reports a broken include or a bad SUMMARY.md as an ERROR line and may still exit 0,
/// so the output is read, not only the status.
fn build_book(root: &Path) -> Result<(), String> {
    println!("==> mdbook build book");
    mdbook_build(root, &[], &[])?;
    println!("==> mdbook build book, in Chinese, into book/book/zh-CN");
    let gettext = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("mdbook-gettext").is_file());
    if !gettext {
        return Err(
            "no mdbook-gettext, which translates the book: cargo install \
                    mdbook-i18n-helpers --locked --version 0.4.0"
                .to_owned(),
        );
    }
    let built = mdbook_build(
        root,
        &["-d", "book/book/zh-CN"],
        &[
            ("MDBOOK_BOOK__LANGUAGE", "zh-CN"),
            ("MDBOOK_BOOK__TITLE", "Linux 进程间通信实战"),
            (
                "MDBOOK_BOOK__DESCRIPTION",
                "用可运行、经过测试的 Rust 程序讲授 Linux 上的进程间通信",
            ),
        ],
    );
    built?;
    let english = root.join("book/book");
    let aligned = po::align_heading_ids(&english, &english.join("zh-CN"))?;
    println!("book/book/zh-CN: {aligned} headings took their English ids, so links keep landing");
    Ok(())
}

fn mdbook_build(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let output = Command::new("mdbook")
        .args(["build", "book"])
        .args(args)
        .envs(env.iter().copied())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The command lines of the scripts, the workflow, the README and the book.
    #[test]
    fn every_caller_s_command_line_parses() {
        for line in [
            "ci",
            "book-includes",
            "book-browser",
            "book",
            "po-update",
            "po-check",
            "leaks",
            "classroom",
            "autograder-check",
            "bench-book",
            "bench-book --write",
            "strip a.rs b.rs",
            "handout --out ../ipc-labs-handout",
            "handout --out /tmp/h --no-build",
            "grade",
            "grade pipe fifo",
            "grade --json results.json",
            "grade process-states --json target/results-process-states.json",
            "grade --timeout 2 --json r.json",
            "grade --timeout 600 --budget 3 --json r.json",
            "autograder --out ../autograder",
            "autograder --out ../autograder --hidden ../my-course",
            "grade-all submissions/ --csv grades.csv --jobs 2",
            "grade-all submissions/ --csv grades.csv --hidden ../my-course",
            "grade-all s --csv c --work w --lab pipe --lab fifo --uid 62000 --sources src",
            "autograder-setup --source /autograder/source --work /autograder/work",
            "autograder-setup --source s --work w --uid 61000 --slots 2",
            "autograde --source /autograder/source --work /autograder/work \
             --submission /autograder/submission --results /autograder/results/results.json",
            "autograde --source s --work w --uid 61000 --slot 1 --submission d --results r \
             --timeout 120 --budget 600 --lab pipe --lab shm",
        ] {
            if let Err(err) = parse(line) {
                panic!("{line}: {err}");
            }
        }
    }

    #[test]
    fn values_and_defaults_are_as_before() {
        let Task::Grade { labs, json, timing } = parse("grade pipe fifo").unwrap().task else {
            panic!("not grade");
        };
        assert_eq!(labs, ["pipe", "fifo"]);
        assert_eq!(json, None);
        assert_eq!(timing.timeout.0, grade::DEFAULT_TIMEOUT);
        assert_eq!(timing.budget.0, grade::DEFAULT_BUDGET);
        let Task::GradeAll(all) = parse("grade-all s --csv c --lab a --lab b --budget 30")
            .unwrap()
            .task
        else {
            panic!("not grade-all");
        };
        assert_eq!((all.jobs, all.uid), (1, autograde::DEFAULT_UID));
        assert_eq!(all.labs, ["a", "b"]);
        assert_eq!(
            all.timing.to_args(),
            ["--timeout", "120", "--budget", "30"].map(String::from)
        );
        assert!(matches!(
            parse("bench-book").unwrap().task,
            Task::BenchBook { write: false }
        ));
    }

    #[test]
    fn usage_errors_are_refused() {
        for line in [
            "",
            "nothing-such",
            "grade --timeout 0",
            "grade --budget ten",
            "grade --frobnicate",
            "handout",
            "handout --out",
            "grade-all s",
            "grade-all --csv c",
            "grade-all s --csv c --jobs 0",
            "grade-all s --csv c --jobs 17",
            "grade-all s --csv c --uid 0",
            "autograder",
            "autograder-setup --uid 0",
            "autograder-setup --slots 0",
            "autograde --uid 0",
            "autograde --slot x",
            "strip",
            "bench-book --draw",
        ] {
            let Err(err) = parse(line) else {
                panic!("`{line}` parsed");
            };
            assert_eq!(err.exit_code(), 2, "{line}: {err}");
        }
    }
}
