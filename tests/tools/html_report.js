// Opens HTML review reports in headless Chromium (one browser for all of
// them) and prints what the rendered pages show, as one JSON document, for
// tests/html_report.rs to assert on. Nothing here judges: it observes.
//
// Usage: node html_report.js SPEC.json
//   SPEC: {"chromium": PATH, "outdir": DIR, "pages": [{"name": N, "path": FILE}]}
// puppeteer-core comes from tests/tools/node (installed by ./install.sh --test).
"use strict";
const fs = require("fs");
const path = require("path");

let puppeteer;
try {
  puppeteer = require(path.join(__dirname, "node", "node_modules", "puppeteer-core"));
} catch (e) {
  console.error("puppeteer-core is missing from tests/tools/node: run ./install.sh --test (" + e.message + ")");
  process.exit(3);
}

const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

// Everything a page shows about its findings and what it did on load.
async function observe(page) {
  return page.evaluate(() => {
    const shown = (e) => e.getClientRects().length > 0;
    const findings = [...document.querySelectorAll("article.finding[data-severity]")].map((a, i) => {
      const row = a.closest("tr.finding-row");
      let line = null;
      let lineText = null;
      if (row) {
        let p = row.previousElementSibling;
        while (p && !p.hasAttribute("data-new-line")) p = p.previousElementSibling;
        if (p) {
          line = Number(p.getAttribute("data-new-line"));
          lineText = p.querySelector("td.code").textContent;
        }
      }
      let outsideFile = null;
      if (a.closest("#outside")) {
        let h = a.previousElementSibling;
        while (h && !h.classList.contains("outside-file")) h = h.previousElementSibling;
        outsideFile = h ? h.getAttribute("data-path") : null;
      }
      const details = a.closest("details.file");
      const v = a.querySelector("[data-verification]");
      return {
        index: i,
        severity: a.getAttribute("data-severity"),
        file: a.getAttribute("data-file"),
        line_start: Number(a.getAttribute("data-line-start")),
        line_end: Number(a.getAttribute("data-line-end")),
        title: a.querySelector(".title").textContent,
        reviewers: [...a.querySelectorAll("[data-reviewer]")].map((r) => r.getAttribute("data-reviewer")),
        verification: v ? v.getAttribute("data-verification") : null,
        has_fix: !!a.querySelector(".fix"),
        diff_file: details ? details.getAttribute("data-path") : null,
        diff_line: line,
        diff_line_text: lineText,
        outside_file: outsideFile,
        visible: shown(a),
      };
    });
    const onAttrs = [];
    for (const el of document.querySelectorAll("*")) {
      for (const at of el.attributes) {
        if (at.name.toLowerCase().startsWith("on")) onAttrs.push(el.tagName + " " + at.name);
      }
    }
    const filters = document.getElementById("filters");
    return {
      title: document.title,
      verdict: (document.getElementById("verdict-label") || {}).textContent || null,
      findings,
      files: [...document.querySelectorAll("details.file")].map((d) => d.getAttribute("data-path")),
      files_open: [...document.querySelectorAll("details.file")].every((d) => d.open),
      subjects: [...document.querySelectorAll(".subject")].map((s) => s.textContent),
      refuted: [...document.querySelectorAll("#refuted article.finding")].map((a) => a.getAttribute("data-file")),
      context_items: document.querySelectorAll("details.context-item").length,
      raw_reviews: document.querySelectorAll("details.raw-review").length,
      raw_text: [...document.querySelectorAll("pre.raw")].map((p) => p.textContent).join("\n"),
      scripts: document.querySelectorAll("script").length,
      injected: document.querySelectorAll("img,svg,iframe,object,embed,video,audio,frame,link,base,form:not(#filters)").length,
      on_attributes: onAttrs,
      filters_visible: !!filters && shown(filters),
      diff_cut: !!document.getElementById("diff-cut"),
      body_text_length: document.body.innerText.length,
    };
  });
}

// Unticks one filter box, notes which findings are still visible, ticks it again.
async function visibleWithout(page, kind, value) {
  return page.evaluate(
    (kind, value) => {
      const box = [...document.querySelectorAll("input[data-filter]")].find(
        (b) => b.getAttribute("data-filter") === kind && b.value === value
      );
      if (!box) return null;
      box.click();
      const vis = [...document.querySelectorAll("article.finding[data-severity]")]
        .map((a, i) => (a.getClientRects().length > 0 ? i : -1))
        .filter((i) => i >= 0);
      box.click();
      return vis;
    },
    kind,
    value
  );
}

async function main() {
  const args = ["--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check"];
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const browser = await puppeteer.launch({ executablePath: spec.chromium, headless: true, args });
  const out = { chromium: await browser.version(), pages: {} };
  try {
    for (const p of spec.pages) {
      const url = "file://" + path.resolve(p.path);
      const seen = { requests: [], dialogs: [], console_errors: [], page_errors: [] };
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      await page.setRequestInterception(true);
      page.on("request", (req) => {
        seen.requests.push(req.url());
        // Only the document itself may load; anything else is recorded and refused.
        if (req.url() === url) req.continue();
        else req.abort();
      });
      page.on("dialog", async (d) => {
        seen.dialogs.push(d.type() + ": " + d.message());
        await d.dismiss();
      });
      page.on("console", (m) => {
        if (m.type() === "error") seen.console_errors.push(m.text());
      });
      page.on("pageerror", (e) => seen.page_errors.push(String(e)));
      await page.evaluateOnNewDocument(() => {
        window.__alerts = [];
        window.__csp = [];
        for (const name of ["alert", "confirm", "prompt", "print"]) {
          window[name] = (m) => {
            window.__alerts.push(name + ": " + m);
          };
        }
        document.addEventListener("securitypolicyviolation", (e) => {
          window.__csp.push(e.violatedDirective + " " + e.blockedURI);
        });
      });
      await page.goto(url, { waitUntil: "load" });
      const o = await observe(page);
      o.alerts = await page.evaluate(() => window.__alerts);
      o.csp_violations = await page.evaluate(() => window.__csp);
      const filters = { severity: {}, reviewer: {} };
      for (const s of ["critical", "important", "suggestion"]) {
        filters.severity[s] = await visibleWithout(page, "severity", s);
      }
      const names = await page.evaluate(() =>
        [...document.querySelectorAll("input[data-filter=reviewer]")].map((b) => b.value)
      );
      for (const n of names) filters.reviewer[n] = await visibleWithout(page, "reviewer", n);
      o.filters = filters;
      const shot = path.join(spec.outdir, p.name + ".png");
      if (p.viewport_only) {
        // The top of the page (verdict, filters, the first findings in the diff).
        await page.screenshot({ path: shot, clip: { x: 0, y: 0, width: 1280, height: 1700 } });
      } else {
        await page.screenshot({ path: shot, fullPage: true });
      }
      o.screenshot = shot;
      o.requests = seen.requests;
      o.dialogs = seen.dialogs;
      o.console_errors = seen.console_errors;
      o.page_errors = seen.page_errors;
      await page.close();

      // The same page with scripts disabled: everything must be there.
      const plain = await browser.newPage();
      await plain.setJavaScriptEnabled(false);
      await plain.goto(url, { waitUntil: "load" });
      o.no_js = await observe(plain);
      await plain.close();
      out.pages[p.name] = o;
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
