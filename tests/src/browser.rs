//! Headless Chromium (Debian's `chromium`), to check pictures as a person would: the page
//! loads, its script runs without a console message, and the rendered DOM holds what the
//! report says. `cargo xtask test` installs the package.

use std::path::Path;
use std::process::Command;

use crate::TempDir;

/// A page as Chromium rendered it.
pub struct Page {
    /// The DOM after the page's scripts ran (`--dump-dom`).
    pub dom: String,
    /// Console messages (errors, warnings, uncaught exceptions), one per line.
    pub console: Vec<String>,
}

fn chromium(profile: &TempDir) -> Command {
    let mut cmd = Command::new("chromium");
    // A profile directory per run: concurrent tests must not share Chromium's lock.
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.join("chromium").display()));
    cmd
}

/// The `file://` URL of `path` with an optional fragment (`#sort=-hits`).
pub fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.canonicalize().unwrap().display())
}

/// Loads `url` and returns its DOM and console messages (Chromium logs them to stderr as
/// `INFO:CONSOLE...] "message", source: ...`).
pub fn load(url: &str) -> Page {
    let profile = TempDir::new("chromium");
    let out = chromium(&profile)
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(url)
        .output()
        .expect("cannot start chromium: install the Debian package chromium");
    assert!(out.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&out.stderr));
    let console =
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(String::from).collect();
    Page { dom: String::from_utf8_lossy(&out.stdout).into_owned(), console }
}

/// Draws `url` into `png` (1280×900).
pub fn screenshot(url: &str, png: &Path) {
    let profile = TempDir::new("chromium");
    let out = chromium(&profile)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,900")
        .arg(url)
        .output()
        .expect("cannot start chromium: install the Debian package chromium");
    assert!(out.status.success() && png.exists(), "no screenshot of {url}");
}

/// The value of attribute `name` in the tag that starts `tag` (`<tr data-hits="3" ...>`).
pub fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let end = tag.find('>').unwrap_or(tag.len());
    let needle = format!(" {name}=\"");
    let start = tag[..end].find(&needle)? + needle.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The text of `s` with HTML's escapes for `& < > " '` decoded.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}
