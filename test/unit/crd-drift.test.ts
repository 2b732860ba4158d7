import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { renderCRDs, CRD_FILE } from '../../src/api/crd-file.js';
import { toStructural } from '../../src/api/crd.js';

describe('generated CRD', () => {
  it('matches the committed crds/ file (run `npm run crds` after changing src/api)', () => {
    expect(readFileSync(`crds/${CRD_FILE}`, 'utf8')).toBe(renderCRDs());
  });

  it('refuses schemas that are not structural', () => {
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toThrow(/unions are not structural/);
    expect(() => toStructural({ type: 'object', properties: { x: {} } })).toThrow(/without a type/);
    expect(toStructural({ type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })).toEqual({ type: 'integer' });
    expect(toStructural({ type: 'object', additionalProperties: false, properties: {} })).toEqual({ type: 'object', properties: {} });
  });
});
