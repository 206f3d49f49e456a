//! Builds the web UI (`web/`, React + Vite) into `web/dist` when its sources changed, so the
//! one command that builds `oblivious` also builds what it embeds (README "Quick start").
//!
//! Skipped with `OBLIVIOUS_SKIP_WEB_BUILD=1`, or when npm is missing; then the binary serves a
//! page explaining how to build the UI, and everything else works as usual.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn main() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    println!("cargo:rerun-if-env-changed=OBLIVIOUS_SKIP_WEB_BUILD");
    for input in ["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"]
    {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    if std::env::var("OBLIVIOUS_SKIP_WEB_BUILD").is_ok_and(|v| v == "1") || !web.join("package.json").exists() {
        return;
    }
    let built = web.join("dist/index.html");
    if newest_source(&web) <= modified(&built) {
        return;
    }
    if !web.join("node_modules").is_dir() && !npm(&web, &["ci", "--no-audit", "--no-fund"]) {
        return;
    }
    npm(&web, &["run", "build"]);
}

/// Runs npm in `dir`; a failure is a warning, never a failed build.
fn npm(dir: &Path, args: &[&str]) -> bool {
    match Command::new("npm").args(args).current_dir(dir).status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            println!("cargo:warning=`npm {}` in web/ failed ({status}); the UI is not rebuilt", args.join(" "));
            false
        }
        Err(error) => {
            println!("cargo:warning=npm is not available ({error}); the web UI is not built");
            false
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The newest modification time among the UI's sources.
fn newest_source(web: &Path) -> Option<SystemTime> {
    let mut stack: Vec<PathBuf> =
        ["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts"]
            .iter()
            .map(|p| web.join(p))
            .collect();
    let mut newest = None;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else {
            newest = newest.max(modified(&path));
        }
    }
    newest
}
