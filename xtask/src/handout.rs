//! `cargo xtask handout --out DIR`: the students' workspace, made from the instructor's.
//!
//! Every file of the workspace (git's tracked and untracked-but-not-ignored files in a git
//! checkout) is copied into DIR, with the lab markers stripped from every `.rs` file (solutions
//! become `todo!` or the prompt, hidden tests go); instructor-only files (`grading/reference/`)
//! are left out. The handout gets a students' README, the GitHub Classroom workflow in
//! `.github/workflows/`, and a `.handout` mark. Its points file and workflow count the graded
//! tests that the handout's own test binaries list (`--list`, after `cargo test --no-run` in
//! DIR/target): the tests left once the hidden ones are stripped. Then the book is built from
//! the stripped sources, every file of DIR (the built book included) is searched for the
//! solutions' and hidden tests' lines, and the handout must build (`cargo build --workspace
//! --all-targets`, in DIR/target).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::markers;
use crate::points::{self, Entry};

/// The file that marks a directory as a handout: `cargo xtask ci` there skips the graded tests
/// (they fail until the labs are solved), and `handout --out` may overwrite it.
pub const MARK: &str = ".handout";

/// Where `cargo xtask ci` makes its handout, and `cargo xtask classroom` the one it lists the
/// graded tests in, relative to the workspace root.
pub const CHECK_DIR: &str = "target/handout-check";

/// Files the students never get, relative to the workspace root.
const INSTRUCTOR_ONLY: &[&str] = &["grading/reference/"];

/// What a handout holds, for the summary line.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files copied.
    pub files: usize,
    /// Solution regions replaced.
    pub solutions: usize,
    /// Hidden-test regions removed.
    pub hidden: usize,
    /// Secret lines searched for.
    pub secrets: usize,
    /// The solutions' lines among them (file, line number, text): what no autograder may hold.
    pub solution_lines: Vec<(String, usize, String)>,
    /// The graded tests the handout holds: the points file's entries that its test binaries
    /// list.
    pub shown: Vec<Entry>,
}

/// `cargo xtask handout --out DIR [--no-build]`: writes the handout into `out`; with `build`,
/// also builds its book and compiles it.
pub fn command(root: &Path, out: &Path, build: bool) -> Result<(), String> {
    let out = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|err| format!("current directory: {err}"))?
            .join(out)
    };
    let summary = make(root, &out, build, &out.join("target"))?;
    println!(
        "handout written to {}: {} files, {} solution regions replaced, {} hidden-test regions \
         removed; none of {} solution and hidden-test lines appears in it",
        out.display(),
        summary.files,
        summary.solutions,
        summary.hidden,
        summary.secrets
    );
    Ok(())
}

/// Writes the handout of the workspace at `root` into `out` and checks it; with `build`, also
/// builds its book and compiles it. Its labs' tests are compiled in any case, into `target`,
/// to list them.
pub fn make(root: &Path, out: &Path, build: bool, target: &Path) -> Result<Summary, String> {
    if out.starts_with(root) && !out.starts_with(root.join("target")) {
        return Err(format!(
            "{}: a handout inside the workspace must go under target/",
            out.display()
        ));
    }
    prepare(out)?;
    let mut summary = Summary::default();
    let mut secrets: Vec<(String, usize, String)> = Vec::new();
    // The students' Rust sources, all of them: a secret line found there is code the handout
    // shows anyway (a solution may repeat a line of an example), and gives nothing away.
    let mut shown_code = String::new();
    for relative in workspace_files(root)? {
        let shown = relative.to_string_lossy().into_owned();
        if INSTRUCTOR_ONLY
            .iter()
            .any(|prefix| shown.starts_with(prefix))
        {
            continue;
        }
        let from = root.join(&relative);
        let to = out.join(&relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("{}: {err}", parent.display()))?;
        }
        if relative.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&from).map_err(|err| format!("{shown}: {err}"))?;
            let lab = relative
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .unwrap_or_default();
            let stripped = markers::strip(&shown, &text, &lab)?;
            summary.solutions += stripped.solutions;
            summary.hidden += stripped.hidden;
            shown_code.push_str(&stripped.text);
            shown_code.push('\n');
            secrets.extend(
                stripped
                    .secret
                    .into_iter()
                    .map(|(line, secret)| (shown.clone(), line, secret)),
            );
            summary.solution_lines.extend(
                stripped
                    .solution_secret
                    .into_iter()
                    .map(|(line, secret)| (shown.clone(), line, secret)),
            );
            std::fs::write(&to, stripped.text).map_err(|err| format!("{}: {err}", to.display()))?;
        } else {
            std::fs::copy(&from, &to).map_err(|err| format!("{shown}: {err}"))?;
        }
        summary.files += 1;
    }
    summary.shown = write_extras(root, out, target)?;
    let index = SecretIndex::new(&secrets);
    let in_code = index.find(shown_code.as_bytes());
    let secrets: Vec<(String, usize, String)> = secrets
        .into_iter()
        .enumerate()
        .filter(|(at, _)| !in_code.contains(at))
        .map(|(_, secret)| secret)
        .collect();
    summary.secrets = secrets.len();
    summary
        .solution_lines
        .retain(|line| secrets.iter().any(|secret| secret == line));
    if build && out.join("book/book.toml").is_file() {
        crate::build_book(out)?;
        println!("==> book includes in the handout");
        crate::includes::check(out)?;
    }
    check_no_secrets(out, &secrets)?;
    if build {
        let target = target.to_string_lossy();
        crate::cargo_with(
            out,
            &["build", "--workspace", "--all-targets"],
            &[("CARGO_TARGET_DIR", &target)],
        )?;
    }
    Ok(summary)
}

/// Makes `out` an empty directory, but for a previous handout's `.git/` and `target/`; refuses
/// a non-empty directory that is not a handout.
fn prepare(out: &Path) -> Result<(), String> {
    if out.exists() {
        let entries: Vec<_> = std::fs::read_dir(out)
            .map_err(|err| format!("{}: {err}", out.display()))?
            .flatten()
            .collect();
        if !entries.is_empty() && !out.join(MARK).exists() {
            return Err(format!(
                "{} is not empty and is not a handout: choose another directory",
                out.display()
            ));
        }
        for entry in entries {
            let path = entry.path();
            // A handout is pushed as the template repository and updated by running this
            // again: its git history stays, and so does its build, to build faster.
            if entry.file_name() == "target" || entry.file_name() == ".git" {
                continue;
            }
            let removed = if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|err| format!("{}: {err}", path.display()))?;
        }
    }
    std::fs::create_dir_all(out).map_err(|err| format!("{}: {err}", out.display()))
}

/// The workspace's files, relative to `root`: in a git checkout, the tracked files and the
/// untracked ones git does not ignore; elsewhere, every file but build output and git's store.
pub fn workspace_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let listed = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    let in_git = Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .and_then(|top| Path::new(&top).canonicalize().ok())
        .is_some_and(|top| root.canonicalize().is_ok_and(|root| root == top));
    let mut files: Vec<PathBuf> = match listed {
        Ok(listed) if in_git && listed.status.success() => listed
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
            // A file deleted but not yet committed is still listed.
            .filter(|name| root.join(name).is_file())
            .collect(),
        _ => {
            let mut files = Vec::new();
            walk(root, Path::new(""), &mut files)?;
            files
        }
    };
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let dir = root.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    for entry in entries.flatten() {
        let name = relative.join(entry.file_name());
        let skipped = matches!(entry.file_name().to_str(), Some("target" | ".git" | MARK))
            || name == Path::new("book/book");
        if skipped {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|err| format!("{}: {err}", name.display()))?;
        if kind.is_dir() {
            walk(root, &name, files)?;
        } else if kind.is_file() {
            files.push(name);
        }
    }
    Ok(())
}

/// The students' README, the mark, and the points file and the Classroom workflow (where
/// GitHub looks for it) for the graded tests that the handout holds, which it returns.
fn write_extras(root: &Path, out: &Path, target: &Path) -> Result<Vec<Entry>, String> {
    let write = |relative: &str, text: &str| {
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|err| format!("{}: {err}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))
    };
    write(
        MARK,
        "This directory is a students' handout made by `cargo xtask handout`.\n",
    )?;
    let original = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    write("README.md", &student_readme(&original))?;
    // The handout counts only the tests it holds: its points file lists no hidden test (a
    // Classroom step earns its points on exit 0 only, and a hidden test cannot pass there), and
    // its workflow is written from that list. The tests it holds are those its compiled test
    // binaries list: the lab crates compile with their `todo!()` stubs.
    let Some(entries) = points::load(root)? else {
        return Ok(Vec::new());
    };
    println!(
        "==> listing the handout's graded tests (cargo test --no-run, in {})",
        target.display()
    );
    let listed = points::list(out, Some(target), &points::labs(&entries), "lab")?;
    let shown = points::present(&entries, &listed);
    let text = std::fs::read_to_string(root.join(points::FILE))
        .map_err(|err| format!("{}: {err}", points::FILE))?;
    write(points::FILE, &points::filtered(&text, &shown))?;
    let workflow = crate::classroom::workflow(&shown);
    write(crate::classroom::FILE, &workflow)?;
    write(".github/workflows/classroom.yml", &workflow)?;
    Ok(shown)
}

/// The students' README: how to do and check the labs, then the project's own README without
/// its section for instructors.
pub fn student_readme(original: &str) -> String {
    let mut about = String::new();
    let mut skipping = false;
    for line in original.lines() {
        if line.starts_with("## ") {
            skipping = line.trim() == "## Teaching with ipc-labs";
        }
        if line.starts_with("# ") && about.is_empty() {
            continue;
        }
        if !skipping {
            about.push_str(line);
            about.push('\n');
        }
    }
    format!(
        "# ipc-labs: the labs\n\
         \n\
         This workspace is your lab assignment. Each lab lives in one crate (`pipe`, `fifo`,\n\
         `msgqueue`, `semaphore`, `shm`, `process-states`, `posix`): the functions to write are\n\
         in `<crate>/src/lab.rs`, and the tests that grade them are in `<crate>/tests/lab.rs`.\n\
         The book has a page for each lab (the goal, what it teaches, the tasks, hints).\n\
         \n\
         ```console\n\
         mdbook serve book --open        # the book (cargo install mdbook --locked --version 0.5.4)\n\
         cargo xtask grade pipe          # one lab's graded tests, with points\n\
         cargo xtask grade               # every lab: a table and `Score X/Y`\n\
         ```\n\
         \n\
         `cargo xtask grade` prints one row per graded test (lab, test, points, PASS or FAIL) and\n\
         your score; the points are in `grading/points.txt`. Under a failing test it shows why:\n\
         the compiler's first errors, or the assertion that failed. A test that runs longer than\n\
         its deadline is stopped, with every process it started, and scores 0. To see a test's\n\
         whole output, run it alone: `cargo test -p pipe --test lab -- --exact <test_name>\n\
         --nocapture`. Your instructor may grade with more tests than you see.\n\
         \n\
         ## What you may change\n\
         \n\
         Write your code between the `// BEGIN SOLUTION` and `// END SOLUTION` lines of each\n\
         `<crate>/src/lab.rs`, and keep those lines. The grader takes the text between them, and\n\
         nothing else: not the rest of `lab.rs`, not any other file you change or add. Helpers you\n\
         need go between the markers too. Tests of your own may go anywhere; they are not graded.\n\
         \n\
         ## About this workspace\n\
         {about}"
    )
}

/// The secret lines, as they are and as HTML or JSON would escape them, indexed by their first
/// bytes for a fast search.
struct SecretIndex {
    /// Each form of each secret, with the secret's index.
    needles: Vec<(Vec<u8>, usize)>,
    /// The needles by their first [`markers::MIN_SECRET_LEN`] bytes.
    by_prefix: HashMap<Vec<u8>, Vec<usize>>,
}

impl SecretIndex {
    fn new(secrets: &[(String, usize, String)]) -> SecretIndex {
        let mut needles: Vec<(Vec<u8>, usize)> = Vec::new();
        for (index, (_, _, secret)) in secrets.iter().enumerate() {
            let forms = [secret.clone(), html_escaped(secret), json_escaped(secret)];
            let unique: BTreeSet<String> = forms.into_iter().collect();
            needles.extend(unique.into_iter().map(|form| (form.into_bytes(), index)));
        }
        let mut by_prefix: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (at, (needle, _)) in needles.iter().enumerate() {
            by_prefix
                .entry(needle[..markers::MIN_SECRET_LEN].to_vec())
                .or_default()
                .push(at);
        }
        SecretIndex { needles, by_prefix }
    }

    /// The indices of the secrets that occur in `bytes`.
    fn find(&self, bytes: &[u8]) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        if self.needles.is_empty() {
            return found;
        }
        for start in 0..bytes.len().saturating_sub(markers::MIN_SECRET_LEN - 1) {
            let window = &bytes[start..start + markers::MIN_SECRET_LEN];
            if let Some(candidates) = self.by_prefix.get(window) {
                for &candidate in candidates {
                    let (needle, secret) = &self.needles[candidate];
                    if bytes[start..].starts_with(needle) {
                        found.insert(*secret);
                    }
                }
            }
        }
        found
    }
}

/// Searches every file under `out` (but its `target/`) for the secret lines, as they are and
/// as HTML or JSON would escape them; any hit is an error naming the file.
pub fn check_no_secrets(out: &Path, secrets: &[(String, usize, String)]) -> Result<(), String> {
    let index = SecretIndex::new(secrets);
    let mut files = Vec::new();
    walk(out, Path::new(""), &mut files)?;
    // The built book is skipped by `walk`; it is what most needs searching.
    let book = out.join("book/book");
    if book.is_dir() {
        let mut built = Vec::new();
        walk(&book, Path::new(""), &mut built)?;
        files.extend(built.into_iter().map(|f| Path::new("book/book").join(f)));
    }
    let mut problems = Vec::new();
    for relative in files {
        let path = out.join(&relative);
        let bytes = std::fs::read(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        for secret in index.find(&bytes) {
            let (file, line, text) = &secrets[secret];
            problems.push(format!(
                "{}: contains `{text}` (from {file}:{line})",
                relative.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "solution or hidden-test text in the handout ({}):\n  {}",
            out.display(),
            problems.join("\n  ")
        ))
    }
}

fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_student_readme_drops_the_teaching_section() {
        let original = "# ipc-labs\n\nIntro.\n\n## Teaching with ipc-labs\n\nhandout stuff\n\n\
                        ## Layout\n\nfiles\n";
        let readme = student_readme(original);
        assert!(readme.starts_with("# ipc-labs: the labs\n"));
        assert!(readme.contains("cargo xtask grade"));
        assert!(readme.contains("Intro."));
        assert!(readme.contains("## Layout"));
        assert!(!readme.contains("handout stuff"));
    }

    #[test]
    fn escaped_forms_are_what_html_and_json_show() {
        assert_eq!(html_escaped("a < b && c"), "a &lt; b &amp;&amp; c");
        assert_eq!(json_escaped("say \"hi\""), "say \\\"hi\\\"");
    }
}
