// What a coffer binary accepts, read from its `--helpfull`, and the value
// syntaxes its flags use (absl durations, HOST:PORT). For k8s_check.js.
"use strict";

// Parses `--helpfull`: sections "Flags from FILE:" and entries
// "--name (help); default: value;" wrapped over several lines. A flag is the
// project's (and reads COFFER_<FLAG>) when its file is in the workspace.
function parseHelpfull(text) {
  const flags = new Map();
  let file = "";
  let current = null;
  for (const line of text.split("\n")) {
    const section = line.match(/^\s*Flags from (.+):$/);
    if (section) {
      file = section[1];
      current = null;
      continue;
    }
    const entry = line.match(/^\s{4}--([A-Za-z0-9_]+) \(/);
    if (entry) {
      current = { name: entry[1], text: line.trim(), project: !/^(\.|\/)/.test(file), file };
      flags.set(current.name, current);
    } else if (current && /^\s{6}\S/.test(line)) {
      current.text += " " + line.trim();
    } else {
      current = null;
    }
  }
  for (const flag of flags.values()) {
    const found = flag.text.match(/; default: (.*);$/);
    flag.default = found ? found[1].replace(/^"(.*)"$/, "$1") : "";
  }
  return flags;
}

// absl's duration syntax, as the manifests use it: "10s", "1m30s", "500ms".
function durationSeconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
  let total = 0;
  let rest = String(text);
  if (rest === "0") return 0;
  while (rest.length > 0) {
    const part = rest.match(/^(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)/);
    if (!part) return NaN;
    total += Number(part[1]) * units[part[2]];
    rest = rest.slice(part[0].length);
  }
  return total;
}

function portOf(address) {
  const found = String(address).match(/:(\d+)$/);
  return found ? Number(found[1]) : NaN;
}

function hostOf(address) {
  return String(address).replace(/:\d+$/, "");
}

module.exports = { parseHelpfull, durationSeconds, portOf, hostOf };
