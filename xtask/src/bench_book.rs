//! The book's "Which IPC is fastest?" shows one run of `bench` on this project's machine:
//! `book/src/bench/run.json`, committed. Its tables (`tables.txt`) and charts (`chart.svg`) are
//! drawn from that file by `bench --from-json`, so that the book build never runs the
//! benchmark. `cargo xtask ci` checks that the committed tables and charts are what the JSON
//! gives; `cargo xtask bench-book --write` redraws them after a new run.

use std::path::Path;
use std::process::Command;

const DIR: &str = "book/src/bench";

/// What `bench --from-json` draws from the committed run: (tables, SVG).
fn redraw(root: &Path) -> Result<(String, String), String> {
    let out = root.join("target/bench-book");
    std::fs::create_dir_all(&out).map_err(|err| format!("{}: {err}", out.display()))?;
    let svg = out.join("chart.svg");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "-p",
            "bench",
            "--bin",
            "bench",
            "--",
            "--from-json",
        ])
        .arg(root.join(DIR).join("run.json"))
        .arg("--svg")
        .arg(&svg)
        .current_dir(root)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "bench --from-json {DIR}/run.json failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tables: String = stdout
        .lines()
        .filter(|line| !line.starts_with("Drew the charts in "))
        .map(|line| format!("{line}\n"))
        .collect();
    let chart = std::fs::read_to_string(&svg).map_err(|err| format!("{}: {err}", svg.display()))?;
    Ok((tables, chart))
}

/// `cargo xtask bench-book`: fails when the committed tables or chart differ from what the committed run gives.
pub fn check(root: &Path) -> Result<(), String> {
    println!("==> the book's benchmark tables and chart, redrawn from {DIR}/run.json");
    let (tables, chart) = redraw(root)?;
    for (name, expected) in [("tables.txt", &tables), ("chart.svg", &chart)] {
        let path = root.join(DIR).join(name);
        let committed =
            std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        if &committed != expected {
            return Err(format!(
                "{DIR}/{name} is not what {DIR}/run.json gives: run `cargo xtask bench-book \
                 --write`"
            ));
        }
    }
    Ok(())
}

/// `cargo xtask bench-book --write`: redraws the tables and chart from the committed run.
pub fn write(root: &Path) -> Result<(), String> {
    let (tables, chart) = redraw(root)?;
    for (name, text) in [("tables.txt", &tables), ("chart.svg", &chart)] {
        let path = root.join(DIR).join(name);
        std::fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
