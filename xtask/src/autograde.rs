//! The autograder: grading that trusts nothing a student wrote except the solution regions of
//! `<lab>/src/lab.rs`.
//!
//! - `cargo xtask autograder --out DIR [--hidden PRIVATE]` writes `DIR/autograder/` and the same
//!   tree as `DIR/autograder.zip`, to upload to Gradescope: `setup.sh`, `run_autograder`, the
//!   handout in `ipc-labs/` (no reference solution, no hidden test), and `private/` (the points
//!   of every graded test, and each lab's full test file, hidden tests included).
//!   Every graded test must be one that the handout's test binaries list (`--list`; they are
//!   compiled for it in `target/autograder-tests`).
//! - `xtask autograder-setup` (run by `setup.sh`, as root) prepares a work directory: the
//!   vendored crates, a toolchain the student's user may run, and a warm build of the handout at
//!   the fixed path every submission is built at, whose test binaries list each lab's tests
//!   once for all submissions (`tests.json`, root's alone).
//! - `xtask autograde` (run by `run_autograder`, as root) grades one submission:
//!   1. it takes, from the submission, only the text between the solution markers of each
//!      `<lab>/src/lab.rs` and puts it into the grader's copy of that file;
//!   2. it compiles the labs as the student's user, which cannot read `private/`;
//!   3. it kills every process of that user, then compiles the tests as root, against the
//!      libraries the student's user compiled (cargo must find them fresh: nothing the student
//!      wrote is compiled as root), and keeps the test binaries in a directory of root's, mode
//!      0711: the student's user may run them but not read them, so it cannot trace them either;
//!   4. it runs each test as the student's user, with a deadline, and after each one kills
//!      every process it started (`reap.rs`) and every process of the user;
//!   5. as root, with no process of the student's left, it writes results.json.
//! - `cargo xtask grade-all SUBMISSIONS --csv FILE` grades one folder per student the same way,
//!   `--jobs N` at a time (each job its own user and build directory), into a CSV, and copies
//!   every student's `lab.rs` into one folder per lab, for a plagiarism checker.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::grade::{self, Build, Harness, Ran};
use crate::markers;
use crate::points::{self, Entry};
use crate::reap;

/// The first user id of the students' sandboxes; job `i` of `grade-all` runs as `BASE + i`. A
/// number with no account: nothing on the machine belongs to it but what the grader gives it.
pub const DEFAULT_UID: u32 = 61_000;

/// How many processes the student's user may have at once (`RLIMIT_NPROC`): a fork bomb
/// fails to fork instead of filling the machine.
const STUDENT_NPROC: u64 = 512;

/// How the sandbox builds, the same for the student's user and for root: no incremental
/// caches and no debug information, which would make a build slot four times larger (and its
/// copy for each submission slower) and which nothing in grading uses.
const BUILD_ENV: [(&str, &str); 3] = [
    ("CARGO_INCREMENTAL", "0"),
    ("CARGO_PROFILE_DEV_DEBUG", "0"),
    ("CARGO_TERM_COLOR", "never"),
];

/// The largest `lab.rs` read from a submission.
const MAX_LAB_FILE: u64 = 1 << 20;

/// Where the autograder's pieces are.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The unpacked autograder: `ipc-labs/`, `private/`, the scripts.
    pub source: PathBuf,
    /// The work directory: vendored crates, toolchain, build slots.
    pub work: PathBuf,
    /// The student's user id (and group id) for this slot.
    pub uid: u32,
    /// The build slot: always built at `work/slot-<n>`, so that cargo's fingerprints hold.
    pub slot: usize,
}

impl Layout {
    fn handout(&self) -> PathBuf {
        self.source.join("ipc-labs")
    }
    fn private(&self) -> PathBuf {
        self.source.join("private")
    }
    fn slot_dir(&self) -> PathBuf {
        self.work.join(format!("slot-{}", self.slot))
    }
    fn pristine(&self) -> PathBuf {
        self.work.join(format!("pristine-{}", self.slot))
    }
    fn tree(&self) -> PathBuf {
        self.slot_dir().join("ipc-labs")
    }
    fn bin(&self) -> PathBuf {
        self.slot_dir().join("bin")
    }
    fn toolchain(&self) -> PathBuf {
        self.work.join("toolchain")
    }
    /// Each lab's tests, as [`warm`] listed them.
    fn tests_file(&self) -> PathBuf {
        self.work.join("tests.json")
    }
}

/// `cargo xtask autograder --out DIR [--hidden PRIVATE]`.
pub fn autograder_command(
    root: &Path,
    out: &Path,
    hidden: Option<&Path>,
) -> Result<Written, String> {
    let out = absolute(out)?;
    let tree = out.join("autograder");
    let summary = write_autograder(root, &tree, hidden)?;
    let zip = out.join("autograder.zip");
    let _ = std::fs::remove_file(&zip);
    let zipped = Command::new("zip")
        .args(["-q", "-r", "-X"])
        .arg(&zip)
        .arg(".")
        .current_dir(&tree)
        .status()
        .map_err(|err| format!("cannot run zip (install it: apt-get install zip): {err}"))?;
    if !zipped.success() {
        return Err(format!("zip failed ({zipped})"));
    }
    println!(
        "autograder written to {} and {}: {} graded tests ({} hidden), {} points; none of {} \
         solution lines is in it",
        tree.display(),
        zip.display(),
        summary.tests,
        summary.hidden.len(),
        summary.points,
        summary.solution_lines
    );
    Ok(summary)
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|err| format!("{}: {err}", path.display()))
}

/// What [`write_autograder`] wrote.
pub struct Written {
    /// How many graded tests.
    pub tests: usize,
    /// The hidden ones: not in the handout, their results shown after the due date.
    pub hidden: Vec<Entry>,
    /// The points of all of them.
    pub points: u32,
    /// How many solution lines were checked absent.
    pub solution_lines: usize,
}

/// Writes the autograder tree at `tree` from the workspace at `root`, and checks that every
/// graded test is a test that its handout's test binaries (`lab`, the tests students see, and
/// `lab_full`, with the hidden ones) list. They are compiled to list them, into
/// `target/autograder-tests` of `root`.
pub fn write_autograder(
    root: &Path,
    tree: &Path,
    hidden: Option<&Path>,
) -> Result<Written, String> {
    if tree.exists() {
        std::fs::remove_dir_all(tree).map_err(|err| format!("{}: {err}", tree.display()))?;
    }
    let handout = tree.join("ipc-labs");
    let target = root.join("target/autograder-tests");
    std::fs::create_dir_all(tree).map_err(|err| format!("{}: {err}", tree.display()))?;
    let summary = crate::handout::make(root, &handout, false, &target)?;
    // The handout's own built book and grading workflow are of no use to Gradescope.
    let _ = std::fs::remove_dir_all(handout.join(".github"));
    let points_text = match hidden.map(|dir| dir.join("points.txt")) {
        Some(file) if file.is_file() => {
            std::fs::read_to_string(&file).map_err(|err| format!("{}: {err}", file.display()))?
        }
        _ => std::fs::read_to_string(root.join(points::FILE))
            .map_err(|err| format!("{}: {err}", points::FILE))?,
    };
    let entries = points::parse("points.txt", &points_text)?;
    let private = tree.join("private");
    let labs = points::labs(&entries);
    for lab in &labs {
        let visible_file = handout.join(lab).join("tests/lab.rs");
        let visible = std::fs::read_to_string(&visible_file)
            .map_err(|err| format!("{}: {err}", visible_file.display()))?;
        check_tests_stay_out_of_labs(lab, &visible, &labs)?;
        let source = match hidden {
            Some(dir) => dir.join(lab).join("tests/lab.rs"),
            None => root.join(lab).join("tests/lab.rs"),
        };
        let hidden_text = if source.is_file() {
            let text = std::fs::read_to_string(&source)
                .map_err(|err| format!("{}: {err}", source.display()))?;
            hidden_regions(&source.to_string_lossy(), &text)?
        } else {
            String::new()
        };
        let full = format!("{}\n{hidden_text}", visible.trim_end());
        check_tests_stay_out_of_labs(lab, &full, &labs)?;
        write_file(&private.join(lab).join("lab_full.rs"), &full)?;
    }
    println!(
        "==> listing the autograder's tests (cargo test --no-run, in {})",
        target.display()
    );
    let listed = list_full_tests(&handout, &private, &labs, &target)?;
    let mut hidden_tests = Vec::new();
    for entry in &entries {
        let Some(tests) = listed.get(&entry.lab) else {
            continue;
        };
        if !tests.all.contains(&entry.test) {
            return Err(format!(
                "{} {}: listed in the points but in neither the handout's nor the hidden tests",
                entry.lab, entry.test
            ));
        }
        if !tests.visible.contains(&entry.test) {
            hidden_tests.push(entry.clone());
        }
    }
    write_file(&private.join("points.txt"), &points_text)?;
    let scripts = root.join("grading/gradescope");
    for script in ["setup.sh", "run_autograder"] {
        let to = tree.join(script);
        std::fs::copy(scripts.join(script), &to).map_err(|err| format!("{script}: {err}"))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| format!("{script}: {err}"))?;
    }
    crate::handout::check_no_secrets(tree, &summary.solution_lines)?;
    Ok(Written {
        tests: entries.len(),
        hidden: hidden_tests,
        points: entries.iter().map(|e| e.points).sum(),
        solution_lines: summary.solution_lines.len(),
    })
}

/// A lab's tests as its two test binaries list them.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct LabTests {
    /// What the `lab` binary lists: the tests students see.
    pub visible: BTreeSet<String>,
    /// What the `lab_full` binary lists: those and the hidden ones.
    pub all: BTreeSet<String>,
}

/// The tests of `labs` in the autograder's `handout`, each lab's `lab_full.rs` from `private`
/// put beside its `lab.rs` for the time it takes to compile and list them.
fn list_full_tests(
    handout: &Path,
    private: &Path,
    labs: &[String],
    target: &Path,
) -> Result<BTreeMap<String, LabTests>, String> {
    let mut copies = Vec::new();
    let mut listed = Ok(());
    for lab in labs {
        let copy = handout.join(lab).join("tests/lab_full.rs");
        listed = std::fs::copy(private.join(lab).join("lab_full.rs"), &copy)
            .map(drop)
            .map_err(|err| format!("{}: {err}", copy.display()));
        copies.push(copy);
        if listed.is_err() {
            break;
        }
    }
    let listed = listed.and_then(|()| {
        let visible = points::list(handout, Some(target), labs, "lab")?;
        let all = points::list(handout, Some(target), labs, "lab_full")?;
        Ok((visible, all))
    });
    for copy in copies {
        let _ = std::fs::remove_file(copy);
    }
    let (mut visible, mut all) = listed?;
    Ok(labs
        .iter()
        .map(|lab| {
            let tests = LabTests {
                visible: visible.remove(lab).unwrap_or_default(),
                all: all.remove(lab).unwrap_or_default(),
            };
            (lab.clone(), tests)
        })
        .collect())
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| format!("{}: {err}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|err| format!("{}: {err}", path.display()))
}

/// The text of every `// BEGIN HIDDEN TESTS` region of `text`, markers kept.
fn hidden_regions(file: &str, text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        match line.trim() {
            "// BEGIN HIDDEN TESTS" => inside = true,
            "// END HIDDEN TESTS" if inside => {
                out.push_str(line);
                inside = false;
                continue;
            }
            _ => {}
        }
        if inside {
            out.push_str(line);
        }
    }
    if inside {
        return Err(format!("{file}: // BEGIN HIDDEN TESTS is never closed"));
    }
    Ok(out)
}

/// The graded tests run the lab's binaries and use no code of any lab crate: code of a crate
/// that a student's `lab.rs` belongs to (a `Drop` added to one of its types, say) would run
/// inside the grader's test process. Checked on the test file's text.
fn check_tests_stay_out_of_labs(lab: &str, text: &str, labs: &[String]) -> Result<(), String> {
    let crates: Vec<String> = labs.iter().map(|lab| lab.replace('-', "_")).collect();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for krate in crates.iter().map(String::as_str) {
            let named = code.match_indices(krate).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                let after = &code[at + krate.len()..];
                after.starts_with("::")
                    && !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if named || code.trim_start().starts_with("mod ") || code.contains("extern crate") {
                return Err(format!(
                    "{lab}/tests/lab.rs:{}: a graded test may use no lab crate and no module \
                     (`{}`): what a student writes could run inside the grader",
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(())
}

/// The user and group a command runs as, the student's environment, and its directory.
fn as_student(command: &mut Command, layout: &Layout) {
    command
        .uid(layout.uid)
        .gid(layout.uid)
        .env_clear()
        .env("PATH", student_path(layout))
        .env("HOME", layout.slot_dir().join("home"))
        .env("LANG", "C.UTF-8");
}

fn student_path(layout: &Layout) -> String {
    format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        layout.toolchain().join("bin").display()
    )
}

/// cargo as the build needs it, as the student's user or as root: the same environment both
/// times, so that cargo finds what the other compiled fresh.
fn cargo(layout: &Layout, student: bool) -> Command {
    let mut command = Command::new(layout.toolchain().join("bin/cargo"));
    if student {
        as_student(&mut command, layout);
    } else {
        command
            .env_clear()
            .env("PATH", student_path(layout))
            .env("HOME", layout.slot_dir().join("home"))
            .env("LANG", "C.UTF-8");
    }
    command
        .envs(BUILD_ENV.iter().copied())
        .env("CARGO_HOME", layout.slot_dir().join("cargo-home"))
        .env("CARGO_TARGET_DIR", layout.slot_dir().join("target"))
        .args(["--offline", "--locked"])
        .current_dir(layout.tree());
    command
}

/// Runs `command` to the end, its stdout and stderr together.
fn output_of(command: &mut Command) -> Result<(bool, String), String> {
    let program = command.get_program().to_owned();
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {}: {err}", program.to_string_lossy()))?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

fn run_ok(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let (ok, text) = output_of(command)?;
    if ok {
        Ok(text)
    } else {
        Err(format!("{shown} failed:\n{text}"))
    }
}

fn chown_tree(path: &Path, uid: u32) -> Result<(), String> {
    run_ok(
        Command::new("chown")
            .args(["-R", &format!("{uid}:{uid}")])
            .arg(path),
    )
    .map(drop)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|err| format!("chmod {mode:o} {}: {err}", path.display()))
}

/// Where the autograder is and whom the student's code runs as: the flags of
/// `autograder-setup` and `autograde`, with Gradescope's paths by default.
#[derive(clap::Args, Debug)]
pub struct LayoutArgs {
    /// The unpacked autograder: ipc-labs/, private/ and the scripts.
    #[arg(long, value_name = "DIR", default_value = "/autograder/source")]
    source: PathBuf,
    /// The work directory: the vendored crates, the toolchain, the build slots.
    #[arg(long, value_name = "DIR", default_value = "/autograder/work")]
    work: PathBuf,
    /// The students' first user id (never 0: a student's code never runs as root); slot N runs
    /// as UID + N.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_UID, value_parser = student_uid)]
    uid: u32,
    /// The build slot to use.
    #[arg(long, value_name = "N", default_value_t = 0)]
    slot: usize,
}

impl LayoutArgs {
    fn layout(&self) -> Result<Layout, String> {
        Ok(Layout {
            source: absolute(&self.source)?,
            work: absolute(&self.work)?,
            uid: self.uid + self.slot as u32,
            slot: self.slot,
        })
    }
}

/// A `--uid`: a number, and not root's.
fn student_uid(value: &str) -> Result<u32, String> {
    match value.parse() {
        Ok(0) => Err("0 is root: the student's code never runs as root".into()),
        Ok(uid) => Ok(uid),
        Err(_) => Err(format!("`{value}` is not a user id")),
    }
}

/// `xtask autograder-setup`.
#[derive(clap::Args, Debug)]
pub struct Setup {
    #[command(flatten)]
    layout: LayoutArgs,
    /// How many build slots to prepare (grade-all's --jobs).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    slots: usize,
}

/// A `--slots`: a number, at least 1.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse() {
        Ok(0) | Err(_) => Err("a number, at least 1".into()),
        Ok(slots) => Ok(slots),
    }
}

/// `xtask autograder-setup --source DIR --work DIR [--uid N] [--slots N]`.
pub fn setup_command(args: &Setup) -> Result<(), String> {
    setup(&args.layout.layout()?, args.slots)
}

/// Prepares `layout.work` for `slots` build slots: the private files readable by root only,
/// the vendored crates, a toolchain the students' users may run, and each slot's warm build.
pub fn setup(layout: &Layout, slots: usize) -> Result<(), String> {
    if nix::unistd::geteuid().as_raw() != 0 {
        return Err(
            "the autograder runs as root: it runs the students' code as other users".into(),
        );
    }
    let private = layout.private();
    chown_tree(&private, 0)?;
    run_ok(Command::new("chmod").args(["-R", "go-rwx"]).arg(&private))?;
    std::fs::create_dir_all(&layout.work)
        .map_err(|err| format!("{}: {err}", layout.work.display()))?;
    set_mode(&layout.work, 0o755)?;
    // The students' users must reach the handout and the work directory, nothing more.
    for dir in layout.source.ancestors().chain(layout.work.ancestors()) {
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.mode() & 0o001 == 0
        {
            set_mode(dir, meta.mode() & 0o7777 | 0o001)?;
        }
    }
    run_ok(
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(layout.handout()),
    )?;
    set_mode(&layout.source, 0o711)?;
    student_toolchain(layout)?;
    let vendor = layout.work.join("vendor");
    if !vendor.is_dir() {
        println!("==> vendoring the crates into {}", vendor.display());
        let mut vendoring = Command::new("cargo");
        vendoring
            .args(["vendor", "--locked", "--versioned-dirs"])
            .arg(&vendor)
            .current_dir(layout.handout())
            .stdout(Stdio::null());
        let offline = output_of(vendoring.arg("--offline"))?;
        if !offline.0 {
            let mut online = Command::new("cargo");
            run_ok(
                online
                    .args(["vendor", "--locked", "--versioned-dirs"])
                    .arg(&vendor)
                    .current_dir(layout.handout())
                    .stdout(Stdio::null()),
            )?;
        }
        run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&vendor))?;
    }
    for slot in 0..slots {
        let layout = Layout {
            slot,
            uid: layout.uid - layout.slot as u32 + slot as u32,
            ..layout.clone()
        };
        warm(&layout)?;
    }
    Ok(())
}

/// The toolchain of this machine's `rustc`, where the students' users can run it: as it is if
/// they can, else a copy made of hard links (or a plain copy on another file system).
fn student_toolchain(layout: &Layout) -> Result<(), String> {
    let link = layout.toolchain();
    if link.join("bin/cargo").is_file() {
        return Ok(());
    }
    let sysroot = run_ok(Command::new("rustc").args(["--print", "sysroot"]))?;
    let sysroot = PathBuf::from(sysroot.trim());
    let mut probe = Command::new(sysroot.join("bin/cargo"));
    probe.arg("--version").uid(layout.uid).gid(layout.uid);
    if output_of(&mut probe).is_ok_and(|(ok, _)| ok) {
        std::os::unix::fs::symlink(&sysroot, &link)
            .map_err(|err| format!("{}: {err}", link.display()))?;
        return Ok(());
    }
    println!(
        "==> the students' user cannot run {}: copying it to {}",
        sysroot.display(),
        link.display()
    );
    let linked = output_of(Command::new("cp").arg("-al").arg(&sysroot).arg(&link))?;
    if !linked.0 {
        let _ = std::fs::remove_dir_all(&link);
        run_ok(Command::new("cp").arg("-a").arg(&sysroot).arg(&link))?;
    }
    run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&link)).map(drop)
}

/// Builds the handout's stubs in the slot, as a submission would be, and keeps a pristine copy.
fn warm(layout: &Layout) -> Result<(), String> {
    let slot = layout.slot_dir();
    let stamp = stamp_of(&layout.handout(), &layout.private())?;
    let stamp_file = layout.pristine().join(".stamp");
    if std::fs::read_to_string(&stamp_file).ok().as_deref() == Some(stamp.as_str())
        && layout.tests_file().is_file()
    {
        return Ok(());
    }
    println!(
        "==> warming build slot {} (user {})",
        slot.display(),
        layout.uid
    );
    // From the last pristine copy when there is one, never from a slot a student's code ran
    // in: only the sources change, and cargo compiles only what they change.
    if slot.exists() {
        std::fs::remove_dir_all(&slot).map_err(|err| format!("{}: {err}", slot.display()))?;
    }
    if layout.pristine().is_dir() {
        run_ok(
            Command::new("cp")
                .arg("-a")
                .arg(layout.pristine())
                .arg(&slot),
        )?;
        std::fs::remove_dir_all(layout.tree()).map_err(|err| format!("tree: {err}"))?;
        let _ = std::fs::remove_file(slot.join(".stamp"));
    }
    std::fs::create_dir_all(&slot).map_err(|err| format!("{}: {err}", slot.display()))?;
    set_mode(&slot, 0o755)?;
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(layout.handout())
            .arg(layout.tree()),
    )?;
    chown_tree(&layout.tree(), 0)?;
    run_ok(
        Command::new("chmod")
            .args(["-R", "a+rX,go-w"])
            .arg(layout.tree()),
    )?;
    for dir in ["target", "home", "cargo-home"] {
        std::fs::create_dir_all(slot.join(dir)).map_err(|err| format!("{dir}: {err}"))?;
    }
    write_file(
        &slot.join("cargo-home/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"vendored-sources\"\n\n\
             [source.vendored-sources]\ndirectory = \"{}\"\n\n[net]\noffline = true\n",
            layout.work.join("vendor").display()
        ),
    )?;
    for dir in ["target", "home", "cargo-home"] {
        chown_tree(&slot.join(dir), layout.uid)?;
    }
    let entries = private_entries(layout)?;
    let mut sandbox = Sandbox::new(layout.clone(), &entries, BTreeMap::new());
    for lab in points::labs(&entries) {
        let built = sandbox.build(&lab)?;
        if !built.success {
            return Err(format!(
                "the handout's {lab} lab does not compile in the sandbox:\n{}",
                grade::excerpt(&built.output)
            ));
        }
    }
    // The tests are the grader's, the same for every submission: listed once, here, they are
    // known even for a submission that does not compile, whose hidden tests stay hidden.
    let listed = sandbox.list_tests()?;
    let json = serde_json::to_string_pretty(&listed).map_err(|err| format!("tests: {err}"))?;
    // Root's alone: the hidden tests' names are not the students' to read.
    let file = layout.tests_file();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&file)
        .and_then(|mut out| std::io::Write::write_all(&mut out, json.as_bytes()))
        .map_err(|err| format!("{}: {err}", file.display()))?;
    set_mode(&file, 0o600)?;
    sandbox.forget_built_tests()?;
    let _ = std::fs::remove_dir_all(layout.bin());
    if layout.pristine().exists() {
        std::fs::remove_dir_all(layout.pristine()).map_err(|err| format!("pristine: {err}"))?;
    }
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(&slot)
            .arg(layout.pristine()),
    )?;
    std::fs::write(&stamp_file, &stamp).map_err(|err| format!(".stamp: {err}"))?;
    std::fs::write(slot.join(".pristine"), "").map_err(|err| format!(".pristine: {err}"))?;
    Ok(())
}

/// A digest of every file under `dirs` (names and contents): a warm slot is reused only for
/// the same handout and tests.
fn stamp_of(handout: &Path, private: &Path) -> Result<String, String> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut hasher = DefaultHasher::new();
    BUILD_ENV.hash(&mut hasher);
    for dir in [handout, private] {
        let mut files = crate::handout::workspace_files(dir)?;
        files.sort();
        for file in files {
            file.hash(&mut hasher);
            std::fs::read(dir.join(&file))
                .map_err(|err| format!("{}: {err}", file.display()))?
                .hash(&mut hasher);
        }
    }
    Ok(format!("{:016x}\n", hasher.finish()))
}

fn private_entries(layout: &Layout) -> Result<Vec<Entry>, String> {
    let file = layout.private().join("points.txt");
    let text =
        std::fs::read_to_string(&file).map_err(|err| format!("{}: {err}", file.display()))?;
    points::parse("points.txt", &text)
}

/// The slot as it was after [`warm`], for the next submission.
fn restore(layout: &Layout) -> Result<(), String> {
    let slot = layout.slot_dir();
    if slot.join(".pristine").is_file() {
        std::fs::remove_file(slot.join(".pristine")).map_err(|err| format!(".pristine: {err}"))?;
        return Ok(());
    }
    if !layout.pristine().is_dir() {
        return Err(format!(
            "{} is missing: run xtask autograder-setup first",
            layout.pristine().display()
        ));
    }
    std::fs::remove_dir_all(&slot).map_err(|err| format!("{}: {err}", slot.display()))?;
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(layout.pristine())
            .arg(&slot),
    )
    .map(drop)
}

/// The submission's workspace root: the folder itself, or the shallowest folder within three
/// levels that holds a Cargo.toml (a zip of the repository's folder).
fn submitted_root(submission: &Path) -> PathBuf {
    let mut level = vec![submission.to_path_buf()];
    for _ in 0..=3 {
        let mut next = Vec::new();
        for dir in &level {
            if dir.join("Cargo.toml").is_file() {
                return dir.clone();
            }
            if let Ok(entries) = std::fs::read_dir(dir) {
                let mut subdirs: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect();
                subdirs.sort();
                next.extend(subdirs);
            }
        }
        level = next;
    }
    submission.to_path_buf()
}

/// The student's `<lab>/src/lab.rs`, read without following a symbolic link anywhere below the
/// submission (a link could point at the grader's private files, which root may read).
fn read_submitted(submission: &Path, lab: &str) -> Result<Option<String>, String> {
    let relative = Path::new(lab).join("src/lab.rs");
    let mut path = submission.to_path_buf();
    for part in relative.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "{}: a symbolic link; submit the file itself",
                    relative.display()
                ));
            }
            Ok(_) => {}
            Err(_) => return Ok(None),
        }
    }
    let meta = std::fs::symlink_metadata(&path).map_err(|err| format!("{lab}: {err}"))?;
    if !meta.is_file() || meta.len() > MAX_LAB_FILE {
        return Err(format!(
            "{}: not a file of at most {MAX_LAB_FILE} bytes",
            relative.display()
        ));
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .map_err(|err| format!("{}: {err}", relative.display()))
}

/// The grading harness of one slot: labs built as the student's user, tests built as root,
/// tests run as the student's user.
pub struct Sandbox {
    layout: Layout,
    labs: Vec<String>,
    /// Each lab's tests, as [`warm`] listed them (none while it warms).
    tests: BTreeMap<String, LabTests>,
    built: BTreeMap<String, Build>,
}

impl Sandbox {
    fn new(layout: Layout, entries: &[Entry], tests: BTreeMap<String, LabTests>) -> Sandbox {
        Sandbox {
            layout,
            labs: points::labs(entries),
            tests,
            built: BTreeMap::new(),
        }
    }

    /// The tests that each lab's two test binaries, just built, list (`--list`, run as the
    /// student's user like every test binary).
    fn list_tests(&self) -> Result<BTreeMap<String, LabTests>, String> {
        let list = |lab: &str, binary: &str| {
            let mut command = Command::new(self.layout.bin().join(format!("{lab}-{binary}")));
            as_student(&mut command, &self.layout);
            command.current_dir(self.layout.tree().join(lab));
            let names = points::run_list(&mut command);
            reap::kill_user(self.layout.uid, self.layout.uid)?;
            names
        };
        let mut listed = BTreeMap::new();
        for lab in &self.labs {
            let tests = LabTests {
                visible: list(lab, "lab")?,
                all: list(lab, "lab_full")?,
            };
            listed.insert(lab.clone(), tests);
        }
        Ok(listed)
    }

    /// Phase 1, as the student's user: the lab's library, binaries and visible tests. Phase 2, as root, with
    /// no process of the student's left: the tests, which must find the library fresh.
    fn compile(&mut self, lab: &str) -> Result<Build, String> {
        let (compiled, output) = output_of(
            cargo(&self.layout, true)
                // The visible tests too: with them cargo builds the library with the features
                // the tests' dev-dependencies add, as root's build of the full tests will.
                .args(["test", "--no-run", "-p", lab, "--test", "lab"]),
        )?;
        reap::kill_user(self.layout.uid, self.layout.uid)?;
        if !compiled {
            return Ok(Build {
                success: false,
                output,
            });
        }
        let tests = self.layout.tree().join(lab).join("tests");
        let full = tests.join("lab_full.rs");
        std::fs::copy(self.layout.private().join(lab).join("lab_full.rs"), &full)
            .map_err(|err| format!("{}: {err}", full.display()))?;
        let built = output_of(cargo(&self.layout, false).args([
            "test",
            "--no-run",
            "-p",
            lab,
            "--test",
            "lab",
            "--test",
            "lab_full",
            "--message-format=json-render-diagnostics",
        ]));
        let _ = std::fs::remove_file(&full);
        let (ok, text) = built?;
        let library = lab.replace('-', "_");
        let mut binaries = Vec::new();
        for line in text.lines().filter(|line| line.starts_with('{')) {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            let name = message["target"]["name"].as_str().unwrap_or("");
            let kinds = message["target"]["kind"].to_string();
            if name == library && kinds.contains("lib") && message["fresh"] != true {
                return Err(format!(
                    "the {lab} library was compiled again as root: the grader refuses to compile a \
                     student's code as root (is the environment of the two builds the same?)"
                ));
            }
            if let Some(executable) = message["executable"].as_str()
                && kinds.contains("test")
                && (name == "lab" || name == "lab_full")
            {
                binaries.push((name.to_owned(), PathBuf::from(executable)));
            }
        }
        if !ok || binaries.len() != 2 {
            let readable: Vec<&str> = text.lines().filter(|l| !l.starts_with('{')).collect();
            return Ok(Build {
                success: false,
                output: readable.join("\n"),
            });
        }
        let bin = self.layout.bin();
        std::fs::create_dir_all(&bin).map_err(|err| format!("{}: {err}", bin.display()))?;
        set_mode(&bin, 0o711)?;
        for (name, executable) in binaries {
            let kept = bin.join(format!("{lab}-{name}"));
            std::fs::copy(&executable, &kept)
                .map_err(|err| format!("{}: {err}", kept.display()))?;
            set_mode(&kept, 0o711)?;
        }
        self.forget_built_tests()?;
        Ok(Build {
            success: true,
            output,
        })
    }

    /// Removes, from the target directory the student's user owns, what root compiled from the
    /// full test files: the binaries and the incremental caches of `lab_full`.
    fn forget_built_tests(&self) -> Result<(), String> {
        let target = self.layout.slot_dir().join("target/debug");
        for dir in ["deps", "incremental"] {
            let Ok(entries) = std::fs::read_dir(target.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with("lab_full-") {
                    let path = entry.path();
                    let removed = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.map_err(|err| format!("{}: {err}", path.display()))?;
                }
            }
        }
        Ok(())
    }
}

impl Harness for Sandbox {
    /// Every lab is compiled before the first test runs: a test runs the student's code, which
    /// could change what the next compilation links.
    fn build(&mut self, lab: &str) -> Result<Build, String> {
        if self.built.is_empty() {
            let started = Instant::now();
            for each in self.labs.clone() {
                let built = self.compile(&each)?;
                self.built.insert(each, built);
            }
            println!(
                "==> {} labs compiled in {:.1} s",
                self.built.len(),
                started.elapsed().as_secs_f64()
            );
        }
        let built = self
            .built
            .get(lab)
            .ok_or_else(|| format!("no lab {lab} in the points"))?;
        Ok(Build {
            success: built.success,
            output: built.output.clone(),
        })
    }

    /// The tests as [`warm`] listed them, the same whether this submission compiles or not.
    fn tests(&mut self, lab: &str) -> Result<Option<grade::Tests>, String> {
        let tests = self.tests.get(lab).ok_or_else(|| {
            format!("the setup listed no tests of the {lab} lab: run xtask autograder-setup")
        })?;
        Ok(Some(grade::Tests {
            present: tests.all.clone(),
            hidden: tests.all.difference(&tests.visible).cloned().collect(),
        }))
    }

    fn run_test(&mut self, entry: &Entry, hidden: bool, timeout: Duration) -> Result<Ran, String> {
        let binary = if hidden { "lab_full" } else { "lab" };
        let mut command = Command::new(self.layout.bin().join(format!("{}-{binary}", entry.lab)));
        as_student(&mut command, &self.layout);
        command
            .args(["--exact", &entry.test, "--nocapture", "--test-threads", "1"])
            .current_dir(self.layout.tree().join(&entry.lab));
        let ran = grade::run_logged(command, Some(timeout));
        reap::kill_user(self.layout.uid, self.layout.uid)?;
        ran
    }
}

/// `xtask autograde`.
#[derive(clap::Args, Debug)]
pub struct Autograde {
    #[command(flatten)]
    layout: LayoutArgs,
    /// The submission: the student's repository, or a folder that holds it.
    #[arg(long, value_name = "DIR", default_value = "/autograder/submission")]
    submission: PathBuf,
    /// Where to write results.json.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/autograder/results/results.json"
    )]
    results: PathBuf,
    #[command(flatten)]
    timing: grade::Timing,
    /// Grade only this lab (again for more labs; every lab by default).
    #[arg(long = "lab", value_name = "LAB")]
    labs: Vec<String>,
}

/// `xtask autograde --submission DIR --results FILE [--budget S] [--timeout S] [--lab L]...`
/// with the layout flags.
pub fn autograde_command(args: &Autograde) -> Result<(), String> {
    let layout = args.layout.layout()?;
    let (submission, results, labs) = (&args.submission, &args.results, &args.labs);
    let options = args.timing.options();
    let started = Instant::now();
    let outcome = autograde(&layout, submission, labs, &options);
    let results_file = match outcome {
        Ok(outcomes) => grade::results(&outcomes, started.elapsed()),
        Err(problem) => {
            eprintln!("xtask autograde: {problem}");
            crate::results::Results {
                score: 0.0,
                execution_time: started.elapsed().as_secs_f64(),
                output: format!("The grader stopped before grading: {problem}"),
                stdout_visibility: "hidden".into(),
                tests: Vec::new(),
            }
        }
    };
    if let Some(parent) = results.parent() {
        std::fs::create_dir_all(parent).map_err(|err| format!("{}: {err}", parent.display()))?;
    }
    // Written by root, with no process of the student's user left: nothing else writes it.
    std::fs::write(results, results_file.to_text())
        .map_err(|err| format!("{}: {err}", results.display()))?;
    println!(
        "wrote {} in {:.1} s",
        results.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Grades the submission at `submission` in the slot of `layout`.
pub fn autograde(
    layout: &Layout,
    submission: &Path,
    labs: &[String],
    options: &grade::Options,
) -> Result<Vec<grade::Outcome>, String> {
    if nix::unistd::geteuid().as_raw() != 0 {
        return Err(
            "the autograder runs as root: it runs the students' code as another user".into(),
        );
    }
    let private = layout.private();
    let mode = std::fs::metadata(&private)
        .map_err(|err| format!("{}: {err}", private.display()))?
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is readable by others (mode {:o}): run xtask autograder-setup",
            private.display(),
            mode & 0o777
        ));
    }
    reap::become_subreaper()?;
    let nproc = nix::sys::resource::Resource::RLIMIT_NPROC;
    nix::sys::resource::setrlimit(nproc, STUDENT_NPROC, STUDENT_NPROC)
        .map_err(|err| format!("setrlimit(RLIMIT_NPROC): {err}"))?;
    if !reap::processes_of(layout.uid).is_empty() {
        reap::kill_user(layout.uid, layout.uid)?;
    }
    let restoring = Instant::now();
    restore(layout)?;
    println!(
        "==> build slot {} ready in {:.1} s",
        layout.slot_dir().display(),
        restoring.elapsed().as_secs_f64()
    );
    let mut entries = private_entries(layout)?;
    if !labs.is_empty() {
        entries.retain(|e| labs.contains(&e.lab));
    }
    let root = submitted_root(submission);
    for lab in points::labs(&entries) {
        let file = format!("{lab}/src/lab.rs");
        let template_path = layout.handout().join(&file);
        let template = std::fs::read_to_string(&template_path)
            .map_err(|err| format!("{}: {err}", template_path.display()))?;
        let graded = match read_submitted(&root, &lab) {
            Ok(Some(text)) => match markers::splice(&file, &template, &file, &text) {
                Ok(spliced) => {
                    println!("graded: {file} (the text between its solution markers)");
                    spliced
                }
                Err(problem) => {
                    println!("not graded, the handout's stub instead: {problem}");
                    template.clone()
                }
            },
            Ok(None) => {
                println!("not submitted, graded as the handout's stub: {file}");
                template.clone()
            }
            Err(problem) => {
                println!("not graded, the handout's stub instead: {problem}");
                template.clone()
            }
        };
        let target = layout.tree().join(&file);
        // An unchanged file keeps its time, so that cargo does not compile it again.
        if std::fs::read_to_string(&target).ok().as_deref() != Some(graded.as_str()) {
            std::fs::write(&target, graded).map_err(|err| format!("{file}: {err}"))?;
        }
    }
    let file = layout.tests_file();
    let listed = std::fs::read_to_string(&file)
        .map_err(|err| format!("{}: {err}: run xtask autograder-setup", file.display()))?;
    let listed =
        serde_json::from_str(&listed).map_err(|err| format!("{}: {err}", file.display()))?;
    let mut sandbox = Sandbox::new(layout.clone(), &entries, listed);
    let outcomes = grade::run(options, &entries, &mut sandbox);
    reap::kill_user(layout.uid, layout.uid)?;
    outcomes
}

/// `cargo xtask grade-all SUBMISSIONS --csv FILE [--jobs N] [--hidden DIR] [--work DIR]
/// [--uid N] [--budget S] [--timeout S] [--lab L]... [--sources DIR]`.
#[derive(clap::Args, Debug)]
pub struct GradeAll {
    /// A folder that holds one folder per student.
    #[arg(value_name = "SUBMISSIONS")]
    pub submissions: PathBuf,
    /// The grades: one row per student, a column per lab.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// How many students to grade at once, 1 to 16.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub jobs: u8,
    /// A course's private tests and points, as for `autograder --hidden`.
    #[arg(long, value_name = "DIR")]
    pub hidden: Option<PathBuf>,
    /// The work directory [default: target/grade-all in the workspace].
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// The first student user id (never 0); job N runs as UID + N.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_UID, value_parser = student_uid)]
    pub uid: u32,
    #[command(flatten)]
    pub timing: grade::Timing,
    /// Grade only this lab (again for more labs; every lab by default).
    #[arg(long = "lab", value_name = "LAB")]
    pub labs: Vec<String>,
    /// Where to copy each student's LAB/src/lab.rs, as DIR/LAB/STUDENT.rs [default:
    /// lab-sources beside the CSV].
    #[arg(long, value_name = "DIR")]
    pub sources: Option<PathBuf>,
}

/// `cargo xtask grade-all`: grades every student's folder, `--jobs` at a time, into the CSV.
pub fn grade_all_command(root: &Path, args: &GradeAll) -> Result<(), String> {
    let submissions = absolute(&args.submissions)?;
    let csv = absolute(&args.csv)?;
    let jobs = usize::from(args.jobs);
    let hidden = args.hidden.as_deref().map(absolute).transpose()?;
    let work = match &args.work {
        Some(work) => absolute(work)?,
        None => root.join("target/grade-all"),
    };
    let uid = args.uid;
    let sources = match &args.sources {
        Some(sources) => absolute(sources)?,
        None => csv.parent().unwrap_or(Path::new(".")).join("lab-sources"),
    };
    let mut passed_on: Vec<String> = args.timing.to_args().into();
    for lab in &args.labs {
        passed_on.extend(["--lab".to_owned(), lab.clone()]);
    }
    let layout = Layout {
        source: work.join("autograder"),
        work: work.join("build"),
        uid,
        slot: 0,
    };
    write_autograder(root, &layout.source, hidden.as_deref())?;
    setup(&layout, jobs)?;
    let mut students: Vec<(String, PathBuf)> = std::fs::read_dir(&submissions)
        .map_err(|err| format!("{}: {err}", submissions.display()))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    students.sort();
    let results_dir = work.join("results");
    std::fs::create_dir_all(&results_dir).map_err(|err| format!("results: {err}"))?;
    let queue = std::sync::Mutex::new(students.clone().into_iter());
    // A copy of this program: cargo may build a new one over the running one (`cargo xtask
    // ci` builds the workspace while it runs), and /proc/self/exe still reads the running one.
    let exe = work.join("xtask");
    std::fs::copy("/proc/self/exe", &exe).map_err(|err| format!("{}: {err}", exe.display()))?;
    set_mode(&exe, 0o700)?;
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for slot in 0..jobs {
            let (queue, failures, layout, exe) = (&queue, &failures, &layout, &exe);
            let (results_dir, passed_on) = (&results_dir, &passed_on);
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                    let Some((student, dir)) = next else { break };
                    let started = Instant::now();
                    let log = results_dir.join(format!("{student}.log"));
                    let ran = std::fs::File::create(&log).and_then(|file| {
                        Command::new(exe)
                            .arg("autograde")
                            .arg("--source")
                            .arg(&layout.source)
                            .arg("--work")
                            .arg(&layout.work)
                            .args(["--uid", &layout.uid.to_string()])
                            .args(["--slot", &slot.to_string()])
                            .arg("--submission")
                            .arg(&dir)
                            .arg("--results")
                            .arg(results_dir.join(format!("{student}.json")))
                            .args(passed_on)
                            .stdin(Stdio::null())
                            .stdout(file.try_clone()?)
                            .stderr(file)
                            .status()
                    });
                    let line = format!(
                        "{student}: graded in {:.1} s (log: {})",
                        started.elapsed().as_secs_f64(),
                        log.display()
                    );
                    match ran {
                        Ok(status) if status.success() => println!("{line}"),
                        other => {
                            println!("{line}: FAILED ({other:?})");
                            if let Ok(mut failed) = failures.lock() {
                                failed.push(student);
                            }
                        }
                    }
                }
            });
        }
    });
    let entries = private_entries(&layout)?;
    let labs = points::labs(&entries);
    let mut table = format!("student,{},total,max,seconds\n", labs.join(","));
    for (student, dir) in &students {
        let file = results_dir.join(format!("{student}.json"));
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let results = crate::results::check(&text)
            .map_err(|err| format!("{student}: {}: {err}", file.display()))?;
        let mut row = vec![csv_field(student)];
        for lab in &labs {
            let prefix = format!("{lab}: ");
            let graded: Vec<f64> = results
                .tests
                .iter()
                .filter(|t| t.name.starts_with(&prefix))
                .map(|t| t.score)
                .collect();
            // A lab left out with --lab has an empty cell, not a 0.
            row.push(if graded.is_empty() {
                String::new()
            } else {
                graded
                    .iter()
                    .fold(0.0, |sum, score| sum + score)
                    .to_string()
            });
        }
        let max = results
            .tests
            .iter()
            .fold(0.0, |sum, test| sum + test.max_score);
        row.push(results.score.to_string());
        row.push(max.to_string());
        row.push(format!("{:.1}", results.execution_time));
        table.push_str(&row.join(","));
        table.push('\n');
        let root = submitted_root(dir);
        for lab in &labs {
            if let Ok(Some(text)) = read_submitted(&root, lab) {
                write_file(&sources.join(lab).join(format!("{student}.rs")), &text)?;
            }
        }
    }
    std::fs::write(&csv, &table).map_err(|err| format!("{}: {err}", csv.display()))?;
    println!(
        "wrote {} ({} students) and their lab.rs files under {}",
        csv.display(),
        students.len(),
        sources.display()
    );
    let failed = failures.into_inner().unwrap_or_default();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("the grader failed for: {}", failed.join(", ")))
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submitted_link_is_refused_and_a_file_read() {
        let dir = std::env::temp_dir().join(format!("xtask-submitted-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pipe/src")).unwrap();
        std::fs::create_dir_all(dir.join("fifo")).unwrap();
        std::fs::write(dir.join("pipe/src/lab.rs"), "fn f() {}\n").unwrap();
        // A link to a file root may read and the student's user may not.
        std::os::unix::fs::symlink("/etc/shadow", dir.join("fifo/src")).unwrap();
        assert_eq!(
            read_submitted(&dir, "pipe").unwrap().as_deref(),
            Some("fn f() {}\n")
        );
        let refused = read_submitted(&dir, "fifo").unwrap_err();
        assert!(refused.contains("a symbolic link"), "{refused}");
        assert_eq!(read_submitted(&dir, "shm").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_test_file_that_names_a_lab_crate_is_refused() {
        let fine = "use testkit::run;\nconst LAB: &str = env!(\"CARGO_BIN_EXE_lab_pipe\");\n\
                    // fifo::lab is not used here\nlet p = nix::unistd::pipe();\n";
        let labs: Vec<String> = ["pipe", "fifo", "shm", "process-states"]
            .map(String::from)
            .into();
        check_tests_stay_out_of_labs("pipe", fine, &labs).unwrap();
        for bad in [
            "use fifo::lab::record;\n",
            "let x = process_states::read_stat(pid);\n",
            "mod common;\n",
            "extern crate shm as s;\n",
        ] {
            assert!(
                check_tests_stay_out_of_labs("pipe", bad, &labs)
                    .unwrap_err()
                    .contains("pipe/tests/lab.rs:1:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn hidden_regions_keep_their_markers_and_nothing_else() {
        let text = "#[test]\nfn seen() {}\n// BEGIN HIDDEN TESTS\n#[test]\nfn unseen() {}\n\
                    // END HIDDEN TESTS\nfn after() {}\n";
        assert_eq!(
            hidden_regions("t.rs", text).unwrap(),
            "// BEGIN HIDDEN TESTS\n#[test]\nfn unseen() {}\n// END HIDDEN TESTS\n"
        );
        assert!(hidden_regions("t.rs", "// BEGIN HIDDEN TESTS\n").is_err());
    }
}
