//! Checks that every `{{#include file:anchor}}` in the book resolves to non-empty text.
//!
//! mdBook includes nothing, silently, when an anchor is missing or misspelled: a page would
//! lose its code without anyone noticing.

use std::path::Path;

/// Checks every Markdown file under `book_src`. Lists every broken include, not just the first.
pub fn check(book_src: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut resolved = 0;
    for page in markdown_files(book_src)? {
        let text =
            std::fs::read_to_string(&page).map_err(|err| format!("{}: {err}", page.display()))?;
        for directive in directives(&text) {
            match resolve(page.parent().unwrap_or(book_src), directive) {
                Ok(()) => resolved += 1,
                Err(why) => {
                    problems.push(format!("{}: {{{{{directive}}}}}: {why}", page.display()))
                }
            }
        }
    }
    if problems.is_empty() {
        println!("{resolved} includes resolve to non-empty text");
        Ok(())
    } else {
        Err(format!(
            "broken includes in the book:\n  {}",
            problems.join("\n  ")
        ))
    }
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

fn resolve(page_dir: &Path, directive: &str) -> Result<(), String> {
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
            anchored(&source, anchor).ok_or_else(|| format!("no anchor `{anchor}` in {file}"))?
        }
    };
    if included.trim().is_empty() {
        return Err("includes no text".to_owned());
    }
    Ok(())
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

fn marker<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.split_once(tag).map(|(_, name)| name.trim())
}

fn markdown_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(markdown_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "md") {
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
    fn line_ranges_are_one_based_and_inclusive() {
        assert_eq!(line_range("1\n2\n3\n4", "2:3"), "2\n3");
        assert_eq!(line_range("1\n2\n3\n4", "3:"), "3\n4");
        assert_eq!(line_range("1\n2\n3\n4", ":1"), "1");
    }
}
