import type { Request } from 'express';
import { clientIp, correlationId, Principal } from '@audit/platform';
import type { CommandMetadata } from '../event-store/envelope';
import type { ReleaseServiceConfig } from './config';

/** Injected clock: the domain never reads the system time itself. */
export const CLOCK = Symbol('CLOCK');
export type Clock = () => Date;

/** Envelope metadata of a command: who, from which IP, when, and the request's correlation id. */
export const commandMetadata = (req: Request, principal: Principal, clock: Clock, config: ReleaseServiceConfig): CommandMetadata => ({
  actor: { id: principal.userId, name: principal.username, ip_address: clientIp(req, config.TRUSTED_PROXIES) },
  correlationId: correlationId(req),
  now: clock(),
});
