import { MAX_JSON_DEPTH, unstorableFields, unsupportedBody, verifyUtf8 } from './request-hygiene';

describe('unstorableFields', () => {
  it('names a NUL or a lone surrogate wherever it is, keys included', () => {
    expect(unstorableFields({ name: 'a\u0000b', milestones: ['ok', '\ud800'] }, 'body')).toEqual(
      expect.arrayContaining([
        { field: 'body.name', message: 'must not contain NUL characters' },
        { field: 'body.milestones.1', message: 'must be valid Unicode (no lone surrogates)' },
      ]),
    );
    expect(unstorableFields({ '\u0000': 1 }, 'body')[0].message).toMatch(/^key /);
    expect(unstorableFields({ id: '1\u0000' }, 'path')).toEqual([
      { field: 'path.id', message: 'must not contain NUL characters' },
    ]);
  });

  it('lets emoji, right-to-left marks and line breaks through (schemas decide about those)', () => {
    expect(unstorableFields({ name: 'release 😀 \u200fשלום\r\n', n: 1, none: null }, 'body')).toEqual([]);
  });

  it('refuses hostile nesting without recursion', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableFields(deep, 'body')).toEqual([
      { field: 'body', message: `is nested more than ${MAX_JSON_DEPTH} levels deep` },
    ]);
  });
});

describe('unsupportedBody', () => {
  const req = (headers: Record<string, string>) => ({ headers });

  it('accepts JSON bodies and bodiless requests of any type', () => {
    expect(
      unsupportedBody(req({ 'content-length': '2', 'content-type': 'application/json; charset=UTF-8' })),
    ).toBeNull();
    expect(unsupportedBody(req({ 'content-length': '2', 'content-type': 'application/merge-patch+json' }))).toBeNull();
    expect(unsupportedBody(req({ 'content-type': 'text/plain' }))).toBeNull();
    expect(unsupportedBody(req({ 'content-length': '0', 'content-type': 'text/plain' }))).toBeNull();
  });

  it('names Content-Type for any other body', () => {
    for (const type of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
    ]) {
      expect(unsupportedBody(req({ 'content-length': '5', 'content-type': type }))?.field).toBe('Content-Type');
    }
    expect(unsupportedBody(req({ 'transfer-encoding': 'chunked' }))?.message).toMatch(/is required/);
    expect(
      unsupportedBody(req({ 'content-length': '4', 'content-type': 'application/json; charset=utf-16' }))?.message,
    ).toMatch(/utf-16/);
  });
});

describe('verifyUtf8', () => {
  it('refuses bytes that are not UTF-8 with a 400 instead of decoding them to U+FFFD', () => {
    expect(() => verifyUtf8(undefined, undefined, Buffer.from('{"name":"ok 😀"}'))).not.toThrow();
    expect(() => verifyUtf8(undefined, undefined, Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(
      expect.objectContaining({ status: 400 }),
    );
  });
});
