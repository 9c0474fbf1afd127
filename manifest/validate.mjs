// Validate a filled Teams app manifest (and its localization files) against the official JSON schema,
// fully offline: the schema files come from the installed @microsoft/app-manifest package and are passed
// to AppManifestUtils.validateAgainstSchema() explicitly, so the package never falls back to fetching a URL.
//
// Usage: node validate.mjs path/to/manifest.json
// Prints one JSON object on stdout:
//   {"ok": bool, "manifestVersion": "1.30", "package": "@microsoft/app-manifest@x.y.z",
//    "errors": [{"file": "manifest.json", "message": "..."}]}
// Exit codes: 0 valid, 1 schema errors, 2 the validation itself could not run (bad input, schema missing).

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const SCHEMA_HOST = "https://developer.microsoft.com/json-schemas/teams/";

function emit(result, code) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
}

function fail(message, extra = {}) {
  emit({ ok: false, errors: [{ file: null, message }], ...extra }, 2);
}

async function readJson(file) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    fail(`cannot read ${file}: ${err.message}`);
  }
  try {
    // Strip a UTF-8 byte order mark: Teams accepts it, JSON.parse does not.
    return JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    fail(`${file} is not valid JSON: ${err.message}`);
  }
  return undefined;
}

// The official localization schema (v1.30) contains a pattern with an unescaped "]" that is valid in a
// plain JavaScript RegExp but not with the "u" flag; AppManifestUtils.validateAgainstSchema() compiles with
// ajv's default unicodeRegExp=true and throws. Compile it with the same draft-04 validator and formats the
// package uses, with unicodeRegExp off, so the official schema itself is still what we validate against.
function compileLocalizationSchema(schema) {
  const Ajv04 = require("ajv-draft-04");
  const addFormats = require("ajv-formats");
  const ajv = new Ajv04({ allErrors: true, strictTypes: false, unicodeRegExp: false });
  addFormats(ajv, ["uri", "email", "regex"]);
  return ajv.compile(schema);
}

async function main() {
  const manifestPath = process.argv[2];
  if (!manifestPath) {
    fail("usage: node validate.mjs path/to/manifest.json");
  }

  let lib;
  let pkgJsonPath;
  try {
    pkgJsonPath = require.resolve("@microsoft/app-manifest/package.json");
    lib = require("@microsoft/app-manifest");
  } catch (err) {
    fail(`@microsoft/app-manifest is not installed (${err.message}); run: npm ci --prefix manifest`);
  }
  const pkg = JSON.parse(await readFile(pkgJsonPath, "utf8"));
  const pkgLabel = `${pkg.name}@${pkg.version}`;
  const schemaRoot = path.join(path.dirname(pkgJsonPath), "build", "json-schemas", "teams");

  const manifest = await readJson(manifestPath);
  const version = manifest && manifest.manifestVersion;
  if (typeof version !== "string" || !/^(\d+\.\d+|devPreview)$/.test(version)) {
    fail(`manifestVersion missing or malformed in ${manifestPath}`, { package: pkgLabel });
  }
  const expectedSchemaUrl = `${SCHEMA_HOST}v${version}/MicrosoftTeams.schema.json`;
  if (manifest.$schema !== expectedSchemaUrl) {
    fail(`$schema must be ${expectedSchemaUrl} for manifestVersion ${version}, found ${manifest.$schema}`, {
      package: pkgLabel,
    });
  }

  const schemaDir = path.join(schemaRoot, `v${version}`);
  const schema = await readJson(path.join(schemaDir, "MicrosoftTeams.schema.json"));
  const errors = [];
  for (const message of await lib.AppManifestUtils.validateAgainstSchema(manifest, schema)) {
    errors.push({ file: path.basename(manifestPath), message });
  }

  // Localization files named in localizationInfo live next to the manifest (zip root).
  const info = manifest.localizationInfo || {};
  const files = [];
  if (info.defaultLanguageFile) files.push(info.defaultLanguageFile);
  for (const lang of info.additionalLanguages || []) files.push(lang.file);
  if (files.length > 0) {
    const locSchema = await readJson(path.join(schemaDir, "MicrosoftTeams.Localization.schema.json"));
    const expectedLocUrl = `${SCHEMA_HOST}v${version}/MicrosoftTeams.Localization.schema.json`;
    const validateLoc = compileLocalizationSchema(locSchema);
    for (const rel of files) {
      const loc = await readJson(path.join(path.dirname(manifestPath), rel));
      if (loc.$schema !== expectedLocUrl) {
        errors.push({ file: rel, message: `$schema must be ${expectedLocUrl}, found ${loc.$schema}` });
      }
      if (!validateLoc(loc)) {
        for (const e of validateLoc.errors) {
          errors.push({ file: rel, message: `${e.instancePath} ${e.message || ""}. Details: ${JSON.stringify(e.params)}` });
        }
      }
    }
  }

  emit({ ok: errors.length === 0, manifestVersion: version, package: pkgLabel, errors }, errors.length ? 1 : 0);
}

main().catch((err) => fail(`validation crashed: ${err && err.stack ? err.stack : err}`));
