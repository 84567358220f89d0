import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AclMessageSchema,
  AgentNameSchema,
  AGENT_NAME_PATTERN,
  isAgentName,
  NULLABLE_FIELDS,
} from '../../../src/messaging/message-schema.js';
import { PERFORMATIVES } from '../../../src/messaging/performatives.js';

test('schema - the agent name rule', () => {
  for (const ok of ['a', 'calculator', 'client-1', 'agent_123', '_private', 'billing.eu@node-2', 'ns:name', '0f6c2a4e-1f7e-4c0e-9a51-0c3f0d1e2b3a', 'A'.repeat(255)]) {
    assert.ok(isAgentName(ok), ok);
  }
  for (const bad of ['', '-flag', '.hidden', '..', 'two words', 'tab\t', 'ünï', 'a/b', 'a?b', 'A'.repeat(256), 42, null]) {
    assert.ok(!isAgentName(bad), String(bad));
  }
  assert.equal(AgentNameSchema.pattern, AGENT_NAME_PATTERN);
  assert.equal(AgentNameSchema.maxLength, 255);
});

test('schema - one JSON Schema: required fields, canonical performatives, no additionalProperties ban', () => {
  const s = AclMessageSchema as unknown as Record<string, unknown>;
  assert.deepEqual([...(s['required'] as string[])].sort(), ['content', 'message_id', 'performative', 'sender']);
  const props = s['properties'] as Record<string, Record<string, unknown>>;
  assert.deepEqual(props['performative']?.['enum'], [...PERFORMATIVES]);
  assert.equal(s['additionalProperties'], undefined, 'unknown fields are allowed');
  assert.deepEqual(s['oneOf'], [{ required: ['receiver'] }, { required: ['capability'] }, { required: ['topic'] }]);
  assert.equal(props['priority']?.['default'], 'normal');
  assert.equal(props['delivery']?.['default'], 'at-most-once');
  assert.equal(props['reply_by']?.['format'], 'date-time');
  for (const f of NULLABLE_FIELDS) assert.ok(f in props && !(s['required'] as string[]).includes(f), f);
  // the schema is plain JSON (OpenAPI can embed it)
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(AclMessageSchema)));
});
