import { APP_CONFIG, ValidationError } from '@audit/platform';
import { Inject, Injectable } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { AuditStreamerConfig } from '../config';
import { AllowList, checkUrlShape, firstBlockedAddress, parseAllowList } from './url-policy';

const FIELD = 'destination_url';

/** The SSRF check at creation: URL shape, then every address the host resolves to. */
@Injectable()
export class DestinationUrlCheck {
  private readonly allow: AllowList;
  private readonly allowHttp: boolean;

  constructor(@Inject(APP_CONFIG) config: AuditStreamerConfig) {
    this.allow = parseAllowList(config.STREAMING_ALLOWED_HOSTS);
    this.allowHttp = config.STREAMING_ALLOW_HTTP;
  }

  /** Returns the normalised URL to store; throws ValidationError on `destination_url`. */
  async check(raw: string): Promise<string> {
    const shape = checkUrlShape(raw, this.allowHttp);
    if (!shape.ok) throw refusal(shape.message);
    const addresses = shape.isIp ? [shape.host] : await this.resolve(shape.host);
    if (firstBlockedAddress(shape.host, addresses, this.allow) !== undefined) {
      throw refusal(
        'is blocked: requests to loopback, private, link-local or other internal addresses are not allowed',
      );
    }
    return shape.url.toString();
  }

  private async resolve(host: string): Promise<string[]> {
    try {
      const results = await lookup(host, { all: true, verbatim: true });
      if (results.length === 0) throw new Error('no addresses');
      return results.map((r) => r.address);
    } catch {
      throw refusal(`host ${host} could not be resolved`);
    }
  }
}

const refusal = (message: string) => new ValidationError(`${FIELD} ${message}`, [{ field: FIELD, message }]);
