//! Checks that every `{{#include file:anchor}}` in the book resolves to non-empty text, and
//! that every anchor in the sources is included somewhere.
//!
//! mdBook includes nothing, silently, when an anchor is missing or misspelled: a page would
//! lose its code without anyone noticing. An anchor that no page includes is the other half of
//! the same mistake (a page that meant to show it shows something else), or dead weight in a
//! file that students read. An anchored excerpt is also at most 40 lines long.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Checks every Markdown file under `<root>/book/src` against the Rust sources under `root`.
/// Lists every problem, not just the first.
pub fn check(root: &Path) -> Result<(), String> {
    let book_src = root.join("book/src");
    let mut problems = Vec::new();
    let mut resolved = 0;
    let mut used: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    for page in markdown_files(&book_src)? {
        let text =
            std::fs::read_to_string(&page).map_err(|err| format!("{}: {err}", page.display()))?;
        for directive in directives(&text) {
            match resolve(page.parent().unwrap_or(&book_src), directive) {
                Ok(anchor) => {
                    resolved += 1;
                    used.extend(anchor);
                }
                Err(why) => {
                    problems.push(format!("{}: {{{{{directive}}}}}: {why}", page.display()))
                }
            }
        }
    }
    for (file, anchor) in defined_anchors(root)? {
        if !used.contains(&(file.clone(), anchor.clone())) {
            let shown = file.strip_prefix(root).unwrap_or(&file).display();
            problems.push(format!(
                "{shown}: anchor `{anchor}` is defined but no page includes it"
            ));
        }
    }
    if problems.is_empty() {
        println!("{resolved} includes resolve to non-empty text; every anchor is included");
        Ok(())
    } else {
        Err(format!(
            "broken includes in the book:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// Every `ANCHOR: name` in the workspace's Rust files, with the file's canonical path.
fn defined_anchors(root: &Path) -> Result<BTreeSet<(PathBuf, String)>, String> {
    let mut found = BTreeSet::new();
    for file in files_with_extension(root, "rs")? {
        let source =
            std::fs::read_to_string(&file).map_err(|err| format!("{}: {err}", file.display()))?;
        let canonical = file.canonicalize().unwrap_or(file);
        found.extend(anchor_names(&source).map(|name| (canonical.clone(), name.to_owned())));
    }
    Ok(found)
}

/// The text between `{{` and `}}` of each include directive, such as
/// `#include ../../pipe/src/bin/duplex.rs:child`. An escaped `\{{#` is not a directive.
fn directives(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    // mdBook allows white space between the braces and the `#`.
    while let Some(start) = rest.find("{{") {
        let escaped = rest[..start].ends_with('\\');
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        if !escaped && (inner.starts_with("#include ") || inner.starts_with("#rustdoc_include ")) {
            found.push(inner);
        }
        rest = &after[end + 2..];
    }
    found
}

/// The longest excerpt a page may include by anchor: longer ones bury the lesson.
const MAX_EXCERPT_LINES: usize = 40;

/// Checks one directive; returns the file and anchor it includes, if it names an anchor.
fn resolve(page_dir: &Path, directive: &str) -> Result<Option<(PathBuf, String)>, String> {
    let target = directive
        .split_once(' ')
        .map(|(_, t)| t.trim())
        .unwrap_or_default();
    let (file, selector) = match target.split_once(':') {
        Some((file, selector)) => (file, Some(selector)),
        None => (target, None),
    };
    let path = page_dir.join(file);
    let source =
        std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut anchor_used = None;
    let included = match selector {
        None => source,
        Some(selector)
            if selector
                .split(':')
                .all(|part| part.is_empty() || part.parse::<usize>().is_ok()) =>
        {
            line_range(&source, selector)
        }
        Some(anchor) => {
            let text = anchored(&source, anchor)
                .ok_or_else(|| format!("no anchor `{anchor}` in {file}"))?;
            let canonical = path.canonicalize().unwrap_or(path);
            anchor_used = Some((canonical, anchor.to_owned()));
            text
        }
    };
    if included.trim().is_empty() {
        return Err("includes no text".to_owned());
    }
    let lines = included.trim_end().lines().count();
    if anchor_used.is_some() && lines > MAX_EXCERPT_LINES {
        return Err(format!(
            "includes {lines} lines; an excerpt in a chapter stays under {MAX_EXCERPT_LINES}"
        ));
    }
    Ok(anchor_used)
}

/// `start:end`, `start:` or `:end`, 1-based and inclusive, as mdBook reads them.
fn line_range(source: &str, selector: &str) -> String {
    let mut bounds = selector.split(':').map(|part| part.parse::<usize>().ok());
    let start = bounds.next().flatten().unwrap_or(1).max(1);
    let end = bounds.next().flatten().unwrap_or(usize::MAX);
    source
        .lines()
        .skip(start - 1)
        .take(end.saturating_sub(start - 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, without the lines of other anchors.
fn anchored(source: &str, anchor: &str) -> Option<String> {
    let mut inside = false;
    let mut text = Vec::new();
    for line in source.lines() {
        if let Some(name) = marker(line, "ANCHOR_END:") {
            if name == anchor && inside {
                return Some(text.join("\n"));
            }
        } else if let Some(name) = marker(line, "ANCHOR:") {
            inside |= name == anchor;
        } else if inside {
            text.push(line);
        }
    }
    None
}

/// The names of the anchors a source defines: comment lines `// ANCHOR: name`.
fn anchor_names(source: &str) -> impl Iterator<Item = &str> {
    source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("// ANCHOR:"))
        .map(str::trim)
}

fn marker<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.split_once(tag).map(|(_, name)| name.trim())
}

fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    files_with_extension(dir, "md")
}

/// The files under `dir` whose name ends in `.<extension>`, sorted; build output, git's store
/// and the built book are skipped.
fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let skipped = matches!(
            path.file_name().and_then(|name| name.to_str()),
            Some("target" | ".git")
        ) || path.ends_with("book/book");
        if path.is_dir() {
            if !skipped {
                files.extend(files_with_extension(&path, extension)?);
            }
        } else if path.extension().is_some_and(|ext| ext == extension) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str =
        "a\n// ANCHOR: outer\nb\n// ANCHOR: inner\nc\n// ANCHOR_END: inner\n// ANCHOR_END: outer\n";

    #[test]
    fn an_anchor_includes_its_lines_without_nested_markers() {
        assert_eq!(anchored(SOURCE, "outer").as_deref(), Some("b\nc"));
        assert_eq!(anchored(SOURCE, "inner").as_deref(), Some("c"));
        assert_eq!(anchored(SOURCE, "missing"), None);
    }

    #[test]
    fn directives_are_found_and_escaped_ones_skipped() {
        let page = "x {{#include a.rs:one}} y \\{{#include b.rs}} {{#title T}} {{ #include c.rs }}";
        assert_eq!(directives(page), vec!["#include a.rs:one", "#include c.rs"]);
    }

    #[test]
    fn anchors_are_defined_by_comment_lines_only() {
        let source = "// ANCHOR: one\n    // ANCHOR: two\nlet s = \"x // ANCHOR: three\";\n";
        assert_eq!(anchor_names(source).collect::<Vec<_>>(), vec!["one", "two"]);
    }

    #[test]
    fn line_ranges_are_one_based_and_inclusive() {
        assert_eq!(line_range("1\n2\n3\n4", "2:3"), "2\n3");
        assert_eq!(line_range("1\n2\n3\n4", "3:"), "3\n4");
        assert_eq!(line_range("1\n2\n3\n4", ":1"), "1");
    }
}
