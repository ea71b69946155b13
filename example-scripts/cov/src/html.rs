//! `cov.html`: the coverage listing as one self-contained page, for binaries without source.
//!
//! A table of functions (module, instructions, coverage, hits; sorted by a click on a column
//! header, or at load by the URL fragment `#sort=KEY` / `#sort=-KEY` for descending, KEY one
//! of name, module, insns, covered, hits), then each function's disassembly with its hit
//! counts, colored by heat on a log scale, instructions that never ran marked, and every
//! address in an operand that is a listed instruction linked to it (`#i<hex address>`).
//!
//! No network and no external asset: the style and the script are inline. Everything that
//! comes from the binary (symbol names, module paths, disassembly) is escaped. The page is
//! built in one pass into one String so that programs with thousands of functions stay fast;
//! sorting reorders existing rows from numbers kept in data attributes.

use std::collections::HashSet;
use std::fmt::Write;

/// One listed instruction.
pub struct Insn {
    pub address: u64,
    pub hits: u64,
    pub text: String,
}

/// One function's listing.
pub struct Function<'a> {
    pub name: &'a str,
    pub module: &'a str,
    pub insns: Vec<Insn>,
}

/// Heat levels of executed instructions (1..=LEVELS); 0 is "never ran".
const LEVELS: u64 = 8;

/// The heat level of `hits` against the hottest instruction's `max`, on a log scale so that
/// a loop body and the code around it do not both read as "hot".
fn heat(hits: u64, max: u64) -> u64 {
    if hits == 0 || max == 0 {
        return 0;
    }
    let ratio = ((hits as f64).ln_1p() / (max as f64).ln_1p()).clamp(0.0, 1.0);
    1 + ((ratio * (LEVELS - 1) as f64).round() as u64)
}

/// Appends `text` with HTML's special characters escaped (also quotes: used in attributes).
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Appends the disassembly `text`, escaped, with every hexadecimal number that is the address
/// of a listed instruction turned into a link to it (branch, call and jump targets; also an
/// address loaded as an immediate, which is a code pointer).
fn disassembly_into(out: &mut String, text: &str, anchors: &HashSet<u64>) {
    let bytes = text.as_bytes();
    let mut done = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_number =
            bytes[i] == b'0' && bytes.get(i + 1) == Some(&b'x') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric());
        if !starts_number {
            i += 1;
            continue;
        }
        let end = (i + 2..bytes.len()).find(|&j| !bytes[j].is_ascii_hexdigit()).unwrap_or(bytes.len());
        let number = if end > i + 2 { u64::from_str_radix(&text[i + 2..end], 16).ok() } else { None };
        match number {
            Some(target) if anchors.contains(&target) => {
                escape_into(out, &text[done..i]);
                write!(out, "<a href=\"#i{target:x}\">").unwrap();
                out.push_str(&text[i..end]);
                out.push_str("</a>");
                done = end;
            }
            _ => {}
        }
        i = end.max(i + 1);
    }
    escape_into(out, &text[done..]);
}

/// The file name of a module path, for the table (the full path is its tooltip).
fn short_module(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin: 1.6em 0 .3em; font-family: monospace; }
table { border-collapse: collapse; }
#functions th { cursor: pointer; user-select: none; background: #eee; padding: .25em .6em; text-align: left; }
#functions th[aria-sort=ascending]::after { content: " \25B2"; }
#functions th[aria-sort=descending]::after { content: " \25BC"; }
#functions td { padding: .1em .6em; border-bottom: 1px solid #eee; }
#functions td.n, .listing td.hits { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .7em; background: #4a4; vertical-align: middle; margin-right: .4em; }
.listing { font-family: monospace; font-size: 13px; }
/* Listings off screen are not laid out until scrolled to: big programs open fast. */
section.function { content-visibility: auto; contain-intrinsic-size: auto 20em; }
.listing td { padding: 0 .6em; white-space: pre; }
.listing td.addr { color: #666; }
.listing tr:target { outline: 2px solid #36c; }
.listing tr.h0 { background: #f3f3f3; color: #999; }
.listing tr.h0 td.mark::before { content: "\2717"; color: #c33; }
.h1 { background: #fff7d6; } .h2 { background: #ffeaa8; } .h3 { background: #ffd880; }
.h4 { background: #ffc060; } .h5 { background: #ffa048; } .h6 { background: #ff7d3a; }
.h7 { background: #f0552e; color: #fff; } .h8 { background: #c8281e; color: #fff; }
.h7 a, .h8 a, .h7 td.addr, .h8 td.addr { color: #fff; }
.legend span { display: inline-block; padding: 0 .5em; font-family: monospace; }
"#;

/// Sorts the function table by a column; from a header click, or at load from `#sort=`.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById("functions");
  var body = table.tBodies[0];
  var headers = table.tHead.rows[0].cells;
  function sortBy(key, descending) {
    var th = null;
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].dataset.key === key) th = headers[i];
      headers[i].removeAttribute("aria-sort");
    }
    if (th === null) { console.warn("cov.html: no column " + key); return; }
    var numeric = th.dataset.type === "number";
    var rows = Array.prototype.slice.call(body.rows);
    var values = rows.map(function (r) {
      var v = r.dataset[key];
      return numeric ? Number(v) : v;
    });
    var order = rows.map(function (_, i) { return i; });
    order.sort(function (a, b) {
      var x = values[a], y = values[b];
      var c = x < y ? -1 : x > y ? 1 : a - b;
      return descending && x !== y ? -c : c;
    });
    var fragment = document.createDocumentFragment();
    order.forEach(function (i) { fragment.appendChild(rows[i]); });
    body.appendChild(fragment);
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.dataset.sort = (descending ? "-" : "") + key;
  }
  for (var i = 0; i < headers.length; i++) {
    headers[i].addEventListener("click", function (e) {
      var th = e.currentTarget;
      // The first click on a number sorts the largest first.
      var descending = th.getAttribute("aria-sort") === "ascending" ||
        (th.getAttribute("aria-sort") === null && th.dataset.type === "number");
      sortBy(th.dataset.key, descending);
    });
  }
  function fromFragment() {
    var m = /^#sort=(-?)([a-z]+)$/.exec(location.hash);
    if (m) sortBy(m[2], m[1] === "-");
  }
  window.addEventListener("hashchange", fromFragment);
  fromFragment();
})();
"#;

/// The whole page.
pub fn render(title: &str, functions: &[Function]) -> String {
    let max = functions.iter().flat_map(|f| &f.insns).map(|i| i.hits).max().unwrap_or(0);
    let anchors: HashSet<u64> = functions.iter().flat_map(|f| &f.insns).map(|i| i.address).collect();
    let total_insns: usize = functions.iter().map(|f| f.insns.len()).sum();
    let mut out = String::with_capacity(256 + total_insns * 120 + functions.len() * 300);

    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    escape_into(&mut out, title);
    out.push_str("</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>");
    escape_into(&mut out, title);
    out.push_str("</h1>\n");
    let covered: usize = functions.iter().flat_map(|f| &f.insns).filter(|i| i.hits > 0).count();
    writeln!(
        out,
        "<p>{} functions ran; {covered} of their {total_insns} instructions ran. Click a column to sort; \
         <code>#sort=-hits</code> in the address sorts at load.</p>",
        functions.len()
    )
    .unwrap();
    out.push_str("<p class=\"legend\">Heat (log scale): <span class=\"h0\">&#x2717; 0</span>");
    for level in 1..=LEVELS {
        write!(out, "<span class=\"h{level}\">{level}</span>").unwrap();
    }
    out.push_str("</p>\n");

    out.push_str(
        "<table id=\"functions\">\n<thead><tr><th data-key=\"name\">function</th><th data-key=\"module\">module</th>\
         <th data-key=\"insns\" data-type=\"number\">instructions</th>\
         <th data-key=\"covered\" data-type=\"number\">coverage</th>\
         <th data-key=\"hits\" data-type=\"number\">hits</th></tr></thead>\n<tbody>\n",
    );
    for (n, f) in functions.iter().enumerate() {
        let ran = f.insns.iter().filter(|i| i.hits > 0).count();
        let hits: u64 = f.insns.iter().map(|i| i.hits).sum();
        let percent = if f.insns.is_empty() { 0.0 } else { 100.0 * ran as f64 / f.insns.len() as f64 };
        out.push_str("<tr data-name=\"");
        escape_into(&mut out, f.name);
        out.push_str("\" data-module=\"");
        escape_into(&mut out, f.module);
        write!(
            out,
            "\" data-insns=\"{}\" data-covered=\"{percent:.2}\" data-hits=\"{hits}\"><td><a href=\"#f{n}\">",
            f.insns.len()
        )
        .unwrap();
        escape_into(&mut out, f.name);
        out.push_str("</a></td><td title=\"");
        escape_into(&mut out, f.module);
        out.push_str("\">");
        escape_into(&mut out, short_module(f.module));
        writeln!(
            out,
            "</td><td class=\"n\">{}</td><td class=\"n\"><span class=\"bar\" style=\"width:{:.0}px\"></span>{percent:.1}&#8239;%</td>\
             <td class=\"n\">{hits}</td></tr>",
            f.insns.len(),
            percent * 0.6
        )
        .unwrap();
    }
    out.push_str("</tbody>\n</table>\n");

    let mut anchored = HashSet::new();
    for (n, f) in functions.iter().enumerate() {
        write!(out, "<section id=\"f{n}\" class=\"function\" data-name=\"").unwrap();
        escape_into(&mut out, f.name);
        out.push_str("\">\n<h2>");
        escape_into(&mut out, f.name);
        out.push_str(" <small>(");
        escape_into(&mut out, f.module);
        out.push_str(")</small></h2>\n<table class=\"listing\">\n");
        for insn in &f.insns {
            let level = heat(insn.hits, max);
            out.push_str("<tr");
            // An address listed twice (two symbols over the same code) is anchored once.
            if anchored.insert(insn.address) {
                write!(out, " id=\"i{:x}\"", insn.address).unwrap();
            }
            write!(
                out,
                " class=\"h{level}\"><td class=\"mark\"></td><td class=\"addr\">{:#x}</td><td class=\"hits\">{}</td><td>",
                insn.address, insn.hits
            )
            .unwrap();
            disassembly_into(&mut out, &insn.text, &anchors);
            out.push_str("</td></tr>\n");
        }
        out.push_str("</table>\n</section>\n");
    }
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_links() {
        let anchors: HashSet<u64> = [0x401136].into_iter().collect();
        let mut out = String::new();
        disassembly_into(&mut out, "call 0x401136 <a&b>", &anchors);
        assert_eq!(out, "call <a href=\"#i401136\">0x401136</a> &lt;a&amp;b&gt;");
        let mut out = String::new();
        disassembly_into(&mut out, "mov $0x10, %eax", &anchors);
        assert_eq!(out, "mov $0x10, %eax");
    }

    #[test]
    fn heat_is_monotonic() {
        assert_eq!(heat(0, 100), 0);
        assert_eq!(heat(1, 1), LEVELS);
        assert!(heat(2, 1000) < heat(500, 1000));
    }
}
