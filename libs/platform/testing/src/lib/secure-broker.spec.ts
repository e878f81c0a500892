import { kafkaClusterId } from './secure-broker';

describe('kafkaClusterId', () => {
  it('is a 22-character base64url id that never starts with "-" (the format tool would read it as an option)', () => {
    const ids = Array.from({ length: 5000 }, () => kafkaClusterId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
