//! The book as a student sees it: every page rendered by headless Chromium at 1280 px.
//!
//! A copy of the built book goes to `target/book-check/`, with a small checker script added to
//! each page (the book a student reads never carries it). Chromium loads each page, lets its
//! scripts run (`--virtual-time-budget`), and prints the page's DOM (`--dump-dom`), in which the
//! checker has left one line per finding. The checks:
//! - a code block wider than its column;
//! - an image that does not load;
//! - raw `{{#` text (an mdBook directive that was not expanded);
//! - an empty code block;
//! - a page with no heading;
//! - the word "seed" or "seeds" in the page's visible text or title, or "seed" in its file name:
//!   students know the C originals as the course notes (see [`words_seed`]);
//! - a page without the language switch (`theme/language.js`), or whose switch leads to no page;
//! - a Chinese page whose headings' ids differ from the English page's (links into a section
//!   would land at the top);
//! - a search for "SIGPIPE" in the English book, or for 信号量 in the Chinese one
//!   (`book/book/zh-CN`), that finds nothing.
//!
//! Every check runs on both languages. Three screenshots of each are kept in `target/book-screenshots/` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The width a student's browser window has in the check.
const WINDOW: &str = "--window-size=1280,1000";

/// Pages whose screenshots CI keeps, in both languages: the start, a chapter page, and the
/// signals part.
const SCREENSHOTS: [&str; 6] = [
    "introduction.html",
    "fifo/writer.html",
    "stopping/index.html",
    "zh-CN/introduction.html",
    "zh-CN/fifo/writer.html",
    "zh-CN/stopping/index.html",
];

/// What each language's search must find: (the book's folder in the copy, the word, the word
/// as a URL writes it).
const SEARCHES: [(&str, &str, &str); 2] = [
    ("", "SIGPIPE", "SIGPIPE"),
    ("zh-CN/", "信号量", "%E4%BF%A1%E5%8F%B7%E9%87%8F"),
];

/// Runs in every page of the copy. Waits for the page's own scripts (highlighting, search),
/// then writes one `IPC-CHECK` line per finding, the page's figures, and its title and visible
/// text (`innerText`: what is rendered, sidebar included) as `TEXT` lines, into a `<pre>`.
const CHECKER: &str = r#"(function () {
  function check() {
    var lines = [];
    var main = document.querySelector('main') || document.body;
    var blocks = main.querySelectorAll('pre');
    var longest = 0;
    blocks.forEach(function (pre, i) {
      var first = pre.textContent.trim().split('\n')[0].slice(0, 70);
      // mdBook scrolls the <code> inside the <pre>: either may be the one that overflows.
      [pre, pre.querySelector('code')].forEach(function (box) {
        if (box && box.scrollWidth > box.clientWidth + 1) {
          lines.push('PROBLEM code block ' + (i + 1) + ' is ' + box.scrollWidth + ' px wide in a '
            + box.clientWidth + ' px column: ' + first);
        }
      });
      if (pre.textContent.trim() === '') lines.push('PROBLEM code block ' + (i + 1) + ' is empty');
      longest = Math.max(longest, pre.textContent.replace(/\n$/, '').split('\n').length);
    });
    main.querySelectorAll('img').forEach(function (img) {
      if (!img.complete || img.naturalWidth === 0) {
        lines.push('PROBLEM an image does not load: ' + img.getAttribute('src'));
      }
    });
    if (main.textContent.indexOf('{{#') >= 0) lines.push('PROBLEM raw {{# text on the page');
    if (!main.querySelector('h1, h2')) lines.push('PROBLEM the page has no heading');
    main.querySelectorAll('h1[id], h2[id], h3[id], h4[id], h5[id], h6[id]').forEach(function (h) {
      lines.push('HEADING ' + h.id);
    });
    var language = document.getElementById('language-switch');
    if (language) lines.push('SWITCH ' + language.href);
    else lines.push('PROBLEM no language switch in the menu bar');
    var text = [document.title].concat(document.body.innerText.split('\n'));
    text.forEach(function (line) {
      if (line.trim() !== '') lines.push('TEXT ' + line.trim());
    });
    lines.push('BLOCKS ' + blocks.length);
    lines.push('LONGEST ' + longest);
    if (new URLSearchParams(location.search).has('search')) {
      var results = document.getElementById('mdbook-searchresults')
        || document.getElementById('searchresults');
      lines.push('SEARCH ' + (results ? results.children.length : 0));
    }
    var out = document.createElement('pre');
    out.id = 'ipc-labs-check';
    out.textContent = '\n' + lines.map(function (l) { return 'IPC-CHECK ' + l; }).join('\n') + '\n';
    document.body.appendChild(out);
  }
  window.addEventListener('load', function () { setTimeout(check, 1000); });
})();
"#;

/// What the check found on one page.
#[derive(Default)]
struct Page {
    problems: Vec<String>,
    blocks: usize,
    longest: usize,
    search_hits: Option<usize>,
    /// Where the language switch leads.
    switch: Option<String>,
    /// The ids of its headings, in order.
    headings: Vec<String>,
    checked: bool,
    /// The page's title and visible text, a line each.
    text: Vec<String>,
}

/// Checks every page of the built book (`book/book`, made by `mdbook build book`).
pub fn check(root: &Path) -> Result<(), String> {
    let chromium = find_chromium()?;
    let built = root.join("book/book");
    for language in ["", "zh-CN/"] {
        if !built.join(language).join("index.html").exists() {
            return Err(format!(
                "no built book in book/book/{language}: run `cargo xtask ci`, which builds both"
            ));
        }
    }
    let copy = root.join("target/book-check");
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&built, &copy)?;
    std::fs::write(copy.join("ipc-check.js"), CHECKER).map_err(|err| err.to_string())?;
    let mut pages = Vec::new();
    for page in html_pages(&copy)? {
        inject_checker(&copy, &page)?;
        pages.push(page);
    }
    let mut problems = Vec::new();
    let (mut blocks, mut longest) = (0, (0, String::new()));
    let mut headings = std::collections::BTreeMap::new();
    for page in &pages {
        let name = page
            .strip_prefix(&copy)
            .unwrap_or(page)
            .display()
            .to_string();
        let found = load(&chromium, &format!("file://{}", page.display()))?;
        if !found.checked {
            problems.push(format!("{name}: the checker did not run"));
        }
        problems.extend(found.problems.iter().map(|p| format!("{name}: {p}")));
        if let Some(url) = &found.switch {
            let target = url.strip_prefix("file://").map(Path::new);
            if !target.is_some_and(Path::is_file) {
                problems.push(format!(
                    "{name}: the language switch leads to no page: {url}"
                ));
            }
        }
        if name.to_lowercase().contains("seed") {
            problems.push(format!("{name}: \"seed\" in the page's file name"));
        }
        for line in words_seed(&found.text.join("\n")) {
            problems.push(format!("{name}: the word \"seed\" on the page: {line}"));
        }
        headings.insert(name.clone(), found.headings.clone());
        blocks += found.blocks;
        if found.longest > longest.0 {
            longest = (found.longest, name);
        }
    }
    // A link into a section (`page.html#id`) must land in both languages.
    for (name, ids) in &headings {
        if let Some(english) = name.strip_prefix("zh-CN/")
            && headings.get(english) != Some(ids)
        {
            problems.push(format!("{name}: its headings' ids differ from {english}'s"));
        }
    }
    for (book, word, in_url) in SEARCHES {
        let index = copy.join(book).join("index.html");
        let search = load(
            &chromium,
            &format!("file://{}?search={in_url}", index.display()),
        )?;
        match search.search_hits {
            Some(hits) if hits > 0 => {
                println!("search for {word} in {book}index.html: {hits} results")
            }
            _ => problems.push(format!(
                "a search for {word} in {book}index.html finds nothing"
            )),
        }
    }
    screenshots(&chromium, root, &copy)?;
    println!(
        "{} pages, {blocks} code blocks, {} too wide; the longest block has {} lines ({})",
        pages.len(),
        problems.iter().filter(|p| p.contains(" px wide ")).count(),
        longest.0,
        longest.1
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the book in Chromium at 1280 px:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn find_chromium() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Ok(PathBuf::from(path));
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|path| path.is_file());
        if let Some(path) = found {
            return Ok(path);
        }
    }
    Err("no Chromium found (apt-get install chromium, or set CHROMIUM)".to_owned())
}

/// Chromium's common flags: headless, no GPU, a profile of its own (two at once must not
/// share one), and no sandbox (CI runs as root, where Chromium refuses its sandbox).
fn chromium_command(chromium: &Path, profile: &Path) -> Command {
    let mut command = Command::new(chromium);
    command
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--hide-scrollbars")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(WINDOW);
    command
}

fn load(chromium: &Path, url: &str) -> Result<Page, String> {
    let profile = std::env::temp_dir().join(format!("ipc-labs-chromium-{}", std::process::id()));
    let output = chromium_command(chromium, &profile)
        .arg("--virtual-time-budget=5000")
        .arg("--dump-dom")
        .arg(url)
        .output()
        .map_err(|err| format!("cannot run Chromium: {err}"))?;
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    let mut page = Page::default();
    for line in dom.lines() {
        let Some(finding) = line.trim().strip_prefix("IPC-CHECK ") else {
            continue;
        };
        page.checked = true;
        let finding = unescape(finding);
        if let Some(problem) = finding.strip_prefix("PROBLEM ") {
            page.problems.push(problem.to_owned());
        } else if let Some(n) = finding.strip_prefix("BLOCKS ") {
            page.blocks = n.parse().unwrap_or(0);
        } else if let Some(n) = finding.strip_prefix("LONGEST ") {
            page.longest = n.parse().unwrap_or(0);
        } else if let Some(id) = finding.strip_prefix("HEADING ") {
            page.headings.push(id.to_owned());
        } else if let Some(url) = finding.strip_prefix("SWITCH ") {
            page.switch = Some(url.to_owned());
        } else if let Some(n) = finding.strip_prefix("SEARCH ") {
            page.search_hits = n.parse().ok();
        } else if let Some(text) = finding.strip_prefix("TEXT ") {
            page.text.push(text.to_owned());
        }
    }
    Ok(page)
}

/// The lines of `text` where the word "seed" or "seeds" stands on its own, in any case (the
/// regex `(?i)\bseeds?\b`): "the seed's C" and "Seeds" are found, `key_or_seed`, `SeedKeyArgs`
/// and `seed000` are not. The project once called the course notes "seeds"; students never
/// heard the word, so no page may show it.
pub fn words_seed(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| has_word_seed(line))
        .map(str::trim)
        .collect()
}

fn has_word_seed(line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let lower = |i: usize| chars.get(i).map(|c| c.to_ascii_lowercase());
    (0..chars.len()).any(|start| {
        let word = (0..4).all(|k| lower(start + k) == "seed".chars().nth(k));
        let mut end = start + 4;
        if lower(end) == Some('s') {
            end += 1;
        }
        word && (start == 0 || !is_word(chars[start - 1]))
            && chars.get(end).is_none_or(|&c| !is_word(c))
    })
}

fn screenshots(chromium: &Path, root: &Path, copy: &Path) -> Result<(), String> {
    let dir = root.join("target/book-screenshots");
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    for page in SCREENSHOTS {
        let png = dir.join(page.replace('/', "-").replace(".html", ".png"));
        let profile = std::env::temp_dir().join(format!("ipc-labs-shot-{}", std::process::id()));
        let status = chromium_command(chromium, &profile)
            .arg("--window-size=1280,2400")
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", copy.join(page).display()))
            .output()
            .map_err(|err| format!("cannot run Chromium: {err}"))?;
        let _ = std::fs::remove_dir_all(&profile);
        if !png.exists() {
            return Err(format!(
                "no screenshot of {page}: {}",
                String::from_utf8_lossy(&status.stderr)
            ));
        }
    }
    println!("screenshots in {}", dir.display());
    Ok(())
}

/// The text Chromium printed inside `<pre>`, with HTML's escapes undone.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Adds the checker to one page of the copy, by a path relative to the page.
fn inject_checker(copy: &Path, page: &Path) -> Result<(), String> {
    let depth = page
        .strip_prefix(copy)
        .map(|rel| rel.components().count() - 1)
        .unwrap_or(0);
    let script = format!(
        "<script src=\"{}ipc-check.js\"></script>",
        "../".repeat(depth)
    );
    let html = std::fs::read_to_string(page).map_err(|err| format!("{}: {err}", page.display()))?;
    let html = match html.rfind("</body>") {
        Some(end) => format!("{}{script}{}", &html[..end], &html[end..]),
        None => return Err(format!("{}: no </body>", page.display())),
    };
    std::fs::write(page, html).map_err(|err| format!("{}: {err}", page.display()))
}

/// The book's content pages: every `.html` but the print version, the 404 page and the table
/// of contents that mdBook generates for browsers without scripts.
pub fn html_pages(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut pages = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            pages.extend(html_pages(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "html")
            && !matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some("print.html" | "404.html" | "toc.html")
            )
        {
            pages.push(path);
        }
    }
    pages.sort();
    Ok(pages)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("{}: {err}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|err| format!("{}: {err}", from.display()))?;
    for entry in entries.flatten() {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|err| format!("copy {}: {err}", source.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::words_seed;

    #[test]
    fn the_word_seed_is_found_alone_in_any_case_and_not_inside_identifiers() {
        assert_eq!(words_seed("seed"), ["seed"]);
        assert_eq!(
            words_seed("  Seeds of the course.  "),
            ["Seeds of the course."]
        );
        assert_eq!(
            words_seed("as the seed's C client does"),
            ["as the seed's C client does"]
        );
        assert_eq!(words_seed("(SEED 000)"), ["(SEED 000)"]);
        for clean in [
            "key_or_seed(&args.key, 1111, false)?",
            "pub struct SeedKeyArgs {",
            "shm/seed000.html",
            "seedling, aseed, seeded, seeds_",
            "the course notes",
        ] {
            assert!(words_seed(clean).is_empty(), "{clean}");
        }
        let page = "Shared memory\nThe seeds hand one message over\nkey_or_seed\nthe seed";
        assert_eq!(
            words_seed(page),
            ["The seeds hand one message over", "the seed"]
        );
    }
}
