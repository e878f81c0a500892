import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { ChainHead, emptyHead, eventHash, linkEvents, PurgedRange } from './chain-hash';
import {
  CheckpointBody,
  checkpointDigest,
  SignedCheckpoint,
  signCheckpoint,
  SigningKey,
  signingKeyFromPem,
} from './checkpoint';
import { ChainVerifier, VerificationMode, VerificationResult, VerifiedRow } from './verifier';

const newKey = (): SigningKey =>
  signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
const key = newKey();

/** A stored event: its chain fields and its JSON text; ids name chain and position so failures read well. */
interface Row extends Omit<VerifiedRow, 'contentOk'> {
  text: string;
}

const textOf = (chain: string, seq: number, extra = '') =>
  JSON.stringify({
    id: `${chain}#${seq}`,
    event_type: 'release_created',
    details: { custom_message: `event ${seq}${extra}` },
  });

/** Events 1..count of `chain`, linked from its genesis. */
function chainOf(chain: string, count: number): Row[] {
  const texts = Array.from({ length: count }, (_, i) => textOf(chain, i + 1));
  return relink(
    emptyHead(chain),
    texts.map((text, i) => ({ id: `${chain}#${i + 1}`, chain, seq: i + 1, text })),
  );
}

/** Re-hashes `rows` after `head`, as someone with write access to the table would. */
function relink(head: ChainHead, rows: Array<Pick<Row, 'id' | 'chain' | 'text'> & { seq?: number }>): Row[] {
  const { links } = linkEvents(
    head,
    rows.map((r) => r.text),
  );
  return links.map((link, i) => ({
    id: rows[i].id,
    chain: head.chain,
    seq: link.seq,
    prevHash: link.prevHash.toString('hex'),
    hash: link.hash.toString('hex'),
    text: rows[i].text,
  }));
}

const headOf = (rows: Row[], seq: number): ChainHead => {
  const row = rows.find((r) => r.seq === seq) as Row;
  return { chain: row.chain, seq, hash: row.hash };
};

interface CheckpointSpec {
  heads: ChainHead[];
  purged?: PurgedRange[];
}

/** Checkpoints 1..n (or from `first`), each linked to the previous one, signed with `signer`. */
function checkpointsOf(specs: CheckpointSpec[], signer = key, first = 1): SignedCheckpoint[] {
  let previous: string | null = first === 1 ? null : 'f'.repeat(64);
  return specs.map((spec, i) => {
    const body: CheckpointBody = {
      version: 1,
      id: randomUUID(),
      sequence: first + i,
      created_at: new Date(Date.UTC(2026, 10, 28, 10, i)).toISOString(),
      reason: 'interval',
      key_id: signer.keyId,
      previous,
      chains: [...spec.heads].sort((a, b) => (a.chain < b.chain ? -1 : 1)),
      purged: spec.purged ?? [],
      log_files: [],
    };
    const signed = signCheckpoint(body, signer);
    previous = checkpointDigest(signed.body);
    return signed;
  });
}

/** Sorts as the callers do, checks each row's content as they do, and verifies. */
function verify(
  rows: Row[],
  checkpoints: SignedCheckpoint[] = [],
  mode: VerificationMode = 'full',
  publicKey: ConstructorParameters<typeof ChainVerifier>[0]['publicKey'] = key.publicKey,
): VerificationResult {
  const verifier = new ChainVerifier({ checkpoints, publicKey, mode });
  const sorted = [...rows].sort((a, b) =>
    a.chain !== b.chain ? (a.chain < b.chain ? -1 : 1) : a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  for (const row of sorted) {
    const contentOk = eventHash(Buffer.from(row.prevHash, 'hex'), row.seq, row.text).toString('hex') === row.hash;
    verifier.push({ id: row.id, chain: row.chain, seq: row.seq, prevHash: row.prevHash, hash: row.hash, contentOk });
  }
  return verifier.result();
}

const broken = (result: VerificationResult) => [result.valid, result.first_broken_event_id];

describe('ChainVerifier: intact chains', () => {
  it('accepts linked chains under linked checkpoints, counting what the latest one does not sign yet', () => {
    const a = chainOf('domain-events/0', 10);
    const b = chainOf('domain-events/1', 6);
    const checkpoints = checkpointsOf([
      { heads: [headOf(a, 4), headOf(b, 2)] },
      { heads: [headOf(a, 8), headOf(b, 2)] },
      { heads: [headOf(a, 8), headOf(b, 5)] },
    ]);
    const result = verify([...b, ...a], checkpoints);
    expect(result).toEqual({
      valid: true,
      events_checked: 16,
      first_broken_event_id: null,
      reason: null,
      checkpoints_checked: 3,
      latest_checkpoint: { sequence: 3, created_at: '2026-11-28T10:02:00.000Z' },
      unsigned_events: 2 + 1,
    });
  });

  it('accepts chains without any checkpoint, all of them unsigned, and a chain no checkpoint names yet', () => {
    expect(verify(chainOf('c', 3))).toMatchObject({ valid: true, unsigned_events: 3, latest_checkpoint: null });
    const a = chainOf('a', 3);
    const result = verify([...a, ...chainOf('z', 2)], checkpointsOf([{ heads: [headOf(a, 3)] }]));
    expect(result).toMatchObject({ valid: true, unsigned_events: 2 });
  });

  it('accepts an identical checkpoint given twice (an export and the API both carry it)', () => {
    const a = chainOf('a', 3);
    const [first] = checkpointsOf([{ heads: [headOf(a, 3)] }]);
    expect(verify(a, [first, { ...first }])).toMatchObject({ valid: true, checkpoints_checked: 1 });
  });
});

describe('ChainVerifier: tampered events', () => {
  const a = chainOf('a', 10);
  const checkpoints = checkpointsOf([{ heads: [headOf(a, 3)] }, { heads: [headOf(a, 8)] }]);
  const withRow = (rows: Row[], seq: number, change: (row: Row) => Row) =>
    rows.map((row) => (row.seq === seq ? change(row) : row));

  it('finds a changed content at the changed event', () => {
    const rows = withRow(a, 6, (r) => ({ ...r, text: r.text.replace('event 6', 'event six') }));
    const result = verify(rows, checkpoints);
    expect(broken(result)).toEqual([false, 'a#6']);
    expect(result.reason).toBe('The event at position 6 of chain a does not match its hash: its content was changed.');
  });

  it('finds a changed and re-hashed event by its successor not linking to it, and reports the changed one', () => {
    const rows = withRow(a, 6, (r) => {
      const text = r.text.replace('event 6', 'event six');
      return { ...r, text, hash: eventHash(Buffer.from(r.prevHash, 'hex'), 6, text).toString('hex') };
    });
    const result = verify(rows, checkpoints);
    expect(broken(result)).toEqual([false, 'a#6']);
    expect(result.reason).toMatch(/position 6 of chain a was changed and re-hashed/);
  });

  it('blames the successor when the predecessor is the one a checkpoint signed', () => {
    // Position 4's prev_hash changed and position 4 re-hashed: position 3 matches checkpoint 1, so 4 is at fault.
    const rows = withRow(a, 4, (r) => {
      const prevHash = 'ab'.repeat(32);
      return { ...r, prevHash, hash: eventHash(Buffer.from(prevHash, 'hex'), 4, r.text).toString('hex') };
    });
    expect(broken(verify(rows, checkpoints))).toEqual([false, 'a#4']);
  });

  it('finds a chain re-hashed from a changed event on by the next checkpoint, from the last head that matched', () => {
    const changed = a.map((r) => (r.seq === 6 ? { ...r, text: r.text.replace('event 6', 'event six') } : r));
    const rows = [...a.slice(0, 5), ...relink(headOf(a, 5), changed.slice(5))];
    const result = verify(rows, checkpoints);
    // Position 3 matches checkpoint 1; position 8 does not match checkpoint 2: the change is in 4..8.
    expect(broken(result)).toEqual([false, 'a#4']);
    expect(result.reason).toBe(
      'Checkpoint 2 signed another hash for position 8 of chain a: an event between positions 4 and 8 was changed and the chain re-hashed after it.',
    );
  });

  it('cannot see a re-hashed tail after the latest checkpoint: those events are reported as unsigned', () => {
    const changed = a.map((r) => (r.seq === 9 ? { ...r, text: r.text.replace('event 9', 'event nine') } : r));
    const rows = [...a.slice(0, 8), ...relink(headOf(a, 8), changed.slice(8))];
    expect(verify(rows, checkpoints)).toMatchObject({ valid: true, unsigned_events: 2 });
  });

  it('finds an event deleted in the middle at the event after the gap', () => {
    const result = verify(
      a.filter((r) => r.seq !== 5),
      checkpoints,
    );
    expect(broken(result)).toEqual([false, 'a#6']);
    expect(result.reason).toBe('Position 5 of chain a is missing and no purge removed it (deleted before position 6).');
  });

  it('finds events deleted at the start of a chain', () => {
    const result = verify(
      a.filter((r) => r.seq > 2),
      checkpoints,
    );
    expect(broken(result)).toEqual([false, 'a#3']);
    expect(result.reason).toBe('Chain a starts at position 3: positions 1 to 2 are missing and no purge removed them.');
  });

  it('finds signed events deleted at the end of a chain, naming no event', () => {
    const result = verify(
      a.filter((r) => r.seq <= 6),
      checkpoints,
    );
    expect(broken(result)).toEqual([false, null]);
    expect(result.reason).toBe(
      'Chain a ends at position 6, but checkpoint 2 signed it up to position 8: positions 7 to 8 were deleted.',
    );
    // A window need not reach the heads.
    expect(
      verify(
        a.filter((r) => r.seq <= 6),
        checkpoints,
        'window',
      ).valid,
    ).toBe(true);
  });

  it('finds a signed chain whose events are all gone', () => {
    const result = verify(chainOf('b', 2), checkpoints);
    expect(broken(result)).toEqual([false, null]);
    expect(result.reason).toBe('Checkpoint 2 signed chain a up to position 8, but none of its events are present.');
  });

  it.each([
    ['sorts before the original', 'a#5-'],
    ['sorts after the original', 'a#5~'],
  ])('finds an event inserted at a taken position whichever of the two %s', (_, id) => {
    const inserted = relink(headOf(a, 4), [{ id, chain: 'a', text: textOf('a', 5, ' (forged)') }])[0];
    const result = verify([...a, inserted], checkpoints);
    expect(broken(result)).toEqual([false, id]);
    expect(result.reason).toBe('Chain a has a second event at position 5: it was inserted.');
  });

  it('finds an event inserted at the end of a chain at the position its last event holds', () => {
    const inserted = relink(headOf(a, 9), [{ id: 'a#10~', chain: 'a', text: textOf('a', 10, ' (forged)') }])[0];
    expect(broken(verify([...a, inserted], checkpoints))).toEqual([false, 'a#10~']);
  });

  it('finds an event inserted with its own position by the re-hashed events after it, from the last head that matched', () => {
    // The forger gives it position 5 and shifts the rest, re-hashing: checkpoint 2's head (8) no longer matches,
    // and all that is known is that something in 4..8 (after checkpoint 1's head) is not what was signed.
    const inserted = { id: 'a#x', chain: 'a', text: textOf('a', 5, ' (forged)') };
    const rows = [...a.slice(0, 4), ...relink(headOf(a, 4), [inserted, ...a.slice(4)])];
    expect(broken(verify(rows, checkpoints))).toEqual([false, 'a#4']);
  });

  it('finds two swapped events: contents swapped at the first of them, positions swapped and re-hashed at the later', () => {
    const swappedTexts = a.map((r) =>
      r.seq === 5 ? { ...r, text: a[5].text } : r.seq === 6 ? { ...r, text: a[4].text } : r,
    );
    expect(broken(verify(swappedTexts, checkpoints))).toEqual([false, 'a#5']);
    const swappedSeqs = a.map((r) => (r.seq === 5 ? { ...r, seq: 6 } : r.seq === 6 ? { ...r, seq: 5 } : r));
    expect(broken(verify(swappedSeqs, checkpoints))).toEqual([false, 'a#6']);
    // Re-hashed so both are self-consistent: position 7 links to neither, so the event now at 6 is reported.
    const relinked = [...a.slice(0, 4), ...relink(headOf(a, 4), [a[5], a[4]]), ...a.slice(6)];
    expect(broken(verify(relinked, checkpoints))).toEqual([false, 'a#5']);
  });

  it('finds a first event that does not link to the genesis hash, in a window too', () => {
    const rows = withRow(a, 1, (r) => {
      const prevHash = '00'.repeat(32);
      return { ...r, prevHash, hash: eventHash(Buffer.from(prevHash, 'hex'), 1, r.text).toString('hex') };
    });
    expect(broken(verify(rows.slice(0, 2), [], 'window'))).toEqual([false, 'a#1']);
  });
});

describe('ChainVerifier: tampered checkpoints', () => {
  const a = chainOf('a', 6);
  const specs = [{ heads: [headOf(a, 2)] }, { heads: [headOf(a, 4)] }, { heads: [headOf(a, 6)] }];

  it('refuses an edited checkpoint text', () => {
    const checkpoints = checkpointsOf(specs);
    checkpoints[1] = { ...checkpoints[1], body: checkpoints[1].body.replace('"seq":4', '"seq":3') };
    expect(verify(a, checkpoints)).toMatchObject({
      valid: false,
      first_broken_event_id: null,
      reason: 'Checkpoint 2 does not match its signature: its text was changed or it was forged.',
    });
  });

  it('refuses a checkpoint signed with another key, and one forged under this key id', () => {
    const forger = newKey();
    const other = checkpointsOf(specs, forger);
    expect(verify(a, other).reason).toBe(
      `Checkpoint 1 was signed with another key (key_id ${forger.keyId}, expected ${key.keyId}).`,
    );
    const forged = checkpointsOf(specs);
    const body = JSON.parse(forged[2].body) as CheckpointBody;
    forged[2] = signCheckpoint(body, { ...forger, keyId: key.keyId });
    expect(verify(a, forged).reason).toBe(
      'Checkpoint 3 does not match its signature: its text was changed or it was forged.',
    );
  });

  it('accepts checkpoints signed before a key rotation when given the earlier key too, found by key_id', () => {
    const a = chainOf('a', 6);
    const before = checkpointsOf([{ heads: [headOf(a, 2)] }, { heads: [headOf(a, 4)] }]);
    const next = newKey();
    const [third] = checkpointsOf([{ heads: [headOf(a, 6)] }], next, 3).map((c, i) =>
      i === 0 ? resign(c, next, before[1].body) : c,
    );
    expect(verify(a, [...before, third], 'full', [next.publicKey, key.publicKey])).toMatchObject({
      valid: true,
      checkpoints_checked: 3,
    });
    const onlyNew = verify(a, [...before, third], 'full', [next.publicKey]);
    expect(onlyNew).toMatchObject({ valid: false, first_broken_event_id: null });
    expect(onlyNew.reason).toMatch(/Checkpoint 1 was signed with another key/);
  });

  it('refuses a gap in the checkpoints: one deleted in the middle', () => {
    const checkpoints = checkpointsOf(specs);
    expect(verify(a, [checkpoints[0], checkpoints[2]])).toMatchObject({
      valid: false,
      first_broken_event_id: null,
      reason: 'Checkpoint 2 is missing (between checkpoints 1 and 3).',
      checkpoints_checked: 2,
      latest_checkpoint: { sequence: 1 },
    });
  });

  it('refuses a checkpoint replaced by another validly signed one', () => {
    const checkpoints = checkpointsOf(specs);
    // Signed with the right key (a stolen key, or a bug) and linked to checkpoint 1, but not what 3 links to.
    const original = JSON.parse(checkpoints[1].body) as CheckpointBody;
    const replacement = signCheckpoint({ ...original, chains: [headOf(a, 3)] }, key);
    expect(verify(a, [checkpoints[0], replacement, checkpoints[2]]).reason).toBe(
      'Checkpoint 3 does not link to checkpoint 2: one of them was replaced.',
    );
  });

  it('refuses heads that go back, and requires checkpoint 1 unless a purge or a window explains its absence', () => {
    const back = checkpointsOf([{ heads: [headOf(a, 4)] }, { heads: [headOf(a, 3)] }]);
    expect(verify(a, back).reason).toBe('Checkpoint 2 moves chain a back from position 4 to 3.');
    const later = checkpointsOf(specs.slice(1), key, 2);
    expect(verify(a, later).reason).toBe('Checkpoint 2 is the first one given: checkpoint 1 is missing.');
    expect(verify(a.slice(2), later, 'window').valid).toBe(true);
  });

  it('refuses a text that is not a checkpoint', () => {
    expect(verify(a, [{ body: '{"version":1}', signature: 'x' }]).reason).toBe(
      'Checkpoint 1 of those given is not a checkpoint.',
    );
  });
});

describe('ChainVerifier: purges', () => {
  const a = chainOf('a', 12);
  const range = (from: number, to: number): PurgedRange => ({ chain: 'a', from, to, hash: headOf(a, to).hash });

  it('accepts a chain whose prefix was purged, and refuses the same gap unexplained', () => {
    const rows = a.filter((r) => r.seq > 4);
    const checkpoints = checkpointsOf([{ heads: [headOf(a, 6)] }, { heads: [headOf(a, 10)], purged: [range(1, 4)] }]);
    expect(verify(rows, checkpoints)).toMatchObject({ valid: true, unsigned_events: 2 });
    expect(broken(verify(rows, checkpointsOf([{ heads: [headOf(a, 10)] }])))).toEqual([false, 'a#5']);
  });

  it('accepts a purged hole and the purge of a head, and refuses a hole wider than the purge', () => {
    const checkpoints = checkpointsOf([
      { heads: [headOf(a, 5)] },
      { heads: [headOf(a, 10)], purged: [range(1, 2), range(4, 7)] },
    ]);
    const rows = a.filter((r) => r.seq === 3 || r.seq > 7);
    expect(verify(rows, checkpoints)).toMatchObject({ valid: true, events_checked: 6 });
    const wider = rows.filter((r) => r.seq !== 8);
    expect(broken(verify(wider, checkpoints))).toEqual([false, 'a#9']);
  });

  it('refuses the event after a purge when it does not link to the purged range', () => {
    const rows = [...relink({ chain: 'a', seq: 4, hash: 'cd'.repeat(32) }, a.slice(4))];
    const checkpoints = checkpointsOf([{ heads: [headOf(a, 4)], purged: [range(1, 4)] }]);
    expect(verify(rows, checkpoints).reason).toBe(
      'The event at position 5 of chain a does not link to the last hash of the purged positions 1 to 4.',
    );
  });

  it('accepts a chain purged up to its head with no event left', () => {
    const checkpoints = checkpointsOf([{ heads: [headOf(a, 12)], purged: [range(1, 12)] }]);
    expect(verify(chainOf('b', 1), checkpoints).valid).toBe(true);
  });
});

describe('ChainVerifier: windows and speed', () => {
  it('takes the first row of a window as it is and checks what follows', () => {
    const a = chainOf('a', 20);
    const checkpoints = checkpointsOf([{ heads: [headOf(a, 4)] }, { heads: [headOf(a, 12)] }]);
    const window = a.filter((r) => r.seq >= 8 && r.seq <= 15);
    expect(verify(window, checkpoints, 'window')).toMatchObject({ valid: true, unsigned_events: 3 });
    expect(broken(verify(window, checkpoints, 'full'))).toEqual([false, 'a#8']);
    const changed = [
      ...window.slice(0, 2),
      ...relink(headOf(a, 9), [{ ...window[2], text: 'changed' }, ...window.slice(3)]),
    ];
    expect(broken(verify(changed, checkpoints, 'window'))).toEqual([false, 'a#8']);
  });

  it('refuses rows pushed apart from their chain (a caller error, not a verdict)', () => {
    const verifier = new ChainVerifier({ checkpoints: [], publicKey: key.publicKey, mode: 'window' });
    const [a1, a2] = chainOf('a', 2);
    const [b1] = chainOf('b', 1);
    verifier.push({ ...a1, contentOk: true });
    verifier.push({ ...b1, contentOk: true });
    expect(() => verifier.push({ ...a2, contentOk: true })).toThrow(/pushed apart/);
  });

  it('checks well over 200,000 events a second', () => {
    const count = 200_000;
    const chains = ['domain-events/0', 'domain-events/1'];
    const rows: VerifiedRow[] = [];
    const heads: ChainHead[] = [];
    for (const chain of chains) {
      const { links, head } = linkEvents(
        emptyHead(chain),
        Array.from({ length: count / 2 }, (_, i) => `{"i":${i}}`),
      );
      for (const link of links)
        rows.push({
          id: randomUUID(),
          chain,
          seq: link.seq,
          prevHash: link.prevHash.toString('hex'),
          hash: link.hash.toString('hex'),
          contentOk: true,
        });
      heads.push(head);
    }
    const verifier = new ChainVerifier({
      checkpoints: checkpointsOf([{ heads }]),
      publicKey: key.publicKey,
      mode: 'full',
    });
    const started = process.hrtime.bigint();
    for (const row of rows) verifier.push(row);
    const result = verifier.result();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(result).toMatchObject({ valid: true, events_checked: count, unsigned_events: 0 });
    // The push loop alone; reading and hashing the rows is the caller's cost. Generous for a shared machine.
    expect(count / seconds).toBeGreaterThan(1_000_000);
  });
});

/** `checkpoint` linked to `previousText` and signed again with `signer`. */
function resign(checkpoint: SignedCheckpoint, signer: SigningKey, previousText: string): SignedCheckpoint {
  const body = JSON.parse(checkpoint.body) as CheckpointBody;
  return signCheckpoint({ ...body, key_id: signer.keyId, previous: checkpointDigest(previousText) }, signer);
}
