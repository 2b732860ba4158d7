// A minimal `kustomize build` for deploy/: resources (files and directories with their own kustomization),
// `labels` (metadata only) and `images`. Enough to apply our own manifests in tests without a kustomize binary;
// anything else in a kustomization fails loudly rather than being ignored.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'labels', 'images']);

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
