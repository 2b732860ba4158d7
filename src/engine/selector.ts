// metav1.LabelSelector matching, as the API server does it. An absent or empty selector matches everything.
import type { LabelSelector } from '../api/fields.js';

export function matchesSelector(labels: Readonly<Record<string, string>> | undefined, selector: LabelSelector | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = Object.hasOwn(l, e.key) ? l[e.key] : undefined;
    const has = value !== undefined;
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(value)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
