// Loads a `gen catalog` stage in headless Chromium (playwright-core driving the Debian package):
// every page of the stage without a console error, a page error, a failed load or a request that
// leaves the machine; the search finds TOPIC and leads to its page; a screenshot of the search.
// Usage: node catalog-browser-check.mjs CATALOG_DIR STAGE TOPIC SCREENSHOT_PNG
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [dir, stage, topic, screenshot] = process.argv.slice(2);
if (!screenshot) {
  console.error("usage: catalog-browser-check.mjs CATALOG_DIR STAGE TOPIC SCREENSHOT_PNG");
  process.exit(1);
}
const stageDir = resolve(dir, stage);
const problems = [];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  // Root in a container: Chromium's sandbox needs user namespaces this machine may not grant.
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let current = "";
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`${current}: console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${current}: page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`${current}: failed to load ${r.url()}`));
  page.on("request", (r) => {
    const url = r.url();
    if (!url.startsWith("file:") && !url.startsWith("data:")) {
      problems.push(`${current}: request to ${url} (the catalog must work offline)`);
    }
  });

  // The search: type the topic, expect a link to its page among the results.
  current = `${stage}/index.html`;
  await page.goto(pathToFileURL(join(stageDir, "index.html")).href);
  await page.fill("#search", topic);
  const hit = page.locator("#results a.hit", { hasText: topic }).first();
  let found = true;
  try {
    // A bound on waiting, not a timing assertion: the filter runs on the input event.
    await hit.waitFor({ state: "visible", timeout: 10000 });
  } catch {
    found = false;
    problems.push(`${current}: the search for ${topic} shows no link to it`);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  if (found) {
    await hit.click();
    await page.waitForLoadState("load");
    current = page.url();
    const heading = (await page.locator("h1").first().textContent()) || "";
    if (heading.trim() !== topic) {
      problems.push(`${current}: the search result leads to "${heading.trim()}", not ${topic}`);
    }
  }

  // Every other page of the stage, and the catalog's top page.
  const pages = [resolve(dir, "index.html")];
  for (const sub of ["projects", "topics"]) {
    for (const name of readdirSync(join(stageDir, sub)).sort()) {
      pages.push(join(stageDir, sub, name));
    }
  }
  for (const file of pages) {
    current = file;
    await page.goto(pathToFileURL(file).href);
  }
  console.log(`${pages.length + 1} pages loaded; search for ${topic}: ${found ? "found" : "not found"}; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
for (const p of problems) {
  console.log(`problem: ${p}`);
}
console.log(problems.length === 0 ? "1 passed, 0 failed" : "0 passed, 1 failed");
process.exit(problems.length === 0 ? 0 : 1);
