// Validates AsyncAPI documents with the official parser (@asyncapi/parser, Avro schemas through
// @asyncapi/avro-schema-parser). Usage: node asyncapi-validate.mjs FILE|DIR...; every
// asyncapi.json / asyncapi.yaml below a directory is checked. Exit 1 when any document has an
// error-level diagnostic or none was found.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";
import { AvroSchemaParser } from "@asyncapi/avro-schema-parser";

function documents(path) {
  if (statSync(path).isFile()) {
    return [path];
  }
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const child = join(path, e.name);
      if (e.isDirectory()) return documents(child);
      return /^asyncapi\.(json|ya?ml)$/.test(e.name) ? [child] : [];
    });
}

const parser = new Parser();
parser.registerSchemaParser(AvroSchemaParser());
const files = process.argv.slice(2).flatMap(documents);
if (files.length === 0) {
  console.error("no asyncapi.json or asyncapi.yaml found in " + process.argv.slice(2).join(" "));
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  const { document, diagnostics } = await parser.parse(readFileSync(file, "utf8"), { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
  if (!document || errors.length > 0) {
    failed += 1;
    console.log(`invalid: ${file}`);
    for (const d of errors) {
      console.log(`  error ${d.code}: ${d.message} at ${d.path.join(".")}`);
    }
  } else {
    console.log(`valid: ${file} (${document.channels().length} channels, ${document.operations().length} operations, ${warnings.length} warnings)`);
  }
  for (const d of warnings) {
    console.log(`  warning ${d.code}: ${d.message} at ${d.path.join(".")}`);
  }
}
console.log(`${files.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
