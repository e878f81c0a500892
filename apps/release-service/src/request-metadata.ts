import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, clientIp, correlationId, Principal } from '@audit/platform';
import type { CommandMetadata } from '@audit/contracts';
import type { ReleaseServiceConfig } from './config';

/** Injected clock: the domain never reads the system time itself. */
export const CLOCK = Symbol('CLOCK');
export type Clock = () => Date;

/**
 * Envelope metadata of a command: who (the token's `sub` and `name`), from which IP (with
 * X-Forwarded-For believed only from trusted proxies), when (the injected clock), and the
 * request's correlation id (X-Correlation-Id or a fresh one).
 */
@Injectable()
export class CommandMetadataFactory {
  constructor(
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: ReleaseServiceConfig,
  ) {}

  of(req: Request, principal: Principal): CommandMetadata {
    return {
      actor: { id: principal.userId, name: principal.username, ip_address: clientIp(req, this.config.TRUSTED_PROXIES) },
      correlationId: correlationId(req),
      now: this.clock(),
    };
  }
}
