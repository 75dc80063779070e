//! The Chinese book's catalogue, `po/zh-CN.po`: keeping it in step with the English text.
//!
//! `mdbook-xgettext` (mdbook-i18n-helpers 0.4) extracts every message of the English book, after
//! the included sources are in place, into `po/messages.pot`; GNU gettext's `msgmerge` brings
//! the catalogue up to date with it. A message that comes from a code block (a comment or a
//! string of an included source, a line of C written for the book) is "translated" to itself:
//! code, its comments and the programs' output stay as they are, and without a translation the
//! catalogue would count them as untranslated for ever.
//!
//! Which lines are code is read from the book as the renderers see it (includes expanded), which
//! mdBook hands to a command renderer as JSON: the line numbers in the catalogue count in that
//! text, not in the Markdown files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The catalogue, relative to the repository's root.
pub const CATALOGUE: &str = "po/zh-CN.po";
/// The template, relative to the repository's root (generated; git ignores it).
pub const TEMPLATE: &str = "po/messages.pot";

/// One entry of a PO file: its source lines, flags and the two strings, unescaped.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Entry {
    pub references: Vec<String>,
    pub flags: Vec<String>,
    pub msgid: String,
    pub msgstr: String,
    /// A `#~` entry: no longer in the template.
    pub obsolete: bool,
}

/// Parses a PO file's entries (the header, whose msgid is empty, included).
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut entry = Entry::default();
        let mut field: Option<&str> = None;
        for raw in block.lines() {
            let line = raw.trim_end();
            let (line, obsolete) = match line.strip_prefix("#~ ") {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            entry.obsolete |= obsolete;
            if let Some(refs) = line.strip_prefix("#: ") {
                entry
                    .references
                    .extend(refs.split_whitespace().map(str::to_owned));
            } else if let Some(flags) = line.strip_prefix("#, ") {
                entry
                    .flags
                    .extend(flags.split(',').map(|f| f.trim().to_owned()));
            } else if line.starts_with('#') {
                continue;
            } else if let Some(rest) = line.strip_prefix("msgid ") {
                field = Some("msgid");
                entry.msgid = unquote(rest)?;
            } else if let Some(rest) = line.strip_prefix("msgstr ") {
                field = Some("msgstr");
                entry.msgstr = unquote(rest)?;
            } else if line.starts_with('"') {
                let part = unquote(line)?;
                match field {
                    Some("msgid") => entry.msgid.push_str(&part),
                    Some("msgstr") => entry.msgstr.push_str(&part),
                    _ => return Err(format!("a string outside msgid and msgstr: {line}")),
                }
            } else if !line.is_empty() {
                return Err(format!("a line a PO file does not have: {line}"));
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// A PO string literal, `"..."`, unescaped.
fn unquote(quoted: &str) -> Result<String, String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or_else(|| format!("not a quoted string: {quoted}"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            other => {
                return Err(format!(
                    "an escape PO does not have: \\{other:?} in {quoted}"
                ));
            }
        }
    }
    Ok(out)
}

/// `s` as PO lines after `keyword` (`msgid`/`msgstr`), split after each newline as gettext does.
fn quote_lines(keyword: &str, s: &str) -> String {
    let escape = |part: &str| {
        part.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    let parts: Vec<&str> = s.split_inclusive('\n').collect();
    if parts.len() <= 1 {
        return format!("{keyword} \"{}\"\n", escape(s));
    }
    let mut out = format!("{keyword} \"\"\n");
    for part in parts {
        out.push_str(&format!("\"{}\"\n", escape(part)));
    }
    out
}

/// Extracts the English book's messages into `dir/xgettext/messages.pot`, and the book as the
/// renderers see it into `dir/chapters/chapters.json`; returns the two paths.
fn extract(root: &Path, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let _ = std::fs::remove_dir_all(dir);
    let outputs = r#"{"xgettext": {"pot-file": "messages.pot"},
                      "chapters": {"command": "sh -c \"cat > chapters.json\""}}"#;
    let output = Command::new("mdbook")
        .args(["build", "book", "-d"])
        .arg(dir)
        .env("MDBOOK_OUTPUT", outputs)
        .current_dir(root)
        .output()
        .map_err(|err| format!("cannot run mdbook: {err}"))?;
    let pot = dir.join("xgettext/messages.pot");
    let chapters = dir.join("chapters/chapters.json");
    if !output.status.success() || !pot.exists() || !chapters.exists() {
        return Err(format!(
            "mdbook could not extract the messages (is mdbook-i18n-helpers 0.4 installed? \
             cargo install mdbook-i18n-helpers --locked --version 0.4.0):\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok((pot, chapters))
}

/// The lines (1-based) of each chapter's text that lie in a fenced code block, the fences
/// included, by the chapter's source path as the catalogue names it (`src/...`).
fn code_lines(chapters_json: &Path) -> Result<BTreeMap<String, BTreeSet<usize>>, String> {
    let text = std::fs::read_to_string(chapters_json).map_err(|err| err.to_string())?;
    let context: serde_json::Value = serde_json::from_str(&text).map_err(|err| err.to_string())?;
    let mut found = BTreeMap::new();
    let mut stack: Vec<&serde_json::Value> = context["book"]["items"]
        .as_array()
        .map(|items| items.iter().collect())
        .unwrap_or_default();
    while let Some(item) = stack.pop() {
        let Some(chapter) = item.get("Chapter") else {
            continue;
        };
        if let Some(subs) = chapter["sub_items"].as_array() {
            stack.extend(subs);
        }
        let (Some(path), Some(content)) =
            (chapter["source_path"].as_str(), chapter["content"].as_str())
        else {
            continue;
        };
        found.insert(format!("src/{path}"), fenced_lines(content));
    }
    Ok(found)
}

/// The lines of Markdown `text` inside fenced code blocks (``` or ~~~), fences included.
pub fn fenced_lines(text: &str) -> BTreeSet<usize> {
    let mut inside = BTreeSet::new();
    let mut fence: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        match &fence {
            None if marker.len() >= 3 && (marker.starts_with('`') != marker.contains('~')) => {
                fence = Some(marker);
                inside.insert(number);
            }
            None => {}
            Some(open) => {
                inside.insert(number);
                let closes = trimmed.trim_end();
                if closes.len() >= open.len() && closes.chars().all(|c| open.starts_with(c)) {
                    fence = None;
                }
            }
        }
    }
    inside
}

/// Whether every place an entry comes from lies in a code block.
fn is_code(entry: &Entry, code: &BTreeMap<String, BTreeSet<usize>>) -> bool {
    !entry.references.is_empty()
        && entry.references.iter().all(|reference| {
            let (file, line) = reference.rsplit_once(':').unwrap_or((reference, ""));
            let line: usize = line.parse().unwrap_or(0);
            code.get(file).is_some_and(|lines| lines.contains(&line))
        })
}

/// Rewrites the catalogue so that every code entry is translated to itself and not fuzzy.
/// Returns how many entries it changed.
fn fill_code(catalogue: &Path, code: &BTreeMap<String, BTreeSet<usize>>) -> Result<usize, String> {
    let text = std::fs::read_to_string(catalogue).map_err(|err| err.to_string())?;
    let mut changed = 0;
    let mut blocks = Vec::new();
    for block in text.split("\n\n") {
        let parsed = parse(block)?;
        let Some(entry) = parsed.first() else {
            blocks.push(block.to_owned());
            continue;
        };
        let fuzzy = entry.flags.iter().any(|f| f == "fuzzy");
        if entry.obsolete
            || entry.msgid.is_empty()
            || !is_code(entry, code)
            || (entry.msgstr == entry.msgid && !fuzzy)
        {
            blocks.push(block.to_owned());
            continue;
        }
        let mut rebuilt = String::new();
        for line in block.lines() {
            if line.starts_with("#|") {
                continue; // the previous msgid of a fuzzy match: nothing to review any more
            }
            if let Some(flags) = line.strip_prefix("#, ") {
                let kept: Vec<&str> = flags
                    .split(',')
                    .map(str::trim)
                    .filter(|f| *f != "fuzzy")
                    .collect();
                if !kept.is_empty() {
                    rebuilt.push_str(&format!("#, {}\n", kept.join(", ")));
                }
                continue;
            }
            if line.starts_with('#') {
                rebuilt.push_str(line);
                rebuilt.push('\n');
            }
        }
        rebuilt.push_str(&quote_lines("msgid", &entry.msgid));
        rebuilt.push_str(quote_lines("msgstr", &entry.msgid).trim_end());
        blocks.push(rebuilt);
        changed += 1;
    }
    std::fs::write(catalogue, blocks.join("\n\n")).map_err(|err| err.to_string())?;
    Ok(changed)
}

fn run(command: &mut Command, what: &str) -> Result<String, String> {
    let output = command.output().map_err(|err| {
        format!("cannot run {what} (install GNU gettext: apt-get install gettext): {err}")
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{what} failed:\n{text}"))
    }
}

/// `cargo xtask po-update`: refreshes `po/messages.pot` from the English book, merges it into
/// `po/zh-CN.po` (new messages come in untranslated, changed ones fuzzy, with the old
/// translation to start from), and translates the code entries to themselves.
pub fn update(root: &Path) -> Result<(), String> {
    let (pot, chapters) = extract(root, &root.join("target/po"))?;
    std::fs::create_dir_all(root.join("po")).map_err(|err| err.to_string())?;
    std::fs::copy(&pot, root.join(TEMPLATE)).map_err(|err| err.to_string())?;
    let catalogue = root.join(CATALOGUE);
    if catalogue.exists() {
        run(
            Command::new("msgmerge")
                .args(["--quiet", "--update", "--backup=none", "--width=100"])
                .arg(&catalogue)
                .arg(root.join(TEMPLATE)),
            "msgmerge",
        )?;
    } else {
        run(
            Command::new("msginit")
                .args([
                    "--no-translator",
                    "--locale=zh_CN.UTF-8",
                    "--width=100",
                    "--input",
                ])
                .arg(root.join(TEMPLATE))
                .arg("--output-file")
                .arg(&catalogue),
            "msginit",
        )?;
    }
    let filled = fill_code(&catalogue, &code_lines(&chapters)?)?;
    println!("{CATALOGUE}: merged with {TEMPLATE}; {filled} code entries kept as they are");
    println!("{}", statistics(&catalogue)?.0);
    Ok(())
}

/// `msgfmt --check --statistics`: its line, and the untranslated and fuzzy counts.
fn statistics(catalogue: &Path) -> Result<(String, u64, u64), String> {
    let said = run(
        Command::new("msgfmt")
            .args(["--check", "--statistics", "--output-file=/dev/null"])
            .arg(catalogue),
        "msgfmt --check",
    )?;
    let line = said.trim().to_owned();
    let count = |word: &str| -> u64 {
        line.split(',')
            .find(|part| part.contains(word))
            .and_then(|part| part.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (untranslated, fuzzy) = (count("untranslated"), count("fuzzy"));
    Ok((line, untranslated, fuzzy))
}

/// The CI check: the catalogue holds every message of the English book as it is now, each
/// translated, none fuzzy, code entries unchanged, and `msgfmt --check` accepts it.
pub fn check(root: &Path) -> Result<(), String> {
    println!("==> the Chinese catalogue against the English book");
    let (pot, chapters) = extract(root, &root.join("target/po-check"))?;
    let template = parse(&std::fs::read_to_string(&pot).map_err(|err| err.to_string())?)?;
    let catalogue_path = root.join(CATALOGUE);
    let catalogue = parse(
        &std::fs::read_to_string(&catalogue_path).map_err(|err| format!("{CATALOGUE}: {err}"))?,
    )?;
    let translated: BTreeMap<&str, &Entry> = catalogue
        .iter()
        .filter(|e| !e.obsolete && !e.msgid.is_empty())
        .map(|e| (e.msgid.as_str(), e))
        .collect();
    let code = code_lines(&chapters)?;
    let mut problems = Vec::new();
    for entry in template.iter().filter(|e| !e.msgid.is_empty()) {
        let place = entry.references.first().cloned().unwrap_or_default();
        match translated.get(entry.msgid.as_str()) {
            None => problems.push(format!(
                "{place}: not in the catalogue (stale: run cargo xtask po-update): {:?}",
                short(&entry.msgid)
            )),
            Some(found) if is_code(entry, &code) && found.msgstr != entry.msgid => {
                problems.push(format!(
                    "{place}: code must stay as it is: {:?}",
                    short(&entry.msgid)
                ))
            }
            Some(_) => {}
        }
    }
    let (line, untranslated, fuzzy) = statistics(&catalogue_path)?;
    if untranslated > 0 || fuzzy > 0 {
        problems.push(format!("{CATALOGUE}: {line}"));
    }
    if problems.is_empty() {
        println!(
            "{CATALOGUE}: {}; every message of the English book is there",
            line.trim_end_matches('.')
        );
        Ok(())
    } else {
        let shown = problems.len().min(20);
        Err(format!(
            "the Chinese catalogue is not in step with the English book ({} problems, the first \
             {shown}):\n  {}",
            problems.len(),
            problems[..shown].join("\n  ")
        ))
    }
}

fn short(text: &str) -> String {
    let mut cut: String = text.chars().take(70).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// Gives every heading of the Chinese book the id of the same heading in the English book.
///
/// mdBook makes a heading's id from its text, so a translated heading gets a Chinese id, and
/// every link to `page.html#what-this-part-covers` (the catalogue keeps link targets as they
/// are) would land at the top of the page instead. Both books have the same headings in the
/// same order, so the n-th heading of a Chinese page takes the n-th English id; its own link
/// and the search index's links to it follow. Returns how many ids changed.
pub fn align_heading_ids(english: &Path, chinese: &Path) -> Result<usize, String> {
    let mut changed = 0;
    let index = find_search_index(chinese)?;
    let mut search_index = match &index {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|err| err.to_string())?),
        None => None,
    };
    for page in crate::browser::html_pages(chinese)? {
        let relative = page.strip_prefix(chinese).map_err(|err| err.to_string())?;
        let original = english.join(relative);
        if relative.starts_with("zh-CN") || !original.is_file() {
            continue;
        }
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))
        };
        let (mut html, english_html) = (read(&page)?, read(&original)?);
        let (ours, theirs) = (heading_ids(&html), heading_ids(&english_html));
        if ours.len() != theirs.len() {
            return Err(format!(
                "{}: {} headings in Chinese, {} in English",
                relative.display(),
                ours.len(),
                theirs.len()
            ));
        }
        let url = relative.to_string_lossy().replace('\\', "/");
        for (from, to) in ours.iter().zip(&theirs).filter(|(from, to)| from != to) {
            for (old, new) in [
                (format!(" id=\"{from}\">"), format!(" id=\"{to}\">")),
                (format!("href=\"#{from}\""), format!("href=\"#{to}\"")),
            ] {
                html = html.replacen(&old, &new, 1);
            }
            if let Some(text) = &mut search_index {
                *text = text.replace(&format!("\"{url}#{from}\""), &format!("\"{url}#{to}\""));
            }
            changed += 1;
        }
        std::fs::write(&page, html).map_err(|err| err.to_string())?;
    }
    if let (Some(path), Some(text)) = (index, search_index) {
        std::fs::write(path, text).map_err(|err| err.to_string())?;
    }
    Ok(changed)
}

/// The ids of a page's headings, in order (`<h2 id="...">`).
fn heading_ids(html: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<h") {
        rest = &rest[start + 2..];
        let is_heading = rest
            .chars()
            .next()
            .is_some_and(|c| ('1'..='6').contains(&c));
        if let Some(tail) = rest.get(1..).and_then(|t| t.strip_prefix(" id=\""))
            && is_heading
            && let Some(end) = tail.find('"')
        {
            ids.push(tail[..end].to_owned());
        }
    }
    ids
}

/// mdBook's search index (`searchindex-<hash>.js`), if the book has one.
fn find_search_index(book: &Path) -> Result<Option<PathBuf>, String> {
    let entries = std::fs::read_dir(book).map_err(|err| format!("{}: {err}", book.display()))?;
    Ok(entries.flatten().map(|e| e.path()).find(|path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("searchindex") && n.ends_with(".js"))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_continuations_flags_and_escapes() {
        let text = "msgid \"\"\nmsgstr \"Language: zh_CN\\n\"\n\n\
                    #: src/a.md:3 src/b.md:7\n#, fuzzy\nmsgid \"\"\n\"one \\\"two\\\"\\n\"\n\"three\"\n\
                    msgstr \"一\"\n\n#~ msgid \"gone\"\n#~ msgstr \"去\"\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].references, ["src/a.md:3", "src/b.md:7"]);
        assert_eq!(entries[1].flags, ["fuzzy"]);
        assert_eq!(entries[1].msgid, "one \"two\"\nthree");
        assert_eq!(entries[1].msgstr, "一");
        assert!(entries[2].obsolete);
        assert_eq!(entries[2].msgid, "gone");
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "a \"quote\" and \\ a backslash",
            "two\nlines\n",
            "tab\there",
        ] {
            let block = format!("{}{}", quote_lines("msgid", s), quote_lines("msgstr", s));
            let entry = &parse(&block).unwrap()[0];
            assert_eq!(entry.msgid, s);
            assert_eq!(entry.msgstr, s);
        }
    }

    #[test]
    fn fenced_lines_include_the_fences_and_nothing_outside() {
        let text = "prose\n```rust\n// code\n```\nmore prose\n~~~~\nx\n~~~~\n````\n```\n````\nend";
        let lines = fenced_lines(text);
        assert_eq!(
            lines.iter().copied().collect::<Vec<_>>(),
            [2, 3, 4, 6, 7, 8, 9, 10, 11]
        );
    }

    #[test]
    fn code_entries_are_translated_to_themselves_and_prose_is_left() {
        let dir = std::env::temp_dir().join(format!("xtask-po-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let catalogue = dir.join("zh-CN.po");
        std::fs::write(
            &catalogue,
            "msgid \"\"\nmsgstr \"\"\n\n#: src/a.md:2\n#, fuzzy\n#| msgid \"// old\"\nmsgid \"// new\\n\"\n\
             msgstr \"// 旧\\n\"\n\n#: src/a.md:5\nmsgid \"Prose.\"\nmsgstr \"\"\n",
        )
        .unwrap();
        let code = BTreeMap::from([("src/a.md".to_owned(), BTreeSet::from([1, 2, 3]))]);
        assert_eq!(fill_code(&catalogue, &code).unwrap(), 1);
        let entries = parse(&std::fs::read_to_string(&catalogue).unwrap()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(entries[1].msgstr, "// new\n");
        assert!(entries[1].flags.is_empty());
        assert_eq!(entries[2].msgstr, "", "prose is the translators'");
    }

    #[test]
    fn chinese_headings_take_the_english_ids_and_the_search_index_follows() {
        let dir = std::env::temp_dir().join(format!("xtask-ids-{}", std::process::id()));
        let (english, chinese) = (dir.join("en"), dir.join("en/zh-CN"));
        std::fs::create_dir_all(chinese.join("part")).unwrap();
        std::fs::create_dir_all(english.join("part")).unwrap();
        let page = |id1: &str, id2: &str| {
            format!(
                "<h1 id=\"{id1}\"><a class=\"header\" href=\"#{id1}\">T</a></h1><p>x</p>\
                 <h2 id=\"{id2}\"><a class=\"header\" href=\"#{id2}\">U</a></h2><hr>"
            )
        };
        std::fs::write(
            english.join("part/a.html"),
            page("semaphores", "what-it-covers"),
        )
        .unwrap();
        std::fs::write(chinese.join("part/a.html"), page("信号量", "内容")).unwrap();
        std::fs::write(
            chinese.join("searchindex-1.js"),
            r#"{"doc_urls":["part/a.html#信号量","part/a.html#内容"]}"#,
        )
        .unwrap();
        assert_eq!(align_heading_ids(&english, &chinese).unwrap(), 2);
        let html = std::fs::read_to_string(chinese.join("part/a.html")).unwrap();
        let index = std::fs::read_to_string(chinese.join("searchindex-1.js")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(html, page("semaphores", "what-it-covers"));
        assert_eq!(heading_ids(&html), ["semaphores", "what-it-covers"]);
        assert!(index.contains(r#""part/a.html#semaphores","part/a.html#what-it-covers""#));
    }
}
