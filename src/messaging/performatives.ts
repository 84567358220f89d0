/** The FIPA-ACL performatives Caxton routes (DESIGN.md, Messages). */
export const PERFORMATIVES = [
  'request',
  'inform',
  'query-if',
  'query-ref',
  'cfp',
  'propose',
  'accept-proposal',
  'reject-proposal',
  'agree',
  'refuse',
  'failure',
  'not-understood',
  'cancel',
  'subscribe',
] as const;

export type Performative = (typeof PERFORMATIVES)[number];

const CANONICAL = new Set<string>(PERFORMATIVES);

/**
 * Returns the canonical performative for `value`, accepting the spellings found in the wild
 * (`not_understood`, `NOT-UNDERSTOOD`, `QueryIf`), or undefined when it is not a performative.
 * The canonical form itself is checked first: it is what agents built with the SDK send.
 */
export function normalizePerformative(value: unknown): Performative | undefined {
  if (typeof value !== 'string') return undefined;
  if (CANONICAL.has(value)) return value as Performative;
  const folded = value
    .replace(/([a-z])([A-Z])/g, '$1-$2')
    .toLowerCase()
    .replace(/_/g, '-');
  return CANONICAL.has(folded) ? (folded as Performative) : undefined;
}
