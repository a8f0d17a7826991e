// Parses Mermaid diagrams with Mermaid's own parser (the npm package pinned in package.json),
// the one GitHub and the Mermaid renderers use. Usage: node plan/check_mermaid.mjs FILE...
// Prints "<file>: <diagram type>" per valid file; exits 1 naming the first file that fails.
// Mermaid reads DOMPurify at import time, which needs a window: jsdom provides one (no browser).
import fs from "node:fs";
import { JSDOM } from "jsdom";

const { window } = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node plan/check_mermaid.mjs FILE...");
  process.exit(2);
}
for (const file of files) {
  try {
    const result = await mermaid.parse(fs.readFileSync(file, "utf8"));
    console.log(`${file}: ${result.diagramType}`);
  } catch (error) {
    console.error(`${file}: ${error?.message ?? error}`);
    process.exit(1);
  }
}
