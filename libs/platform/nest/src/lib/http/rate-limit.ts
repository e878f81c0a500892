import { Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Principal } from '../auth/principal';
import { APP_CONFIG, LoadedConfig } from '../config/config';
import { TooManyRequestsError } from '../errors/domain-errors';

/**
 * Requests per user per minute, counted in this instance's memory (rate-limiter-flexible: a fixed
 * window per key, expired keys dropped). Every answer to an authenticated request says where the
 * caller stands, in the RateLimit-Limit / -Remaining / -Reset headers GitLab's API sends (IETF
 * draft-ietf-httpapi-ratelimit-headers, seconds until the window resets); beyond the limit, a 429
 * problem with Retry-After.
 */
@Injectable()
export class RequestRateLimiter {
  private readonly limit: number;
  private readonly limiter: RateLimiterMemory;

  constructor(@Inject(APP_CONFIG) config: Pick<LoadedConfig, 'RATE_LIMIT_PER_MINUTE'>) {
    this.limit = config.RATE_LIMIT_PER_MINUTE;
    this.limiter = new RateLimiterMemory({ points: this.limit, duration: 60 });
  }

  /** Counts one request of `principal`, or throws TooManyRequestsError when the minute's budget is spent. */
  async take(principal: Principal, res: Pick<Response, 'setHeader'>): Promise<void> {
    let state: RateLimiterRes;
    let allowed = true;
    try {
      state = await this.limiter.consume(`user:${principal.userId}`);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      state = rejection;
      allowed = false;
    }
    const resetS = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    res.setHeader('RateLimit-Limit', String(this.limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, state.remainingPoints)));
    res.setHeader('RateLimit-Reset', String(resetS));
    if (!allowed)
      throw new TooManyRequestsError(
        `Rate limit of ${this.limit} requests per minute reached; try again in ${resetS} s`,
        resetS,
      );
  }
}
