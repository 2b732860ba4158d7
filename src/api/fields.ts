// Field schemas the parts of the CanaryRollout spec share: names, durations, ratios, label selectors
// (metav1.LabelSelector) and helm charts in OCI registries (Gardener's OCIRepository).
import * as z from 'zod';
import { DURATION, MAX_DURATION_HOURS, MAX_DURATION_MS, rawDurationMs } from '../util/duration.js';
import { withRules } from './rules.js';

/** A lowercase RFC 1123 name (a DNS label's characters). */
export const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const duration = (description: string) =>
  withRules(
    z
      .string()
      .max(32)
      .regex(DURATION, { error: `must be a duration like 30m, 2h or 1h30m, at most ${MAX_DURATION_HOURS}h` })
      .describe(`${description} At most ${MAX_DURATION_HOURS}h (one year), counting all of h, m and s.`),
    [
      { cel: "self != ''", message: 'must not be empty', check: (v) => v !== '' },
      {
        // guarded so that a value the pattern rejects is reported once, by the pattern, not again as a CEL error
        cel: `!self.matches('${DURATION.source}') || self == '' || duration(self) <= duration('${MAX_DURATION_HOURS}h')`,
        message: `must be at most ${MAX_DURATION_HOURS}h (one year)`,
        check: (v) => !DURATION.test(v) || rawDurationMs(v) <= MAX_DURATION_MS,
      },
    ],
  );
export const ratio = (description: string) => z.number().min(0).max(1).describe(description);
export const dnsName = z.string().min(1).max(253).regex(NAME, { error: 'must be a lowercase RFC 1123 name' });

// ---------------------------------------------------------------------------------------------------------
// Building blocks

export const LabelSelectorRequirement = z.strictObject({
  key: z.string().min(1).max(317),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
  values: z.array(z.string().max(63)).max(100).optional(),
});

/** metav1.LabelSelector. An empty selector selects everything. */
export const LabelSelector = withRules(
  z.strictObject({
    matchLabels: z.record(z.string(), z.string().max(63)).optional(),
    matchExpressions: z.array(LabelSelectorRequirement).max(20).optional(),
  }),
  [
    {
      cel: "!has(self.matchExpressions) || self.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",
      message: 'In and NotIn need values, Exists and DoesNotExist take none',
      field: '.matchExpressions',
      check: (s) => (s.matchExpressions ?? []).every((e) => ['In', 'NotIn'].includes(e.operator) === (e.values?.length ?? 0) > 0),
    },
  ],
);
export type LabelSelector = z.infer<typeof LabelSelector>;

/** A helm chart in an OCI registry: a full ref, or repository plus tag and/or digest (Gardener's OCIRepository). */
export const OCIRepository = withRules(
  z.strictObject({
    ref: z.string().min(1).max(1024).optional().describe('Full reference, e.g. registry.example.com/charts/gardenlet:v1.150.0'),
    repository: z.string().min(1).max(1024).optional().describe('Repository without tag or digest'),
    tag: z.string().min(1).max(128).optional(),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/, { error: 'must be sha256:<64 hex digits>' })
      .optional(),
  }),
  [
    {
      cel: 'has(self.ref) != has(self.repository)',
      message: 'exactly one of ref or repository must be set',
      check: (o) => (o.ref !== undefined) !== (o.repository !== undefined),
    },
    {
      cel: '!has(self.repository) || has(self.tag) || has(self.digest)',
      message: 'repository needs a tag or a digest',
      check: (o) => o.repository === undefined || o.tag !== undefined || o.digest !== undefined,
    },
    {
      cel: '!has(self.ref) || (!has(self.tag) && !has(self.digest))',
      message: 'tag and digest go with repository, not with ref',
      check: (o) => o.ref === undefined || (o.tag === undefined && o.digest === undefined),
    },
  ],
);
export type OCIRepository = z.infer<typeof OCIRepository>;
