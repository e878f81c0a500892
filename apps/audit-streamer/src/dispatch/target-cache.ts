import { Injectable } from '@nestjs/common';
import { SecretBox } from '../crypto/secret-box';
import { ClaimedDelivery, DispatchRepository } from './dispatch.repository';
import { buildWebhook, HeaderPair } from './webhook-request';

/** A destination ready to send to: secrets decrypted once, not per request. */
export interface ReadyTarget {
  id: number;
  url: string;
  build: (delivery: ClaimedDelivery, nowMs: number) => { headers: HeaderPair[]; body: string };
}

/** Bounds how long a rotated-out signing secret keeps signing after its grace period ends. */
const TTL_MS = 60_000;

/**
 * Destinations as the worker sends to them, secrets decrypted: at thousands of deliveries per
 * second, loading and decrypting per request would cost more than the request. An entry is used
 * only for the config_version it was loaded at (claims carry the current one, bumped by trigger on
 * every change to the destination or its headers), so a change applies to the very next delivery.
 */
@Injectable()
export class TargetCache {
  private readonly entries = new Map<
    number,
    { expires: number; version: number; target: Promise<ReadyTarget | null> }
  >();

  constructor(
    private readonly deliveries: DispatchRepository,
    private readonly secrets: SecretBox,
  ) {}

  get(destinationId: number, version: number): Promise<ReadyTarget | null> {
    const now = Date.now();
    const cached = this.entries.get(destinationId);
    if (cached && cached.expires > now && cached.version === version) return cached.target;
    const target = this.load(destinationId);
    this.entries.set(destinationId, { expires: now + TTL_MS, version, target });
    target.catch(() => this.entries.delete(destinationId));
    return target;
  }

  private async load(destinationId: number): Promise<ReadyTarget | null> {
    const row = (await this.deliveries.loadTargets([destinationId])).get(destinationId);
    if (!row) return null;
    const verificationToken = this.secrets.decrypt(row.verificationToken);
    const signingSecrets = [row.signingSecret, row.previousSigningSecret]
      .filter((s): s is string => s !== null)
      .map((s) => this.secrets.decrypt(s));
    const customHeaders = row.headers.map((h) => ({ key: h.key, value: this.secrets.decrypt(h.value) }));
    return {
      id: row.id,
      url: row.url,
      build: (delivery, nowMs) =>
        buildWebhook({
          auditEventId: delivery.auditEventId,
          eventType: delivery.eventType,
          payload: delivery.payload,
          verificationToken,
          signingSecrets,
          customHeaders,
          nowMs,
        }),
    };
  }
}
