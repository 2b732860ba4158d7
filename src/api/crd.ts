// Generates the CanaryRollout CustomResourceDefinition from the zod schemas (npm run crds writes it to crds/).
// zod's OpenAPI 3.0 JSON Schema is cleaned up into a Kubernetes structural schema: no $schema, no unions, no
// additionalProperties:false, no JS safe-integer bounds, and free-form fields marked to preserve unknown fields.
import * as z from 'zod';
import type { KubeValidation } from './rules.js';
import { CanaryRollout, CanaryRolloutSpec, CanaryRolloutStatus, GROUP, KIND, PLURAL, VERSION } from './v1alpha1.js';

type JSONSchema = Record<string, unknown>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function isSchema(v: unknown): v is JSONSchema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A nested schema of zod's output (properties, items, additionalProperties), which is always an object. */
function subSchema(v: unknown, where: string): JSONSchema {
  if (!isSchema(v)) throw new Error(`${where} is not a schema`);
  return toStructural(v);
}

/** Rewrites zod's output into what the Kubernetes API server accepts as a structural schema. */
export function toStructural(schema: JSONSchema): JSONSchema {
  const out: JSONSchema = {};
  const freeForm = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [k, v] of Object.entries(schema)) {
    if (freeForm && k === 'additionalProperties') continue; // free-form: no value schema
    if (k === '$schema' || k === 'id') continue;
    if (k === 'additionalProperties' && v === false) continue;
    if ((k === 'minimum' && v === -MAX_SAFE) || (k === 'maximum' && v === MAX_SAFE)) continue;
    if (k === 'properties' && isSchema(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, subSchema(s, `property ${p}`)]));
    } else if (k === 'items' || (k === 'additionalProperties' && typeof v === 'object')) {
      out[k] = subSchema(v, k);
    } else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') {
      throw new Error(`unions are not structural (${k}); express them as optional fields plus a CEL rule`);
    } else {
      out[k] = v;
    }
  }
  if (freeForm) out.type = 'object';
  if (!('type' in out) && !out['x-kubernetes-preserve-unknown-fields']) {
    throw new Error(`schema without a type is not structural: ${JSON.stringify(schema).slice(0, 200)}`);
  }
  return out;
}

function schemaOf(s: z.ZodType): JSONSchema {
  return toStructural(z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw', reused: 'inline', cycles: 'throw' }));
}

export const SHORT_NAMES = ['rollout', 'cr'];
export const CATEGORIES = ['gardener', 'canary'];

/** Rules on the whole object (CanaryRollout's own, e.g. on metadata.name, the one metadata field CEL sees). */
function rootValidations(): KubeValidation[] {
  return CanaryRollout.meta()?.['x-kubernetes-validations'] ?? [];
}

export function canaryRolloutCRD() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Cluster',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: KIND.toLowerCase(), shortNames: SHORT_NAMES, categories: CATEGORIES },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Version', type: 'string', jsonPath: '.status.targetVersion', description: 'Version being rolled out' },
            { name: 'Wave', type: 'string', jsonPath: '.status.waveProgress', description: 'Waves started over all waves' },
            { name: 'Healthy', type: 'number', format: 'float', jsonPath: '.status.healthyRatio', description: 'Healthy share of counted exposed shoots' },
            { name: 'Sample', type: 'integer', jsonPath: '.status.sampleSize', description: 'Counted exposed shoots' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Target', type: 'string', priority: 1, jsonPath: '.spec.target.extension.controllerDeployment', description: 'ControllerDeployment (extension rollouts)' },
            { name: 'Current', type: 'string', priority: 1, jsonPath: '.status.waves[?(@.phase!="Succeeded")].name', description: 'Wave in progress' },
            { name: 'DryRun', type: 'boolean', priority: 1, jsonPath: '.spec.dryRun' },
            { name: 'Message', type: 'string', priority: 1, jsonPath: '.status.message' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A staged, health-gated rollout of a gardenlet or extension version across the seeds of a Gardener landscape.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: schemaOf(CanaryRolloutSpec),
                status: schemaOf(CanaryRolloutStatus),
              },
              'x-kubernetes-validations': rootValidations(),
            },
          },
        },
      ],
    },
  };
}
