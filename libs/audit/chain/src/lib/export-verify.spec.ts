import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { emptyHead, linkEvents } from './chain-hash';
import { signingKeyFromPem } from './checkpoint';
import { CHAIN_MEMBER, jsonlLine } from './export-format';
import { verifyExportStream } from './export-verify';

const key = signingKeyFromPem(
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
);

/** Lines of two chains, as the recorder's JSONL export writes them (ids first, "é" to have multi-byte text). */
function lines(): Array<{ id: string; line: string }> {
  const out: Array<{ id: string; line: string }> = [];
  for (const chain of ['t/0', 't/1']) {
    const events = Array.from({ length: 40 }, (_, i) => ({ id: `${chain}-${i}`, custom_message: `été ${i}` }));
    const texts = events.map((e) => JSON.stringify(e));
    const { links } = linkEvents(emptyHead(chain), texts);
    texts.forEach((text, i) =>
      out.push({
        id: events[i].id,
        line: jsonlLine(text, {
          chain,
          seq: links[i].seq,
          prevHash: links[i].prevHash.toString('hex'),
          hash: links[i].hash.toString('hex'),
        }),
      }),
    );
  }
  return out.reverse(); // any order: the verifier sorts
}

/** The file in chunks of `size` bytes, so lines (and multi-byte characters) are cut across chunks. */
const chunked = (text: string, size: number) => {
  const bytes = Buffer.from(text, 'utf8');
  return Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
  );
};

const verify = (text: string, size: number) =>
  verifyExportStream(chunked(text, size), { format: 'jsonl', publicKey: key.publicKey, mode: 'full' });

describe('verifyExportStream on JSON lines, from their bytes', () => {
  it('reads lines cut anywhere across chunks, CRLF and blank lines, and a line re-serialised by another tool', async () => {
    const all = lines();
    // One line written by a tool that parsed and re-serialised it with spaces: the parsing path takes it.
    const parsed = JSON.parse(all[5].line) as Record<string, unknown>;
    all[5] = { ...all[5], line: JSON.stringify(parsed, null, 1).replace(/\n/g, '') };
    expect(all[5].line).not.toContain(`,"${CHAIN_MEMBER}":{`);
    const text = `${all.map((l) => l.line).join('\r\n')}\r\n\r\n   \n`;
    for (const size of [7, 61, 4096]) {
      expect(await verify(text, size)).toMatchObject({ valid: true, events_checked: 80, first_broken_event_id: null });
    }
    // A stream that hands out strings (an encoding set, or made from strings) reads the same.
    const strings = Readable.from([text.slice(0, 1000), text.slice(1000)]);
    expect(
      await verifyExportStream(strings, { format: 'jsonl', publicKey: key.publicKey, mode: 'full' }),
    ).toMatchObject({
      valid: true,
      events_checked: 80,
    });
  });

  it('names the event whose bytes were changed, wherever the chunks cut', async () => {
    const all = lines();
    const victim = all.find((l) => l.id === 't/1-17') as { line: string };
    victim.line = victim.line.replace('été 17', 'été 71');
    const text = `${all.map((l) => l.line).join('\n')}\n`;
    for (const size of [13, 65536]) {
      expect(await verify(text, size)).toMatchObject({ valid: false, first_broken_event_id: 't/1-17' });
    }
  });
});
