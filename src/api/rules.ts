// Cross-field rules, declared once: the CEL expression goes into the CRD (x-kubernetes-validations, enforced by
// the API server) and the TypeScript predicate into zod (enforced wherever the controller parses an object).
// Both report at the same path, so `kubectl apply` and the controller name the same field. The predicates are
// tested against the real API server with the same invalid specs (test/integration/api-validation.test.ts).
import type * as z from 'zod';

export interface Rule<T> {
  /** CEL over `self` (the object the rule is attached to). */
  cel: string;
  /** Human message; the API server prefixes it with the field path. */
  message: string;
  /** Relative path of the offending field, e.g. ".percent", as CEL's fieldPath. Empty: the object itself. */
  field?: string;
  /** The same rule in TypeScript; true when the value is valid. */
  check: (value: T) => boolean;
  /**
   * CEL sees `oldSelf` as an optional, empty on create: a rule `oldSelf.hasValue() || ...` holds on create only, so
   * objects stored before the rule existed can still be updated (their status written, their finalizer removed).
   */
  optionalOldSelf?: boolean;
}

export interface KubeValidation {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: string;
  optionalOldSelf?: boolean;
}

// The CRD's OpenAPI extensions, as zod metadata (crd.ts writes them into the schema): typed here for every schema.
declare module 'zod' {
  interface GlobalMeta {
    'x-kubernetes-validations'?: KubeValidation[];
    'x-kubernetes-preserve-unknown-fields'?: boolean;
    'x-kubernetes-list-type'?: 'set' | 'map';
    'x-kubernetes-list-map-keys'?: string[];
  }
}

/** Attaches rules to a zod schema: as zod refinements and as x-kubernetes-validations metadata. */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  let out = schema;
  for (const r of rules) {
    const path = r.field ? fieldPathToArray(r.field) : [];
    out = out.superRefine((value, ctx) => {
      if (!r.check(value)) ctx.addIssue({ code: 'custom', message: r.message, input: value, path: [...path] }); // zod prefixes paths in place: never share the array
    });
  }
  const existing = schema.meta();
  const validations: KubeValidation[] = [
    ...(existing?.['x-kubernetes-validations'] ?? []),
    ...rules.map((r) => ({ rule: r.cel, message: r.message, ...(r.field ? { fieldPath: r.field } : {}), ...(r.optionalOldSelf ? { optionalOldSelf: true } : {}) })),
  ];
  return out.meta({ ...existing, 'x-kubernetes-validations': validations });
}

/** ".a.b[2]" -> ["a", "b", 2] */
export function fieldPathToArray(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of field.matchAll(/\.([A-Za-z0-9_]+)|\[(\d+)\]/g)) out.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return out;
}

/** ["spec", "waves", 1, "percent"] -> "spec.waves[1].percent", the way the API server prints field paths. */
export function formatPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

/**
 * A list whose items (or whose items' `key` field) must be unique, enforced by the API server through
 * x-kubernetes-list-type set/map ("Duplicate value" at the duplicate's index) and by zod at the same index.
 * Cheaper than a CEL rule, whose cost grows with the square of the list size.
 */
export function uniqueList<S extends z.ZodArray<z.ZodType>>(schema: S, key?: string): S {
  const keyOf = (item: unknown): unknown => (key === undefined ? item : typeof item === 'object' && item !== null ? Reflect.get(item, key) : undefined);
  const checked = schema.superRefine((items, ctx) => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      const k = keyOf(item);
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `Duplicate value: ${JSON.stringify(k)}`, input: item, path: [i] });
      seen.add(k);
    });
  });
  return checked.meta({
    ...schema.meta(),
    ...(key ? { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] } : { 'x-kubernetes-list-type': 'set' }),
  });
}

/**
 * An API-server-only transition rule: the field cannot change after creation (CEL oldSelf). zod has no old
 * object to compare with, so this has no zod counterpart; the controller never sees such an update.
 * `rule` replaces the plain `self == oldSelf` where some part may change (see unchangedExcept).
 */
export function immutable<S extends z.ZodType>(schema: S, message: string, rule = 'self == oldSelf'): S {
  const existing = schema.meta();
  return schema.meta({ ...existing, 'x-kubernetes-validations': [...(existing?.['x-kubernetes-validations'] ?? []), { rule, message }] });
}

/**
 * CEL: the object at `path` (below self, e.g. "extension") is unchanged but for the `mutable` fields. Every other
 * field of `shape` is compared, so a field added later is immutable unless listed.
 */
export function unchangedExcept(path: string, shape: Record<string, unknown>, mutable: readonly string[]): string {
  const same = Object.keys(shape)
    .filter((k) => !mutable.includes(k))
    .map((k) => `(has(self.${path}.${k}) ? has(oldSelf.${path}.${k}) && self.${path}.${k} == oldSelf.${path}.${k} : !has(oldSelf.${path}.${k}))`);
  return `has(self.${path}) && has(oldSelf.${path}) && ${same.join(' && ')}`;
}
