// Kubernetes objects against npm kubernetes-models, offline: its validate()
// (the API's JSON schemas), then the field names its TypeScript declarations
// list, because those schemas accept unknown fields and a misspelt one
// (readOnlyRootFileSystem) would otherwise pass silently. For k8s_check.js.
//
//   const validate = schemaValidator(nodeModules, (where, message) => ...);
//   validate(object, "Deployment/coffer-fetcher");
"use strict";

const fs = require("fs");
const path = require("path");

// Field names and types of the interface a models' .d.ts file declares, and
// the files its imported types come from.
function parseDeclaration(file, nodeModules) {
  const text = fs.readFileSync(file, "utf8");
  const imports = new Map();
  for (const found of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
    const target = found[2].startsWith(".")
      ? path.resolve(path.dirname(file), found[2])
      : path.join(nodeModules, found[2]);
    imports.set(found[1], target + ".d.ts");
  }
  // Files of plain types (Quantity, IntOrString, Time) declare no interface.
  let fields = null;
  const body = text.match(/export interface \w+(?: extends \w+)? \{\n([\s\S]*?)\n\}/);
  if (body) {
    fields = new Map();
    let depth = 0;  // inside an inline map type such as labels' { [key]: string }
    for (const line of body[1].split("\n")) {
      const field = depth === 0 && line.match(/^\s*"([^"]+)"\??: (.*?);?$/);
      if (field) fields.set(field[1], field[2]);
      depth += (line.match(/\{/g) || []).length - (line.match(/\}/g) || []).length;
    }
  }
  return { fields, imports };
}

// Returns validate(object, where), which reports each problem of `object`
// through problem(where, message). nodeModules holds kubernetes-models.
function schemaValidator(nodeModules, problem) {
  const declarations = new Map();
  const declaration = (file) => {
    if (!declarations.has(file)) declarations.set(file, parseDeclaration(file, nodeModules));
    return declarations.get(file);
  };

  // Reports every field of `value` its declaration in `file` does not name.
  const checkFields = (value, file, where) => {
    const { fields, imports } = declaration(file);
    if (!fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      if (!fields.has(key)) {
        problem(where, `unknown field "${key}"`);
        continue;
      }
      const type = fields.get(key);
      const single = type.match(/^(I\w+)$/);
      const array = type.match(/^Array<(I\w+)>$/);
      const name = (single || array || [])[1];
      if (!name || !imports.has(name)) continue;
      const childFile = imports.get(name);
      if (array && Array.isArray(child)) {
        child.forEach((item, i) => checkFields(item, childFile, `${where}.${key}[${i}]`));
      } else if (single) {
        checkFields(child, childFile, `${where}.${key}`);
      }
    }
  };

  return (object, where) => {
    // "v1" is the core group; "apps/v1" and "networking.k8s.io/v1" name theirs.
    const dir = path.join(nodeModules, "kubernetes-models", object.apiVersion || "");
    let Model;
    try {
      Model = require(dir)[object.kind];
    } catch (error) {
      Model = undefined;
    }
    if (!Model) {
      problem(where, `no schema for ${object.apiVersion} ${object.kind}`);
      return;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problem(where, `schema: ${error.message}`);
    }
    checkFields(object, path.join(dir, `${object.kind}.d.ts`), where);
  };
}

module.exports = { schemaValidator };
