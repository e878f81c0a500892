import { bearer } from '@audit/testing';
import request from 'supertest';
import { DestinationsRepository } from './destinations.repository';
import { DestinationsService } from './destinations.service';
import {
  ALLOWED_URL,
  destinationIdOf,
  GRACE_PERIOD_MS,
  insertNamespaces,
  outboxCount,
  startStreamer,
  StreamerUnderTest,
} from '../../test/destinations.int-support';

/*
 * Custom headers (the documented rules), signing-secret rotation with its grace period,
 * secrets encrypted at rest, and deactivation by the delivery side: against the real PostgreSQL and Kafka.
 */
jest.setTimeout(120_000);

const owner = bearer({ sub: '7', name: 'olivia', groups: { acme: 'owner' } });
const base = '/api/v4/groups/acme/audit_events/streaming/destinations';

let streamer: StreamerUnderTest;
let http: ReturnType<typeof request>;

beforeAll(async () => {
  streamer = await startStreamer('headers', { STREAMING_MAX_DESTINATIONS_PER_GROUP: '10' });
  http = request(streamer.app.getHttpServer());
  await insertNamespaces(streamer, [{ kind: 'Group', id: 100, full_path: 'acme', parent_id: null }]);
});
afterAll(async () => {
  await streamer?.close();
});

async function newDestination(
  name: string,
): Promise<{ id: number; verification_token: string; signing_secret: string }> {
  return (await http.post(base).set('Authorization', owner).send({ destination_url: ALLOWED_URL, name }).expect(201))
    .body;
}

describe('custom headers, secrets and deactivation (real PostgreSQL and Kafka)', () => {
  it('adds, updates and deletes a header; its value is shown to the owner but never published', async () => {
    const { id } = await newDestination('Headers');
    const added = await http
      .post(`${base}/${id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-Team', value: 'secret-value-1' })
      .expect(201);
    expect(added.body).toEqual({ id: expect.any(Number), key: 'X-Team', value: 'secret-value-1' });
    const headerPath = `${base}/${id}/headers/${added.body.id}`;

    await http
      .put(headerPath)
      .set('Authorization', owner)
      .send({ key: 'X-Squad', value: 'secret-value-2' })
      .expect(200, { id: added.body.id, key: 'X-Squad', value: 'secret-value-2' });
    const listed = await http.get(base).set('Authorization', owner).expect(200);
    expect(listed.body.find((d: { id: number }) => d.id === id).headers).toEqual([
      { id: added.body.id, key: 'X-Squad', value: 'secret-value-2' },
    ]);
    await http.put(`${base}/${id}/headers/999999`).set('Authorization', owner).send({ value: 'x' }).expect(404);
    await http.delete(headerPath).set('Authorization', owner).expect(204);
    await http.delete(headerPath).set('Authorization', owner).expect(404);

    const mine = (e: Parameters<typeof destinationIdOf>[0]) => destinationIdOf(e) === id;
    expect((await streamer.waitForEvent('StreamingHeaderCreated', mine)).data).toMatchObject({
      header_id: added.body.id,
      key: 'X-Team',
    });
    expect((await streamer.waitForEvent('StreamingHeaderUpdated', mine)).data).toMatchObject({
      key: 'X-Squad',
      key_change: { from: 'X-Team', to: 'X-Squad' },
      value_changed: true,
    });
    expect((await streamer.waitForEvent('StreamingHeaderDeleted', mine)).data).toMatchObject({ key: 'X-Squad' });
    expect(streamer.published().some((p) => p.raw.includes('secret-value'))).toBe(false);
  });

  it('refuses every broken header rule with a 400 naming the field, and publishes nothing for them', async () => {
    const { id } = await newDestination('Rules');
    await http
      .post(`${base}/${id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-Team', value: 'a' })
      .expect(201);
    const before = await outboxCount(streamer);
    const refused: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ key: 'x-team', value: 'b' }, 'key', /already used.*case-insensitive/],
      [{ key: 'X-TEAM', value: 'b' }, 'key', /already used/],
      [{ key: 'Content-Type', value: 'text/plain' }, 'key', /set by the streamer/],
      [{ key: 'X-Gitlab-Event-Streaming-Token', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'x-gitlab-audit-event-type', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'X-Gitlab-Something', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'x-gitlab-', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'webhook-signature', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'Webhook-Anything', value: 'b' }, 'key', /set by the streamer/],
      [{ key: 'X-Evil\r\nInjected', value: 'b' }, 'key', /valid HTTP header name/],
      [{ key: 'X-Ok', value: 'line\r\nInjected: yes' }, 'value', /line breaks/],
      [{ key: 'X-Ok', value: 'line\nbreak' }, 'value', /line breaks/],
      [{ key: 'X'.repeat(256), value: 'b' }, 'key', /at most 255/],
      [{ key: 'X-Ok', value: 'v'.repeat(256) }, 'value', /at most 255/],
      [{ key: 'X-Ok' }, 'value', /Required/],
      [{ key: 'X-Ok', value: 'b', extra: 1 }, 'extra', /not a known field/],
    ];
    for (const [body, field, reason] of refused) {
      const res = await http.post(`${base}/${id}/headers`).set('Authorization', owner).send(body).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([{ field, message: expect.stringMatching(reason) }]);
    }
    const other = await http
      .post(`${base}/${id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-Other', value: 'c' })
      .expect(201);
    await http
      .put(`${base}/${id}/headers/${other.body.id}`)
      .set('Authorization', owner)
      .send({ key: 'x-TEAM' })
      .expect(400);
    await http
      .put(`${base}/${id}/headers/${other.body.id}`)
      .set('Authorization', owner)
      .send({ key: 'webhook-id' })
      .expect(400);
    const renamed = await http
      .put(`${base}/${id}/headers/${other.body.id}`)
      .set('Authorization', owner)
      .send({ key: 'X-GITLAB-Something' })
      .expect(400);
    expect(renamed.body.errors).toEqual([{ field: 'key', message: expect.stringMatching(/set by the streamer/) }]);
    await http
      .put(`${base}/${id}/headers/${other.body.id}`)
      .set('Authorization', owner)
      .send({ value: 'a\rb' })
      .expect(400);
    // Only the X-Other creation wrote to the outbox.
    expect(await outboxCount(streamer)).toBe(before + 1);
  });

  it('stores and lists keys named like Object.prototype members exactly', async () => {
    const { id } = await newDestination('Prototype');
    const keys = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];
    const added = [];
    for (const [i, key] of keys.entries()) {
      const res = await http
        .post(`${base}/${id}/headers`)
        .set('Authorization', owner)
        .send({ key, value: `v${i}` })
        .expect(201);
      expect(res.body).toEqual({ id: expect.any(Number), key, value: `v${i}` });
      added.push(res.body);
    }
    expect((await http.get(`${base}/${id}`).set('Authorization', owner).expect(200)).body.headers).toEqual(added);
    const listed = await http.get(base).set('Authorization', owner).expect(200);
    expect(listed.body.find((d: { id: number }) => d.id === id).headers).toEqual(added);
    // Keys are case-insensitive for these too.
    await http
      .post(`${base}/${id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'Constructor', value: 'x' })
      .expect(400);
  });

  it('allows 20 headers and refuses the 21st with the reason', async () => {
    const { id } = await newDestination('Twenty');
    for (let i = 1; i <= 20; i++)
      await http
        .post(`${base}/${id}/headers`)
        .set('Authorization', owner)
        .send({ key: `X-H${i}`, value: String(i) })
        .expect(201);
    const res = await http
      .post(`${base}/${id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-H21', value: '21' })
      .expect(400);
    expect(res.body.detail).toBe('the limit of 20 custom headers per destination is reached');
    const read = await http.get(`${base}/${id}`).set('Authorization', owner).expect(200);
    expect(read.body.headers).toHaveLength(20);
  });

  it('keeps tokens, secrets and header values encrypted at rest', async () => {
    const created = await newDestination('AtRest');
    await http
      .post(`${base}/${created.id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-Api-Key', value: 'plain-header-value' })
      .expect(201);
    const [row] = await streamer.sql<Record<string, string>>(
      `select d.verification_token, d.signing_secret, h.value from destinations d join destination_headers h on h.destination_id = d.id where d.id = $1`,
      [created.id],
    );
    expect(Object.values(row).every((v) => v.startsWith('v1:'))).toBe(true);
    const raw = JSON.stringify(row);
    for (const secret of [
      created.verification_token,
      created.signing_secret,
      created.signing_secret.slice(6),
      'plain-header-value',
    ])
      expect(raw).not.toContain(secret);
  });

  it('rotates the signing secret; the old one still signs during the grace period, not after', async () => {
    const created = await newDestination('Rotate');
    const repository = streamer.app.get(DestinationsRepository);
    expect(await repository.signingSecretsFor(created.id)).toEqual([created.signing_secret]);

    const rotated = await http
      .post(`${base}/${created.id}/signing_secret/rotate`)
      .set('Authorization', owner)
      .expect(200);
    expect(rotated.body.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.body.signing_secret).not.toBe(created.signing_secret);
    const expiresAt = Date.parse(rotated.body.previous_secret_expires_at);
    expect(Math.abs(expiresAt - (Date.now() + GRACE_PERIOD_MS))).toBeLessThan(10_000);

    expect(await repository.signingSecretsFor(created.id)).toEqual([
      rotated.body.signing_secret,
      created.signing_secret,
    ]);
    expect(await repository.signingSecretsFor(created.id, new Date(expiresAt - 1))).toEqual([
      rotated.body.signing_secret,
      created.signing_secret,
    ]);
    expect(await repository.signingSecretsFor(created.id, new Date(expiresAt))).toEqual([rotated.body.signing_secret]);
    const many = await repository.signingSecretsForMany([created.id, 999_999]);
    expect([...many.keys()]).toEqual([created.id]);

    const event = await streamer.waitForEvent(
      'StreamingSigningSecretRotated',
      (e) => destinationIdOf(e) === created.id,
    );
    expect(event.data).toMatchObject({
      destination_name: 'Rotate',
      previous_secret_expires_at: rotated.body.previous_secret_expires_at,
    });
    expect(
      streamer
        .published()
        .some(
          (p) =>
            p.raw.includes(created.signing_secret.slice(6)) || p.raw.includes(rotated.body.signing_secret.slice(6)),
        ),
    ).toBe(false);
    const listed = await http.get(`${base}/${created.id}`).set('Authorization', owner).expect(200);
    expect(JSON.stringify(listed.body)).not.toContain('whsec_');
    await http.post(`${base}/999999/signing_secret/rotate`).set('Authorization', owner).expect(404);
  });

  it('deactivates for the delivery side once, with the reason, and an owner re-activates', async () => {
    const created = await newDestination('Gone');
    const service = streamer.app.get(DestinationsService);
    await service.deactivate(created.id, 'the receiver answered 410 Gone');
    const count = await outboxCount(streamer);
    await service.deactivate(created.id, 'again');
    await service.deactivate(999_999, 'no such destination');
    expect(await outboxCount(streamer)).toBe(count);

    const read = await http.get(`${base}/${created.id}`).set('Authorization', owner).expect(200);
    expect(read.body).toMatchObject({
      active: false,
      deactivated_reason: 'the receiver answered 410 Gone',
      deactivated_at: expect.any(String),
    });
    const event = await streamer.waitForEvent(
      'StreamingDestinationDeactivated',
      (e) => destinationIdOf(e) === created.id,
    );
    expect(event).toMatchObject({
      actor: { id: 0, name: 'audit-streamer', ip_address: null },
      scope: { entity_type: 'Group', entity_id: 100, entity_path: 'acme' },
      data: { reason: 'the receiver answered 410 Gone', destination_name: 'Gone' },
    });

    const reactivated = await http
      .patch(`${base}/${created.id}`)
      .set('Authorization', owner)
      .send({ active: true })
      .expect(200);
    expect(reactivated.body).toMatchObject({ active: true, deactivated_at: null, deactivated_reason: null });
    const updated = await streamer.waitForEvent(
      'StreamingDestinationUpdated',
      (e) => destinationIdOf(e) === created.id,
    );
    expect(updated.data).toMatchObject({ changes: { active: { from: false, to: true } } });
  });
});
