// The GEP draft quotes CanaryRollout field paths (`spec.…`, `status.…`) and shows YAML examples. Both must match
// the API: every quoted path has to resolve in the generated CRD schema, and every example has to parse with the
// zod schema the CRD is generated from. Paths of Gardener objects are written with their kind in front
// (`Seed.status.gardener.version`), so they are not taken for CanaryRollout paths.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import yaml from 'js-yaml';
import { CRD_FILE } from '../../src/api/crd-file.js';
import { CanaryRollout, CanaryRolloutStatus } from '../../src/api/v1alpha1.js';

interface Schema {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** A CanaryRollout field path as the GEP quotes it; array segments may carry [], [*] or [N]. */
const PATH = /^(spec|status)\.[A-Za-z0-9_.[\]*]+$/;

function loadSchema(): Schema {
  const docs = yaml.loadAll(readFileSync(`crds/${CRD_FILE}`, 'utf8')) as { kind?: string; spec?: { versions?: { schema?: { openAPIV3Schema?: Schema } }[] } }[];
  const crd = docs.find((d) => d?.kind === 'CustomResourceDefinition');
  const schema = crd?.spec?.versions?.[0]?.schema?.openAPIV3Schema;
  if (!schema) throw new Error(`no openAPIV3Schema in crds/${CRD_FILE}`);
  return schema;
}

/** Markdown without its fenced code blocks (they hold YAML and Go, checked separately or not at all). */
function proseOf(markdown: string): string {
  return markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1[ \t]*$/gm, '');
}

/** Every inline-code token that is a CanaryRollout path; a trailing `=value` is kept for the enum check. */
function quotedPaths(markdown: string): string[] {
  const out = new Set<string>();
  for (const m of proseOf(markdown).matchAll(/`([^`\n]+)`/g)) {
    const token = m[1]!.trim();
    const path = token.split('=')[0]!;
    if (PATH.test(path)) out.add(token);
  }
  return [...out].sort();
}

type Step = { name: string } | { index: true };

/** `spec.waves[0].healthGate` -> spec, waves, [index], healthGate; undefined when malformed. */
function parsePath(path: string): Step[] | undefined {
  const steps: Step[] = [];
  for (const segment of path.split('.')) {
    const m = /^([A-Za-z0-9_]+)((?:\[(?:\*|[0-9]*)\])*)$/.exec(segment);
    if (!m) return undefined;
    steps.push({ name: m[1]! });
    for (let i = 0; i < (m[2]!.match(/\[/g)?.length ?? 0); i++) steps.push({ index: true });
  }
  return steps;
}

const preserves = (s: Schema) => s['x-kubernetes-preserve-unknown-fields'] === true;

/**
 * Resolves a quoted path (optionally `path=value`) against the CRD's openAPIV3Schema: properties, items (explicitly
 * with [] / [*] / [N], or implicitly when a name follows an array) and additionalProperties. A schema that preserves
 * unknown fields accepts anything below it. With `=value`, an enum at the end must contain the value.
 */
function resolves(root: Schema, token: string): boolean {
  const [path, value] = token.split('=', 2) as [string, string | undefined];
  const steps = parsePath(path);
  if (!steps) return false;
  let node: Schema = root;
  for (const step of steps) {
    if (preserves(node) && !node.properties && !node.items) return true;
    if ('index' in step) {
      if (node.type !== 'array' || !node.items) return false;
      node = node.items;
      continue;
    }
    if (node.type === 'array' && node.items) node = node.items;
    const next: Schema | undefined =
      node.properties?.[step.name] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
    if (!next) return preserves(node);
    node = next;
  }
  if (value !== undefined && node.enum) return node.enum.includes(value);
  return true;
}

/** The fenced yaml blocks of the draft, parsed. */
function yamlBlocks(markdown: string): unknown[] {
  return [...markdown.matchAll(/^```ya?ml[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)].map((m) => yaml.load(m[1]!));
}

const GEP = readFileSync('gep-draft.md', 'utf8');
const ROOT = loadSchema();

describe('GEP draft field paths', () => {
  const paths = quotedPaths(GEP);

  it('quotes only CanaryRollout paths that exist in the generated CRD', () => {
    expect(paths.filter((p) => !resolves(ROOT, p))).toEqual([]);
  });

  it('quotes at least 20 distinct paths (so a broken extraction cannot pass silently)', () => {
    expect(paths.length).toBeGreaterThanOrEqual(20);
  });

  it('has a resolver that rejects what the CRD does not have', () => {
    for (const bad of ['spec.noSuchField', 'status.waves[].noSuchField', 'spec.dryRun.deeper', 'spec.onHalt[].rollback', 'spec.onHalt.rollback=Undo', 'spec..bake']) {
      expect([bad, resolves(ROOT, bad)]).toEqual([bad, false]);
    }
    for (const good of ['spec.waves[0].autoPick.coverage', 'spec.waves[*].healthGate.minSampleSize', 'status.waves.seeds.phase', 'status.plan.waves[].shootsByPurpose.production', 'status.machine.state.anything', 'spec.onHalt.rollback=RevertAll']) {
      expect([good, resolves(ROOT, good)]).toEqual([good, true]);
    }
  });

  it('takes paths from inline code only, never from fenced blocks or kind-qualified Gardener paths', () => {
    const md = ['`spec.bake` and `Seed.status.gardener.version`, `status.phase=Halted`', '```yaml', 'x: `spec.notChecked`', '```', '`spec.waves[].bake`'].join('\n');
    expect(quotedPaths(md)).toEqual(['spec.bake', 'spec.waves[].bake', 'status.phase=Halted']);
  });
});

describe('GEP draft YAML examples', () => {
  const blocks = yamlBlocks(GEP).filter((b): b is Record<string, unknown> => !!b && typeof b === 'object');
  const rollouts = blocks.filter((b) => b.kind === 'CanaryRollout');
  const statuses = blocks.filter((b) => Object.keys(b).length === 1 && 'status' in b);

  it('has at least one full CanaryRollout example, and each one parses with the API schema', () => {
    expect(rollouts.length).toBeGreaterThanOrEqual(1);
    for (const r of rollouts) expect(CanaryRollout.safeParse(r).error?.issues ?? []).toEqual([]);
  });

  it('shows a status that parses with the status schema', () => {
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    for (const s of statuses) expect(CanaryRolloutStatus.safeParse(s.status).error?.issues ?? []).toEqual([]);
  });
});

/** Prose words: the markdown without fenced blocks, HTML comments and link definitions (tables count). */
function proseWords(markdown: string): number {
  const prose = proseOf(markdown).replace(/<!--[\s\S]*?-->/g, '').replace(/^\[[^\]]+\]:.*$/gm, '');
  return prose.split(/\s+/).filter((w) => /[A-Za-z0-9]/.test(w)).length;
}

/** The pinned Gardener release every claim links to (v1.150.0, what test/garden builds). */
const PINNED = 'f3b21d589d4e49812adf4abcfcac68eb847e0882';
const GEPS = { 'gep-draft.md': 4_000, 'gep/controllerdeployment-selection/README.md': 2_500 };

describe('GEP drafts in the enhancements template', () => {
  it.each(Object.entries(GEPS))('%s stays within %d words of prose', (file, limit) => {
    const words = proseWords(readFileSync(file, 'utf8'));
    expect(words).toBeGreaterThan(500); // counted at all
    expect(words).toBeLessThanOrEqual(limit);
  });

  it.each(Object.keys(GEPS))('%s links gardener/gardener source only at the pinned release, each to its lines', (file) => {
    const links = [...readFileSync(file, 'utf8').matchAll(/https:\/\/github\.com\/gardener\/gardener\/(blob|tree)\/([^/\s)]+)\/?([^\s)#]*)(#[^\s)]*)?/g)];
    expect(links.length).toBeGreaterThan(5);
    for (const [url, kind, ref, path, anchor] of links) {
      expect({ url, ref }).toEqual({ url, ref: PINNED });
      // a blob of Go source names its lines; docs may link a heading
      if (kind === 'blob' && path?.endsWith('.go')) expect({ url, anchor: /^#L\d+(-L\d+)?$/.test(anchor ?? '') }).toEqual({ url, anchor: true });
    }
  });

  it('has its metadata in gep/gep.yaml with the template\'s keys', () => {
    for (const file of ['gep/gep.yaml', 'gep/controllerdeployment-selection/gep.yaml']) {
      const meta = yaml.load(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect(Object.keys(meta).sort()).toEqual(['approvers', 'authors', 'creation-date', 'gep-number', 'reviewers', 'status', 'steering-link', 'title']);
      expect(meta.status).toBe('provisional');
    }
  });
});
