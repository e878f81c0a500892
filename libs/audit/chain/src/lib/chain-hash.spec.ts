import { createHash } from 'node:crypto';
import { chainName, emptyHead, eventHash, genesisHash, linkEvents, mergePurgedRanges } from './chain-hash';

describe('the hash chain', () => {
  it('hashes the predecessor, the 8-byte big-endian position and the JSON text, in that order', () => {
    const prev = Buffer.alloc(32, 7);
    const seq = Buffer.from([0, 0, 0, 0, 0, 0, 1, 2]); // 258
    const expected = createHash('sha256')
      .update(Buffer.concat([prev, seq, Buffer.from('{"a":"é"}', 'utf8')]))
      .digest();
    expect(eventHash(prev, 258, '{"a":"é"}').equals(expected)).toBe(true);
  });

  it('starts every chain from a genesis hash bound to its name', () => {
    expect(chainName('domain-events', 2)).toBe('domain-events/2');
    expect(genesisHash('domain-events/0').equals(genesisHash('domain-events/1'))).toBe(false);
    expect(emptyHead('c')).toEqual({ chain: 'c', seq: 0, hash: genesisHash('c').toString('hex') });
  });

  it('links events after a head: positions follow on, each links to the one before, the head moves to the last', () => {
    const first = linkEvents(emptyHead('c'), ['{"n":1}', '{"n":2}']);
    expect(first.links.map((l) => l.seq)).toEqual([1, 2]);
    expect(first.links[0].prevHash.equals(genesisHash('c'))).toBe(true);
    expect(first.links[1].prevHash.equals(first.links[0].hash)).toBe(true);
    expect(first.head).toEqual({ chain: 'c', seq: 2, hash: first.links[1].hash.toString('hex') });
    // Linking in two chunks gives the same chain as in one.
    const second = linkEvents(first.head, ['{"n":3}']);
    const whole = linkEvents(emptyHead('c'), ['{"n":1}', '{"n":2}', '{"n":3}']);
    expect(second.head).toEqual(whole.head);
  });

  it('merges purged ranges that touch, per chain, keeping the later hash', () => {
    expect(
      mergePurgedRanges([
        { chain: 'b', from: 1, to: 5, hash: 'b5' },
        { chain: 'a', from: 11, to: 20, hash: 'a20' },
        { chain: 'a', from: 1, to: 10, hash: 'a10' },
        { chain: 'a', from: 30, to: 31, hash: 'a31' },
      ]),
    ).toEqual([
      { chain: 'a', from: 1, to: 20, hash: 'a20' },
      { chain: 'a', from: 30, to: 31, hash: 'a31' },
      { chain: 'b', from: 1, to: 5, hash: 'b5' },
    ]);
  });
});
