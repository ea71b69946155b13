//! cov.html checked the way a person would: opened in headless Chromium, the page's script runs
//! without a console message, the function table sorts (from the URL fragment at load, as a
//! bookmark would), each function's listing shows cov.txt's counts, jump targets are links to
//! instructions on the page, names with `< > &` show as written, and nothing is loaded from
//! elsewhere; every count on the page is what QEMU's execlog, loaded into the same run, saw
//! execute at that address. Also a program with thousands of functions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cannonball_tests::browser::{self, attribute, unescape};
use cannonball_tests::{TempDir, oracle, oracle_plugin, plugin, plugin_arg, program, run_qemu, script};

/// Runs cov on `program`; returns the out directory.
fn run_cov(program: &Path, work: &TempDir) -> PathBuf {
    run_cov_with(program, &[], work).0
}

/// Runs `oracles` then cov on `program`; returns the out directory and the oracles' log.
fn run_cov_with(program: &Path, oracles: &[String], work: &TempDir) -> (PathBuf, String) {
    let out = work.join("out");
    let options = [format!("script={}", script("cov").display()), format!("out={}", out.display())];
    let mut plugins = oracles.to_vec();
    plugins.push(plugin_arg(&plugin(), &options));
    let run = run_qemu("x86_64", &plugins, program, &[], work);
    assert!(run.output.status.success(), "{}", run.stderr());
    (out, run.plugin_log)
}

/// cov.txt: function name -> [(address, hits)].
fn cov_txt(text: &str) -> BTreeMap<String, Vec<(u64, u64)>> {
    let mut functions = BTreeMap::new();
    let mut current: Option<&mut Vec<(u64, u64)>> = None;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("// symbol ") {
            let name = header.rsplit_once(" (").unwrap().0.to_owned();
            current = Some(functions.entry(name).or_default());
        } else if let (Some(list), Some((addr, rest))) = (current.as_mut(), line.trim().split_once(char::is_whitespace))
        {
            let hits = rest.split_whitespace().next().unwrap().parse().unwrap();
            list.push((u64::from_str_radix(addr.trim_start_matches("0x"), 16).unwrap(), hits));
        }
    }
    functions
}

/// The rendered DOM's listings: function name -> [(address, hits, row class)].
fn dom_listings(dom: &str) -> BTreeMap<String, Vec<(u64, u64, String)>> {
    let mut functions = BTreeMap::new();
    for section in dom.split("<section ").skip(1) {
        let name = unescape(attribute(section, "data-name").expect("section without data-name"));
        let mut rows = Vec::new();
        for row in section.split("<tr").skip(1) {
            let class = attribute(row, "class").unwrap_or("").to_owned();
            let cell = |c: &str| {
                let start = row.find(&format!("<td class=\"{c}\">")).unwrap() + c.len() + 13;
                row[start..start + row[start..].find('<').unwrap()].to_owned()
            };
            let addr = u64::from_str_radix(cell("addr").trim_start_matches("0x"), 16).unwrap();
            rows.push((addr, cell("hits").parse().unwrap(), class));
        }
        functions.insert(name, rows);
    }
    functions
}

/// The function table's rows, in page order: (name, hits, coverage).
fn table_rows(dom: &str) -> Vec<(String, u64, f64)> {
    let body = &dom[dom.find("<tbody>").unwrap()..dom.find("</tbody>").unwrap()];
    body.split("<tr ")
        .skip(1)
        .map(|row| {
            let row = &format!(" {row}");
            (
                unescape(attribute(row, "data-name").unwrap()),
                attribute(row, "data-hits").unwrap().parse().unwrap(),
                attribute(row, "data-covered").unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_console_is_captured() {
    // The checks below rely on seeing console messages: a page that throws must show one.
    let work = TempDir::new("chromium-console");
    let page = work.join("bad.html");
    std::fs::write(&page, "<html><body><script>undefined_function();</script></body></html>").unwrap();
    let loaded = browser::load(&browser::file_url(&page, ""));
    assert!(loaded.console.iter().any(|l| l.contains("undefined_function")), "{:?}", loaded.console);
}

#[test]
fn cov_html_shows_cov_txt_and_sorts() {
    let work = TempDir::new("cov-html");
    let (out, log) = run_cov_with(&program("calltree"), &[plugin_arg(&oracle_plugin("execlog"), &[])], &work);
    let execlog = oracle::execlog_hits(&log);
    let expected = cov_txt(&std::fs::read_to_string(out.join("cov.txt")).unwrap());
    let html_path = out.join("cov.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    for external in ["http:", "https:", "<link", " src=", "@import", "url("] {
        assert!(!html.contains(external), "cov.html refers to something outside it: {external}");
    }

    let page = browser::load(&browser::file_url(&html_path, "#sort=-hits"));
    assert!(page.console.is_empty(), "console messages: {:#?}", page.console);
    assert!(page.dom.contains("data-sort=\"-hits\""), "the page's script did not sort");
    let rows = table_rows(&page.dom);
    assert_eq!(rows.len(), expected.len(), "one table row per function of cov.txt");
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "sorted by hits, largest first: {rows:?}");
    assert_eq!(rows[0].0, "leaf", "the hottest function");

    // Every function's listing: cov.txt's addresses and counts; zero-hit rows marked.
    let listings = dom_listings(&page.dom);
    assert_eq!(listings.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (name, rows) in &listings {
        let shown: Vec<(u64, u64)> = rows.iter().map(|&(a, h, _)| (a, h)).collect();
        assert_eq!(&shown, &expected[name], "listing of {name}");
        for &(addr, hits) in &shown {
            assert_eq!(hits, execlog.get(&addr).copied().unwrap_or(0), "{name} {addr:#x}: hits = execlog's");
        }
        for (addr, hits, class) in rows {
            assert_eq!(class == "h0", *hits == 0, "{name} {addr:#x}: {hits} hits, class {class}");
        }
        let (hits, ran) = (rows.iter().map(|r| r.1).sum::<u64>(), rows.iter().filter(|r| r.1 > 0).count());
        let row = rows_by_name(&page.dom, name);
        assert_eq!(row.1, hits, "table hits of {name}");
        assert!((row.2 - 100.0 * ran as f64 / rows.len() as f64).abs() < 0.01, "coverage of {name}");
    }
    assert!(listings["_start"].iter().any(|r| r.1 == 0), "_start's hlt never runs");

    // Names with < > & show as written: escaped in the source, text in the DOM.
    assert!(expected.contains_key("tmpl<a&b>::run"), "{:?}", expected.keys());
    assert!(html.contains("<h2>tmpl&lt;a&amp;b&gt;::run <small>"));
    assert!(page.dom.contains(">tmpl&lt;a&amp;b&gt;::run<"), "the name is text, not markup");

    // Jump targets are links to instructions of the page: leaf's loop branch goes back into
    // leaf, and every link has its anchor.
    let leaf_start = expected["leaf"][0].0;
    let leaf_end = expected["leaf"].last().unwrap().0;
    let links: Vec<u64> = page
        .dom
        .split("href=\"#i")
        .skip(1)
        .map(|s| u64::from_str_radix(&s[..s.find('"').unwrap()], 16).unwrap())
        .collect();
    assert!(links.iter().any(|&t| t > leaf_start && t <= leaf_end), "a link into leaf's loop");
    for target in &links {
        assert!(page.dom.contains(&format!("id=\"i{target:x}\"")), "link to {target:#x} without its anchor");
    }

    // Sorting by name, from another fragment.
    let by_name = table_rows(&browser::load(&browser::file_url(&html_path, "#sort=name")).dom);
    let names: Vec<&str> = by_name.iter().map(|r| r.0.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let png = work.join("cov.png");
    browser::screenshot(&browser::file_url(&html_path, "#sort=-hits"), &png);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "a screenshot with something drawn");
}

/// The table row of function `name`: (name, hits, coverage).
fn rows_by_name(dom: &str, name: &str) -> (String, u64, f64) {
    table_rows(dom).into_iter().find(|r| r.0 == name).unwrap()
}

#[test]
fn cov_html_stays_fast_with_thousands_of_functions() {
    const N: usize = 3000;
    let work = TempDir::new("cov-html-big");
    let mut src = String::from("volatile unsigned long sink;\n");
    for i in 0..N {
        src.push_str(&format!(
            "__attribute__((noinline)) void f{i}(unsigned n) {{ for (unsigned i = 0; i < n; i++) sink += i ^ {i}; }}\n"
        ));
    }
    src.push_str("int main(void) {\n");
    for i in 0..N {
        src.push_str(&format!("  f{i}({});\n", i % 7));
    }
    src.push_str("  return 0;\n}\n");
    let c = work.join("many.c");
    std::fs::write(&c, src).unwrap();
    let binary = work.join("many");
    let status =
        std::process::Command::new("gcc").args(["-O1", "-no-pie", "-o"]).arg(&binary).arg(&c).status().unwrap();
    assert!(status.success());

    let started = Instant::now();
    let out = run_cov(&binary, &work);
    let took = started.elapsed();
    // What the program says: main calls each f<i> once, so each is listed and its first
    // instruction ran exactly once. (No timing is asserted: the figures are printed below.)
    let listed = cov_txt(&std::fs::read_to_string(out.join("cov.txt")).unwrap());
    for i in 0..N {
        let f = listed.get(&format!("f{i}")).unwrap_or_else(|| panic!("f{i} missing from cov.txt"));
        assert_eq!(f[0].1, 1, "f{i}: called once");
    }
    let html_path = out.join("cov.html");
    let started = Instant::now();
    let page = browser::load(&browser::file_url(&html_path, "#sort=-hits"));
    let loaded = started.elapsed();
    assert!(page.console.is_empty(), "console messages: {:#?}", page.console);
    let rows = table_rows(&page.dom);
    assert!(rows.len() > N, "{} rows", rows.len());
    assert!(rows.windows(2).all(|w| w[0].1 >= w[1].1), "sorted by hits");
    eprintln!(
        "{N} functions: cov run {took:?}, cov.html {} KiB, Chromium load and sort {loaded:?}",
        std::fs::metadata(&html_path).unwrap().len() / 1024
    );
}
