// A minimal `kustomize build` for deploy/ and deploy/virtual-garden/: resources (files and directories with their
// own kustomization), `labels` (metadata only), `images`, `namespace` (namespaced objects only, no RBAC subjects) and
// `patches` with a `target` (kind, name, group, version, namespace: anchored regular expressions as in kustomize) whose
// patch, inline or from `path`, is a `$patch: delete` or a JSON 6902 list (add, replace, remove). Enough to apply our
// own manifests in tests without a kustomize binary; anything else in a kustomization fails loudly rather than
// being ignored.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images', 'namespace', 'patches']);

/** kustomize's own file names, in its order (crds/ uses `Kustomization` so that `kubectl apply -f crds/` works). */
const FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

export function kustomizeBuild(dir: string): Manifest[] {
  const file = FILE_NAMES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no ${FILE_NAMES.join(', ')}`);
  const k = yaml.load(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const unknown = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unknown.length) throw new Error(`${file}: unsupported fields ${unknown.join(', ')}`);
  const out: Manifest[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = join(dir, r);
    if (statSync(path).isDirectory()) out.push(...kustomizeBuild(path));
    else for (const doc of yaml.loadAll(readFileSync(path, 'utf8'))) if (doc) out.push(doc as Manifest);
  }
  const kept = applyPatches(file, dir, out, (k.patches as Patch[] | undefined) ?? []);
  out.splice(0, out.length, ...kept);
  if (typeof k.namespace === 'string') setNamespace(file, out, k.namespace);
  for (const l of (k.labels as { pairs: Record<string, string> }[] | undefined) ?? []) {
    for (const m of out) m.metadata.labels = { ...m.metadata.labels, ...l.pairs };
  }
  const images = (k.images as { name: string; newName?: string; newTag?: string }[] | undefined) ?? [];
  for (const m of out) {
    const containers = (m as { spec?: { template?: { spec?: { containers?: { image: string }[] } } } }).spec?.template?.spec?.containers ?? [];
    for (const c of containers) {
      const img = images.find((i) => i.name === c.image);
      if (img) c.image = `${img.newName ?? img.name}${img.newTag ? `:${img.newTag}` : ''}`;
    }
  }
  return out;
}

interface Patch {
  target?: { group?: string; version?: string; kind?: string; name?: string; namespace?: string };
  patch?: string;
  path?: string;
}

type JsonOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

/** Kinds that have no namespace, among those deploy/ holds. */
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'PriorityClass']);

function matches(m: Manifest, t: NonNullable<Patch['target']>): boolean {
  const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
  const field = { group, version, kind: m.kind, name: m.metadata.name, namespace: m.metadata.namespace ?? '' };
  return (Object.keys(t) as (keyof typeof field)[]).every((key) => {
    if (!(key in field)) throw new Error(`patch target field ${key} is not supported`);
    return new RegExp(`^(?:${t[key]})$`).test(field[key]!);
  });
}

/** The resources that are left, patched in place. */
function applyPatches(file: string, dir: string, resources: Manifest[], patches: Patch[]): Manifest[] {
  let out = [...resources];
  for (const p of patches) {
    if (!p.target) throw new Error(`${file}: a patch without a target is not supported`);
    const doc = yaml.load(p.patch ?? readFileSync(join(dir, p.path!), 'utf8'));
    if (doc && !Array.isArray(doc) && (doc as Record<string, unknown>).$patch === 'delete') {
      out = out.filter((m) => !matches(m, p.target!));
      continue;
    }
    if (!Array.isArray(doc)) throw new Error(`${file}: only $patch: delete and JSON 6902 patches are supported`);
    for (const m of out) if (matches(m, p.target)) for (const op of doc as JsonOp[]) jsonPatch(m, op);
  }
  return out;
}

/** One RFC 6902 operation (add, replace, remove) on a manifest, in place. */
function jsonPatch(doc: Manifest, op: JsonOp): void {
  const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop()!;
  let parent: unknown = doc;
  for (const key of keys) {
    parent = Array.isArray(parent) ? parent[Number(key)] : (parent as Record<string, unknown> | undefined)?.[key];
    if (parent === undefined) throw new Error(`JSON patch ${op.op} ${op.path}: ${key} does not exist`);
  }
  if (Array.isArray(parent)) {
    const at = last === '-' ? parent.length : Number(last);
    if (op.op === 'add') parent.splice(at, 0, op.value);
    else if (at >= parent.length) throw new Error(`JSON patch ${op.op} ${op.path}: no element ${at}`);
    else if (op.op === 'replace') parent[at] = op.value;
    else parent.splice(at, 1);
    return;
  }
  const obj = parent as Record<string, unknown>;
  if (op.op !== 'add' && !(last in obj)) throw new Error(`JSON patch ${op.op} ${op.path}: ${last} does not exist`);
  if (op.op === 'remove') delete obj[last];
  else obj[last] = op.value;
}

function setNamespace(file: string, resources: Manifest[], namespace: string): void {
  for (const m of resources) {
    if (CLUSTER_SCOPED.has(m.kind)) continue;
    if (m.kind === 'RoleBinding') throw new Error(`${file}: namespace with RoleBindings (subjects) is not supported`);
    m.metadata.namespace = namespace;
  }
}
