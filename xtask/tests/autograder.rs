//! The grading tools end to end, on a tiny fixture lab (one crate, a solution region, a visible
//! and a hidden test): `cargo xtask handout` (markers kept, hidden tests and their points left
//! out, `.git` kept when made again) and `cargo xtask grade` (failure excerpts, full marks and
//! exit 0 when solved, a hung test killed with what it started, the tests that the test binary
//! lists graded). The Gradescope autograder and its attacks run in `cargo xtask ci` (see
//! `xtask/src/attacks.rs`): they need root.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const LAB: &str = "pub fn answer() -> u32 {\n    // BEGIN SOLUTION\n    let forty = 40;\n    \
                   forty + 2 // the reference answer\n    // END SOLUTION\n}\n";

const TESTS: &str = "#[test]\nfn answer_is_42() {\n    assert_eq!(demo::lab::answer(), 42);\n}\n\
                     \n// BEGIN HIDDEN TESTS\n#[test]\nfn answer_is_even_hidden() {\n    \
                     assert_eq!(demo::lab::answer() % 2, 0);\n}\n// END HIDDEN TESTS\n";

/// `never_ends` leaves a process in a session of its own (as a lab binary that calls setsid
/// would), then hangs: both must be gone soon after the deadline.
const SLOW_TESTS: &str = "#[test]\nfn answer_is_42() {\n    assert_eq!(demo::lab::answer(), 42);\n}\n\
                          \n#[test]\nfn never_ends() {\n    std::process::Command::new(\"setsid\")\
                          .args([\"-f\", \"sleep\", \"3600.5\"]).status().unwrap();\n    loop {\n        \
                          std::thread::park();\n    }\n}\n";

/// A scratch directory, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The instructor's workspace of the fixture lab `demo`.
fn fixture(root: &Path, tests: &str, points: &str) {
    write(
        &root.join("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\"demo\"]\n",
    );
    write(
        &root.join("demo/Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n",
    );
    write(
        &root.join("demo/src/lib.rs"),
        "//! The demo lab.\npub mod lab;\n",
    );
    write(&root.join("demo/src/lab.rs"), LAB);
    write(&root.join("demo/tests/lab.rs"), tests);
    write(&root.join("grading/points.txt"), points);
    write(
        &root.join("grading/reference/notes.md"),
        "instructor only\n",
    );
    write(&root.join("README.md"), "# demo\n\nA demo.\n");
}

fn xtask(root: &Path, target: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_ROOT", root)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn score(results: &Value) -> f64 {
    results["score"].as_f64().expect("a score")
}

fn statuses(results: &Value) -> Vec<(String, String)> {
    results["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|test| {
            (
                test["name"].as_str().unwrap().to_owned(),
                test["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_handout_keeps_its_git_counts_only_its_tests_and_passes_when_solved() {
    let scratch = Scratch::new("handout");
    let source = scratch.0.join("instructor");
    fixture(
        &source,
        TESTS,
        "# fixture\ndemo answer_is_42 3\ndemo answer_is_even_hidden 2\n",
    );
    let handout = scratch.0.join("handout");
    let target = scratch.0.join("target");
    let made = xtask(
        &source,
        &target,
        &["handout", "--out", handout.to_str().unwrap()],
    );
    assert!(made.status.success(), "{}", text(&made));
    let stub = std::fs::read_to_string(handout.join("demo/src/lab.rs")).unwrap();
    assert!(stub.contains("    // BEGIN SOLUTION\n    todo!(\"solve the lab: see book/src/labs/demo.md\")\n    // END SOLUTION\n"), "{stub}");
    assert!(!stub.contains("forty"));
    let tests = std::fs::read_to_string(handout.join("demo/tests/lab.rs")).unwrap();
    assert!(tests.contains("answer_is_42") && !tests.contains("hidden"));
    assert!(!handout.join("grading/reference").exists());
    let points = std::fs::read_to_string(handout.join("grading/points.txt")).unwrap();
    assert_eq!(points, "# fixture\ndemo answer_is_42 3\n");
    assert!(handout.join(".handout").is_file());
    let workflow =
        std::fs::read_to_string(handout.join(".github/workflows/classroom.yml")).unwrap();
    assert!(workflow.contains("max-score: 3\n"), "{workflow}");

    // The students' own grader, on the stub: below full marks, and why.
    let graded = xtask(&handout, &target, &["grade"]);
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 0/3"), "{shown}");
    assert!(shown.contains("panicked at demo/src/lab.rs"), "{shown}");
    assert!(
        shown.contains("    | not yet implemented: solve the lab"),
        "{shown}"
    );

    // Solved between the markers: full marks on the tests the handout holds, exit 0.
    let solved = stub.replace(
        "    todo!(\"solve the lab: see book/src/labs/demo.md\")\n",
        "    42\n",
    );
    std::fs::write(handout.join("demo/src/lab.rs"), &solved).unwrap();
    let graded = xtask(&handout, &target, &["grade"]);
    assert!(graded.status.success(), "{}", text(&graded));
    assert!(text(&graded).contains("Score 3/3"));

    // Made again over itself: the git repository stays, and so does the student's clone's
    // history; the solution is the stub again.
    std::fs::create_dir_all(handout.join(".git")).unwrap();
    std::fs::write(handout.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let again = xtask(
        &source,
        &target,
        &["handout", "--out", handout.to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(handout.join(".git/HEAD").is_file());
    assert_eq!(
        std::fs::read_to_string(handout.join("demo/src/lab.rs")).unwrap(),
        stub
    );
}

/// The graded tests are what the test binary lists (`--list`): a test made by a macro counts,
/// and when the lab does not compile, every graded test of it counts, at 0 points.
#[test]
fn the_listed_tests_are_graded_and_a_lab_that_does_not_compile_scores_zero_on_each() {
    let scratch = Scratch::new("listed");
    let root = scratch.0.join("instructor");
    let by_macro = format!(
        "{TESTS}\nmacro_rules! graded {{\n    ($name:ident) => {{\n        #[test]\n        \
         fn $name() {{\n            assert_eq!(demo::lab::answer(), 42);\n        }}\n    \
         }};\n}}\n\ngraded!(answer_by_macro);\n"
    );
    fixture(
        &root,
        &by_macro,
        "demo answer_is_42 3\ndemo answer_by_macro 4\n",
    );
    let target = scratch.0.join("target");
    let graded = xtask(&root, &target, &["grade", "demo"]);
    let shown = text(&graded);
    assert!(graded.status.success(), "{shown}");
    assert!(shown.contains("Score 7/7"), "{shown}");
    assert!(!shown.contains("not counted"), "{shown}");

    std::fs::write(root.join("demo/src/lab.rs"), "pub fn answer() -> u32 {\n").unwrap();
    let json_file = scratch.0.join("results.json");
    let graded = xtask(
        &root,
        &target,
        &["grade", "--json", json_file.to_str().unwrap()],
    );
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 0/7"), "{shown}");
    assert!(shown.contains("the demo lab does not compile"), "{shown}");
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(
        statuses(&results),
        [
            ("demo: answer_is_42".to_owned(), "failed".to_owned()),
            ("demo: answer_by_macro".to_owned(), "failed".to_owned())
        ]
    );
}

#[test]
fn a_hung_test_is_killed_at_its_deadline_and_scores_zero() {
    let scratch = Scratch::new("deadline");
    let root = scratch.0.join("instructor");
    fixture(
        &root,
        SLOW_TESTS,
        "demo answer_is_42 1\ndemo never_ends 4\n",
    );
    let json_file = scratch.0.join("results.json");
    let started = Instant::now();
    let graded = xtask(
        &root,
        &scratch.0.join("target"),
        &[
            "grade",
            "--timeout",
            "2",
            "--json",
            json_file.to_str().unwrap(),
        ],
    );
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 1/5"), "{shown}");
    assert!(shown.contains("timed out after 2 s"), "{shown}");
    // Compiling is not counted; the hung test costs its deadline and a little more.
    assert!(started.elapsed() < Duration::from_secs(60), "{shown}");
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 3600.5"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "the hung test's detached process is still there: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(score(&results), 1.0);
    assert_eq!(
        statuses(&results),
        [
            ("demo: answer_is_42".to_owned(), "passed".to_owned()),
            ("demo: never_ends".to_owned(), "failed".to_owned())
        ]
    );
}

#[test]
fn the_budget_ends_a_run_that_hangs_and_the_results_are_still_written() {
    let scratch = Scratch::new("budget");
    let root = scratch.0.join("instructor");
    let hanging = "#[test]\nfn first_hangs() {\n    loop {\n        std::thread::park();\n    }\n}\n\
                   \n#[test]\nfn second_hangs() {\n    loop {\n        std::thread::park();\n    }\n}\n";
    fixture(&root, hanging, "demo first_hangs 1\ndemo second_hangs 1\n");
    let json_file = scratch.0.join("results.json");
    let graded = xtask(
        &root,
        &scratch.0.join("target"),
        &[
            "grade",
            "--timeout",
            "600",
            "--budget",
            "3",
            "--json",
            json_file.to_str().unwrap(),
        ],
    );
    let shown = text(&graded);
    assert!(!graded.status.success(), "{shown}");
    assert!(shown.contains("Score 0/2"), "{shown}");
    assert!(
        shown.contains("when the grading budget of 3 s was spent")
            || shown.contains("not run: the grading budget of 3 s was spent"),
        "{shown}"
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(score(&results), 0.0);
    assert_eq!(statuses(&results).len(), 2);
}

#[test]
fn the_autograder_takes_a_course_s_private_hidden_tests_and_holds_no_solution() {
    let scratch = Scratch::new("private");
    let root = scratch.0.join("instructor");
    // Graded tests run the lab's binaries and use none of its code; these stand for them.
    let by_binary = TESTS.replace("demo::lab::answer()", "(40 + 2)");
    fixture(
        &root,
        &by_binary,
        "demo answer_is_42 3\ndemo answer_is_even_hidden 2\n",
    );
    let private = scratch.0.join("my-course");
    write(
        &private.join("demo/tests/lab.rs"),
        "// BEGIN HIDDEN TESTS\n#[test]\nfn answer_is_below_100_private() {\n    \
         assert!(40 + 2 < 100);\n}\n// END HIDDEN TESTS\n",
    );
    write(
        &private.join("points.txt"),
        "demo answer_is_42 3\ndemo answer_is_below_100_private 4\n",
    );
    // The fixture's own scripts stand for grading/gradescope.
    for script in ["setup.sh", "run_autograder"] {
        write(&root.join("grading/gradescope").join(script), "#!/bin/sh\n");
    }
    let out = scratch.0.join("upload");
    let made = xtask(
        &root,
        &scratch.0.join("target"),
        &[
            "autograder",
            "--out",
            out.to_str().unwrap(),
            "--hidden",
            private.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("2 graded tests (1 hidden), 7 points"),
        "{}",
        text(&made)
    );
    let tree = out.join("autograder");
    let full = std::fs::read_to_string(tree.join("private/demo/lab_full.rs")).unwrap();
    assert!(full.contains("fn answer_is_42()"), "{full}");
    assert!(full.contains("fn answer_is_below_100_private()"), "{full}");
    assert!(!full.contains("answer_is_even_hidden"), "{full}");
    let points = std::fs::read_to_string(tree.join("private/points.txt")).unwrap();
    assert!(points.contains("answer_is_below_100_private 4"));
    let visible = std::fs::read_to_string(tree.join("ipc-labs/demo/tests/lab.rs")).unwrap();
    assert!(
        !visible.contains("private") && !visible.contains("hidden"),
        "{visible}"
    );
    let stub = std::fs::read_to_string(tree.join("ipc-labs/demo/src/lab.rs")).unwrap();
    assert!(!stub.contains("forty"), "{stub}");
    assert!(tree.join("setup.sh").is_file() && tree.join("run_autograder").is_file());
    assert!(out.join("autograder.zip").is_file());

    // A test file that names its lab's crate could run a student's code in the grader.
    write(
        &root.join("demo/tests/lab.rs"),
        &TESTS.replace(
            "#[test]\nfn answer_is_42",
            "use demo::lab::answer;\n#[test]\nfn answer_is_42",
        ),
    );
    let refused = xtask(
        &root,
        &scratch.0.join("target"),
        &["autograder", "--out", out.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("a graded test may use no lab crate"),
        "{}",
        text(&refused)
    );
}
