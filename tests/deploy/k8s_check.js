// Checks one rendered kustomize overlay of deploy/k8s (as a JSON array of
// objects) against the Kubernetes schemas and against the binaries it runs.
// Every problem is printed, one line each; the exit status is 1 if any.
//
//   node k8s_check.js OVERLAY RENDER.json NODE_MODULES \
//       storage=HELPFULL.txt:50052 fetcher=HELPFULL.txt:50051 \
//       scheduler=HELPFULL.txt:50053
//
// OVERLAY is "dev" or "prod" (each has its own expectations below);
// NODE_MODULES holds kubernetes-models; each service is given with the
// output of its binary's --helpfull and its default gRPC port.
//
// Schemas: k8s_schema.js; flags: helpfull.js.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const { durationSeconds, hostOf, parseHelpfull, portOf } = require("./helpfull.js");
const { schemaValidator } = require("./k8s_schema.js");

const [overlay, renderPath, nodeModules, ...serviceArgs] = process.argv.slice(2);
if (!overlay || !renderPath || !nodeModules || serviceArgs.length === 0) {
  console.error("usage: k8s_check.js OVERLAY RENDER.json NODE_MODULES NAME=HELP:PORT...");
  process.exit(2);
}

const problems = [];
function problem(where, message) {
  problems.push(`${overlay}: ${where}: ${message}`);
}

// The image's user (tools/image) and where its entrypoint lives.
const kImageUid = 65532;
const binaryPath = (service) => `/usr/local/bin/coffer-${service}`;
// The label that makes a pod a client (network-policies.yaml).
const kClientLabels = { "coffer.io/client": "true" };

// ---------------------------------------------------------------------------
// The binaries: flags from --helpfull.

const services = new Map();
for (const arg of serviceArgs) {
  const found = arg.match(/^([a-z]+)=(.+):(\d+)$/);
  if (!found) throw new Error(`bad service argument ${arg}`);
  const flags = parseHelpfull(fs.readFileSync(found[2], "utf8"));
  if (!flags.has("listen") || !flags.has("shutdown_grace")) {
    throw new Error(`${found[2]}: no --listen or --shutdown_grace: not a --helpfull of a service`);
  }
  services.set(found[1], { name: found[1], flags, defaultPort: Number(found[3]) });
}

// ---------------------------------------------------------------------------
// The rendered objects.

const objects = JSON.parse(fs.readFileSync(renderPath, "utf8")).filter((o) => o);
// kustomize wraps a Secret's base64 over lines, which the API server's
// decoder skips and the schema's "byte" format does not.
for (const secret of objects.filter((o) => o.kind === "Secret")) {
  for (const key of Object.keys(secret.data || {})) {
    secret.data[key] = secret.data[key].replace(/\n/g, "");
  }
}
const nameOf = (o) => `${o.kind}/${o.metadata && o.metadata.name}`;
const byKind = (kind) => objects.filter((o) => o.kind === kind);
const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);

const validateSchema = schemaValidator(nodeModules, problem);
for (const object of objects) validateSchema(object, nameOf(object));

const names = new Set();
for (const object of objects) {
  const key = `${object.kind}/${object.metadata.namespace || ""}/${object.metadata.name}`;
  if (names.has(key)) problem(nameOf(object), "defined twice");
  names.add(key);
}

const namespaces = byKind("Namespace").map((n) => n.metadata.name);
if (namespaces.length !== 1) problem("Namespace", `want exactly one, got ${namespaces.length}`);
for (const object of objects) {
  if (object.kind !== "Namespace" && object.metadata.namespace !== namespaces[0]) {
    problem(nameOf(object), `in namespace ${object.metadata.namespace}, not ${namespaces[0]}`);
  }
}

const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);

// ---------------------------------------------------------------------------
// Workloads: each container against its binary.

const workloads = objects.filter((o) => ["Deployment", "StatefulSet"].includes(o.kind));
// service name -> { workload, pod spec, container, flags set, ports }
const running = new Map();

// Splits args into flag name -> value ("true" for a bare boolean).
function parseArgs(args, where) {
  const set = new Map();
  for (const arg of args || []) {
    const found = arg.match(/^--([A-Za-z0-9_]+)(?:=(.*))?$/s);
    if (!found) {
      problem(where, `argument "${arg}" is not --flag or --flag=value`);
      continue;
    }
    if (set.has(found[1])) problem(where, `--${found[1]} given twice`);
    set.set(found[1], found[2] === undefined ? "true" : found[2]);
  }
  return set;
}

// The pod's and the container's security context, merged as the kubelet
// does (the container's wins).
function checkSecurity(pod, container, where) {
  const podContext = pod.securityContext || {};
  const own = container.securityContext || {};
  const effective = (key) => (own[key] !== undefined ? own[key] : podContext[key]);
  if (effective("runAsNonRoot") !== true) problem(where, "runAsNonRoot is not true");
  if (effective("runAsUser") !== kImageUid) problem(where, `runAsUser is not ${kImageUid}`);
  if (own.allowPrivilegeEscalation !== false) problem(where, "allowPrivilegeEscalation is not false");
  if (own.readOnlyRootFilesystem !== true) problem(where, "readOnlyRootFilesystem is not true");
  if (own.privileged) problem(where, "privileged");
  const drop = ((own.capabilities || {}).drop || []);
  if (!drop.includes("ALL")) problem(where, "capabilities do not drop ALL");
  if (((own.capabilities || {}).add || []).length) problem(where, "capabilities added");
  const seccomp = (effective("seccompProfile") || {}).type;
  if (seccomp !== "RuntimeDefault") problem(where, `seccompProfile is ${seccomp}, not RuntimeDefault`);
  if (pod.automountServiceAccountToken !== false) {
    problem(where, "automountServiceAccountToken is not false (no service uses the API)");
  }
  // Service links would inject COFFER_<SERVICE>_PORT and the like, in the
  // namespace of the variables the binaries read as flags.
  if (pod.enableServiceLinks !== false) problem(where, "enableServiceLinks is not false");
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problem(where, "shares a host namespace");
}

function checkContainer(workload, pod, container) {
  const where = `${nameOf(workload)} container ${container.name}`;
  const image = String(container.image || "");
  // REGISTRY[:PORT]/PATH/NAME[:TAG][@DIGEST] -> NAME
  const imageName = path.basename(image.replace(/@.*$/, "").replace(/:[^/]*$/, ""));
  const service = imageName.replace(/^coffer-/, "");
  const binary = services.get(service);
  if (!binary || imageName !== `coffer-${service}`) {
    problem(where, `image ${image} is not coffer-storage, coffer-fetcher or coffer-scheduler`);
    return;
  }
  if (running.has(service)) problem(where, `a second workload runs coffer-${service}`);
  const command = container.command;
  if (command && !(command.length === 1 && command[0] === binaryPath(service))) {
    problem(where, `command ${JSON.stringify(command)} is not the image's ${binaryPath(service)}`);
  }
  checkSecurity(pod, container, where);

  // Flags: every one must exist in the binary.
  const args = parseArgs(container.args, where);
  for (const name of args.keys()) {
    if (!binary.flags.has(name)) {
      problem(where, `--${name} is not a flag of coffer-${service} (not in its --helpfull)`);
    }
  }
  // $(VAR) in arguments: the kubelet expands only variables of the container.
  const env = new Map((container.env || []).map((e) => [e.name, e]));
  for (const arg of container.args || []) {
    for (const ref of arg.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      if (!env.has(ref[1])) problem(where, `${arg} names $(${ref[1]}), which env does not define`);
    }
  }
  if (container.envFrom) problem(where, "envFrom: variables that cannot be checked against flags");
  // Environment: COFFER_<FLAG> for a project flag, nothing else of that prefix.
  const fromEnv = new Map();
  for (const variable of container.env || []) {
    const found = variable.name.match(/^COFFER_([A-Z0-9_]+)$/);
    if (!found) {
      const used = (container.args || []).some((a) => a.includes(`$(${variable.name})`));
      if (!used) problem(where, `env ${variable.name} is neither COFFER_<FLAG> nor used by an argument`);
      continue;
    }
    const flag = binary.flags.get(found[1].toLowerCase());
    if (!flag) {
      problem(where, `env ${variable.name} names no flag of coffer-${service} (--${found[1].toLowerCase()})`);
    } else if (!flag.project) {
      problem(where, `env ${variable.name}: --${flag.name} (${flag.file}) reads no environment`);
    } else if (args.has(flag.name)) {
      problem(where, `--${flag.name} set by both an argument and ${variable.name}`);
    } else if (variable.valueFrom) {
      problem(where, `env ${variable.name} from ${Object.keys(variable.valueFrom)}: secrets go in files`);
    } else {
      fromEnv.set(flag.name, String(variable.value));
    }
  }
  const flagValue = (name) =>
    args.has(name) ? args.get(name)
      : fromEnv.has(name) ? fromEnv.get(name)
        : (binary.flags.get(name) || { default: "" }).default;

  // Ports: the gRPC port is the service's default, on every interface.
  const ports = new Map((container.ports || []).map((p) => [p.name, p.containerPort]));
  const listen = flagValue("listen");
  if (portOf(listen) !== binary.defaultPort) {
    problem(where, `--listen=${listen}: not the service's default port ${binary.defaultPort}`);
  }
  if (!/^(0\.0\.0\.0|\[::\]):/.test(listen)) problem(where, `--listen=${listen}: not every interface`);
  if (ports.get("grpc") !== portOf(listen)) {
    problem(where, `containerPort "grpc" ${ports.get("grpc")} is not --listen's ${portOf(listen)}`);
  }
  // Probes: native gRPC, on the plaintext health listener when there is one
  // (the kubelet cannot present a client certificate), else on --listen.
  const healthListen = flagValue("health_listen");
  const probePort = healthListen ? portOf(healthListen) : portOf(listen);
  if (healthListen && ports.get("health") !== probePort) {
    problem(where, `containerPort "health" ${ports.get("health")} is not --health_listen's ${probePort}`);
  }
  for (const kind of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const probe = container[kind];
    if (!probe) {
      if (kind !== "startupProbe") problem(where, `no ${kind}`);
      continue;
    }
    if (!probe.grpc) problem(where, `${kind} is not a native gRPC probe`);
    else if (probe.grpc.port !== probePort) {
      problem(where, `${kind} on port ${probe.grpc.port}, not the health port ${probePort}`);
    }
  }

  // Termination: the kubelet's SIGKILL must come after the preStop pause and
  // the service's own shutdown grace.
  const grace = durationSeconds(flagValue("shutdown_grace"));
  const preStop = ((container.lifecycle || {}).preStop || {});
  if (preStop.exec) problem(where, "preStop exec: the image has no shell or sleep");
  const pause = preStop.sleep ? preStop.sleep.seconds : 0;
  const termination = pod.terminationGracePeriodSeconds ?? 30;  // the API's default
  if (!(termination >= pause + grace + 5)) {
    problem(where, `terminationGracePeriodSeconds ${termination} < preStop ${pause}s + ` +
      `--shutdown_grace ${grace}s + 5s to drain`);
  }

  // Files: every path a flag names is on a volume (the root filesystem is
  // read-only and holds no configuration), and secrets are mounted whole.
  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  const claims = new Map(((workload.spec.volumeClaimTemplates) || []).map((c) => [c.metadata.name, c]));
  const mounts = container.volumeMounts || [];
  for (const mount of mounts) {
    const volume = volumes.get(mount.name);
    if (!volume && !claims.has(mount.name)) problem(where, `mount ${mount.name} has no volume`);
    if (mount.subPath && volume && (volume.secret || volume.configMap)) {
      problem(where, `mount ${mount.name} uses subPath: a rotated Secret would never reach it`);
    }
  }
  const mountOf = (file) =>
    mounts.filter((m) => file === m.mountPath || file.startsWith(m.mountPath.replace(/\/?$/, "/")))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const fileFlags = ["tls_cert", "tls_key", "tls_ca", "auth_tokens_file", "token_file",
    "db_key_file", "config"];
  const writableFlags = ["db_path", "backup_dir"];
  const filesRead = new Map();
  for (const name of [...fileFlags, ...writableFlags]) {
    if (!binary.flags.has(name)) continue;
    const value = flagValue(name);
    if (!value) continue;
    const mount = mountOf(value);
    if (!mount) {
      problem(where, `--${name}=${value} is on no volume (the root filesystem is read-only)`);
      continue;
    }
    if (writableFlags.includes(name)) {
      if (mount.readOnly) problem(where, `--${name}=${value} is on read-only mount ${mount.name}`);
      continue;
    }
    const key = path.relative(mount.mountPath, value);
    filesRead.set(name, { mount, key, volume: volumes.get(mount.name) });
  }
  running.set(service, { workload, pod, container, where, args, flagValue, ports, filesRead, claims });
}

for (const workload of workloads) {
  const pod = workload.spec.template.spec;
  if (!matches(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels)) {
    problem(nameOf(workload), "selector does not select its own pods");
  }
  for (const container of pod.containers) checkContainer(workload, pod, container);
  if ((pod.initContainers || []).length) problem(nameOf(workload), "init containers are not checked");
}
for (const service of services.keys()) {
  if (!running.has(service)) problem(`coffer-${service}`, "no workload runs it");
}

// ---------------------------------------------------------------------------
// Secrets and ConfigMaps: what the flags read exists under the key they name.

const secrets = new Map(byKind("Secret").map((s) => [s.metadata.name, s]));
const configMaps = new Map(byKind("ConfigMap").map((c) => [c.metadata.name, c]));
// The Secrets an operator creates in production (deploy/k8s/README.md).
const kExternalSecrets = ["coffer-storage-tls", "coffer-fetcher-tls", "coffer-scheduler-tls",
  "coffer-auth-tokens", "coffer-scheduler-token", "coffer-db-key"];

function fileContent(run, flag) {
  const read = run.filesRead.get(flag);
  if (!read || !read.volume) return undefined;
  if (read.volume.secret) {
    const secret = secrets.get(read.volume.secret.secretName);
    if (!secret) return undefined;
    const data = (secret.data || {})[read.key];
    return data === undefined ? null : Buffer.from(data, "base64").toString("utf8");
  }
  if (read.volume.configMap) {
    const map = configMaps.get(read.volume.configMap.name);
    if (!map) return undefined;
    const data = (map.data || {})[read.key];
    return data === undefined ? null : data;
  }
  return undefined;
}

for (const [service, run] of running) {
  for (const [flag, read] of run.filesRead) {
    const volume = read.volume;
    if (!volume || !(volume.secret || volume.configMap)) {
      problem(run.where, `--${flag} reads ${read.mount.name}, not a Secret or ConfigMap`);
      continue;
    }
    if (volume.configMap && !configMaps.has(volume.configMap.name)) {
      problem(run.where, `--${flag}: ConfigMap ${volume.configMap.name} is not rendered`);
    }
    if (volume.secret) {
      const name = volume.secret.secretName;
      if (!secrets.has(name) && (overlay !== "prod" || !kExternalSecrets.includes(name))) {
        problem(run.where, `--${flag}: Secret ${name} is neither rendered nor one prod expects`);
      }
      if (volume.secret.defaultMode === undefined || (volume.secret.defaultMode & 0o007) !== 0) {
        problem(run.where, `--${flag}: Secret ${name} readable by others`);
      }
    }
    if (fileContent(run, flag) === null) {
      const kind = volume.secret ? "Secret" : "ConfigMap";
      problem(run.where, `--${flag}: no key "${read.key}" in the volume's ${kind}`);
    }
  }
  // Transport security and tokens everywhere.
  for (const flag of ["tls_cert", "tls_key", "tls_ca", "auth_tokens_file"]) {
    if (!run.args.has(flag)) problem(run.where, `--${flag} not set: every server uses mutual TLS and tokens`);
  }
  if (run.args.has("insecure")) problem(run.where, "--insecure: nothing travels in clear");
}
if (overlay === "prod" && secrets.size) {
  problem("Secret", `prod renders Secrets (${[...secrets.keys()]}): they never live in git`);
}

// ---------------------------------------------------------------------------
// Services: each selects the service's pods on its gRPC port.

for (const [service, run] of running) {
  const svc = find("Service", `coffer-${service}`);
  if (!svc) {
    problem(run.where, `no Service coffer-${service}`);
    continue;
  }
  if (!matches(svc.spec.selector, run.workload.spec.template.metadata.labels)) {
    problem(nameOf(svc), `does not select ${nameOf(run.workload)}'s pods`);
  }
  for (const port of svc.spec.ports) {
    const target = port.targetPort === undefined ? port.port : port.targetPort;
    const resolved = typeof target === "number" ? target : run.ports.get(target);
    if (resolved !== portOf(run.flagValue("listen")) || port.port !== services.get(service).defaultPort) {
      const want = services.get(service).defaultPort;
      problem(nameOf(svc), `port ${port.port} -> ${target} is not the gRPC port ${want}`);
    }
  }
}

// The scheduler dials storage and fetcher through their Services, and checks
// their certificates (dev: generated here, so verifiable) for that name.
const scheduler = running.get("scheduler");
if (scheduler) {
  for (const peer of ["storage", "fetcher"]) {
    const target = scheduler.flagValue(peer);
    const svc = find("Service", hostOf(target));
    if (!svc) {
      problem(scheduler.where, `--${peer}=${target}: no Service ${hostOf(target)}`);
      continue;
    }
    if (!svc.spec.selector || svc.spec.selector["app.kubernetes.io/name"] !== `coffer-${peer}` ||
        !svc.spec.ports.some((p) => p.port === portOf(target))) {
      problem(scheduler.where, `--${peer}=${target} does not reach coffer-${peer}'s gRPC port`);
    }
    const server = running.get(peer);
    if (!server) continue;
    const certificate = fileContent(server, "tls_cert");
    const serverCa = fileContent(server, "tls_ca");
    const clientCa = fileContent(scheduler, "tls_ca");
    const clientCertificate = fileContent(scheduler, "tls_cert");
    if (!certificate || !serverCa || !clientCa || !clientCertificate) {
      if (overlay !== "prod") problem(scheduler.where, `--${peer}: certificates not rendered`);
      continue;
    }
    const name = scheduler.args.get("tls_server_name") || hostOf(target);
    const x509 = new crypto.X509Certificate(certificate);
    if (!x509.checkHost(name)) problem(nameOf(server.workload), `its certificate is not valid for ${name}`);
    if (!x509.verify(new crypto.X509Certificate(clientCa).publicKey)) {
      problem(nameOf(server.workload), "its certificate is not signed by the scheduler's --tls_ca");
    }
    const serverCaKey = new crypto.X509Certificate(serverCa).publicKey;
    if (!new crypto.X509Certificate(clientCertificate).verify(serverCaKey)) {
      problem(scheduler.where, `its client certificate is not signed by coffer-${peer}'s --tls_ca`);
    }
  }
  // The holder id and the advertised address come from the pod itself.
  const env = new Map((scheduler.container.env || []).map((e) => [e.name, e]));
  const fieldOf = (arg) => {
    const ref = String(arg || "").match(/^\$\((\w+)\)/);
    const variable = ref && env.get(ref[1]);
    return variable?.valueFrom?.fieldRef?.fieldPath;
  };
  if (fieldOf(scheduler.args.get("replica_id")) !== "metadata.name") {
    problem(scheduler.where, "--replica_id is not the pod's name (downward API)");
  }
  if (fieldOf(scheduler.args.get("advertise_address")) !== "status.podIP" ||
      portOf(scheduler.args.get("advertise_address")) !== services.get("scheduler").defaultPort) {
    problem(scheduler.where, "--advertise_address is not the pod's IP and gRPC port");
  }
  if (!scheduler.args.has("token_file")) problem(scheduler.where, "no --token_file for its calls");
}

// ---------------------------------------------------------------------------
// Shapes: storage owns the database, fetcher scales, scheduler has a standby.

const storage = running.get("storage");
if (storage) {
  const w = storage.workload;
  if (w.kind !== "StatefulSet" || w.spec.replicas !== 1) {
    problem(nameOf(w), "storage must be a StatefulSet of 1");
  }
  const data = storage.container.volumeMounts.find((m) => m.mountPath === "/data");
  if (!data || !storage.claims.has(data.name)) problem(nameOf(w), "/data is not a volumeClaimTemplate");
  if (storage.flagValue("db_path") !== "/data/coffer.db" || storage.flagValue("backup_dir") !== "/data/backups") {
    problem(nameOf(w), "the database and backups are not under /data");
  }
  if (!storage.args.has("db_key_file")) problem(nameOf(w), "no --db_key_file");
}
const hpas = byKind("HorizontalPodAutoscaler");
const fetcher = running.get("fetcher");
if (fetcher) {
  const w = fetcher.workload;
  if (w.kind !== "Deployment") problem(nameOf(w), "fetcher must be a Deployment");
  const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === w.metadata.name &&
    h.spec.scaleTargetRef.kind === "Deployment");
  if (overlay === "prod" && !hpa) problem(nameOf(w), "no HorizontalPodAutoscaler");
  if (overlay === "dev" && (hpa || (w.spec.replicas || 1) !== 1)) problem(nameOf(w), "dev runs one fetcher");
  if (hpa && w.spec.replicas !== undefined) problem(nameOf(w), "sets replicas that its autoscaler owns");
  if (hpa) {
    const cpu = ((fetcher.container.resources || {}).requests || {}).cpu;
    if (!cpu) problem(nameOf(w), "no CPU request for the autoscaler to measure against");
  }
}
if (running.get("scheduler")) {
  const w = running.get("scheduler").workload;
  const want = overlay === "dev" ? 1 : 2;
  if (w.kind !== "Deployment" || w.spec.replicas !== want) problem(nameOf(w), `want a Deployment of ${want}`);
}
if (overlay === "prod") {
  for (const [service, run] of running) {
    const resources = run.container.resources || {};
    for (const kind of ["requests", "limits"]) {
      for (const resource of ["cpu", "memory"]) {
        if (!(resources[kind] || {})[resource]) problem(run.where, `no ${resource} ${kind}`);
      }
    }
    if (service === "storage") continue;
    const labels = run.workload.spec.template.metadata.labels;
    if (!byKind("PodDisruptionBudget").some((p) => matches(p.spec.selector.matchLabels, labels))) {
      problem(run.where, "no PodDisruptionBudget");
    }
  }
}
for (const pdb of byKind("PodDisruptionBudget")) {
  const selected = [...running.values()].filter((r) =>
    matches(pdb.spec.selector.matchLabels, r.workload.spec.template.metadata.labels));
  if (selected.length !== 1) problem(nameOf(pdb), `selects ${selected.length} workloads`);
}

// ---------------------------------------------------------------------------
// NetworkPolicies: who reaches whom, evaluated as the API defines it (pod
// selectors within the namespace; any ipBlock counts as reaching everything,
// so it can only make the "must not" checks fail).

const policies = byKind("NetworkPolicy");
function allowed(fromLabels, toService, port) {
  const run = running.get(toService);
  const labels = run.workload.spec.template.metadata.labels;
  const selecting = policies.filter((p) => matches(p.spec.podSelector.matchLabels, labels) &&
    (p.spec.policyTypes || ["Ingress"]).includes("Ingress"));
  if (selecting.length === 0) return true;
  const portMatches = (rulePorts) => !rulePorts || rulePorts.length === 0 || rulePorts.some((p) =>
    p.port === undefined || p.port === port || run.ports.get(p.port) === port);
  const peerMatches = (peer) => peer.ipBlock ||
    (peer.podSelector ? matches(peer.podSelector.matchLabels, fromLabels) : true);
  return selecting.some((p) => (p.spec.ingress || []).some((rule) =>
    portMatches(rule.ports) && (!rule.from || rule.from.length === 0 || rule.from.some(peerMatches))));
}
if (running.size === 3) {
  const labelsOf = (service) => running.get(service).workload.spec.template.metadata.labels;
  const peers = {
    scheduler: labelsOf("scheduler"),
    fetcher: labelsOf("fetcher"),
    storage: labelsOf("storage"),
    client: kClientLabels,
    "an unlabelled pod": { app: "other" },
  };
  const want = {
    storage: ["scheduler", "client"],
    fetcher: ["scheduler"],
    scheduler: ["client"],
  };
  for (const [to, from] of Object.entries(want)) {
    const port = services.get(to).defaultPort;
    for (const [peer, labels] of Object.entries(peers)) {
      if (peer === to) continue;
      const reaches = allowed(labels, to, port);
      if (reaches !== from.includes(peer)) {
        problem(`NetworkPolicy`, `${peer} ${reaches ? "can" : "cannot"} reach coffer-${to}:${port}`);
      }
    }
  }
}

for (const line of problems) console.log(`FAIL: ${line}`);
const checked = `${objects.length} objects, ${running.size} services`;
if (problems.length) {
  console.log(`${overlay}: ${problems.length} problem(s) in ${checked}`);
  process.exit(1);
}
console.log(`${overlay}: OK (${checked})`);
