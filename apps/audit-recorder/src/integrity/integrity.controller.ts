import { Controller, Get, Header, Inject, Query, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { VerificationResult } from '@audit/audit-chain';
import {
  APP_CONFIG,
  ApiZodQuery,
  CurrentPrincipal,
  INSTANT_MESSAGE,
  isoInstant,
  linkNext,
  parseInput,
  PermissionDeniedError,
  Principal,
  Req,
  ValidationError,
} from '@audit/platform';
import { z } from 'zod';
import type { AuditRecorderConfig } from '../config';
import { IntegrityRepository, StoredCheckpoint } from './integrity.repository';
import { VerificationService } from './verification.service';

const ONCE = { invalid_type_error: 'must be given once' };
const instant = isoInstant(INSTANT_MESSAGE, ONCE);

const WindowShape = {
  created_after: instant.describe('At or after this instant: ISO 8601 date or date-time with offset').optional(),
  created_before: instant.describe('At or before this instant: ISO 8601 date or date-time with offset').optional(),
};
export const VerifyQuerySchema = z.object(WindowShape).strict();
export const CheckpointsQuerySchema = z
  .object({
    ...WindowShape,
    after_sequence: z
      .string(ONCE)
      .regex(/^(0|[1-9]\d{0,14})$/, 'must be a non-negative integer')
      .transform(Number)
      .describe('Checkpoints after this sequence number (the last one of the previous page)')
      .optional(),
    per_page: z
      .string(ONCE)
      .regex(/^(?:1000|[1-9]\d{0,2})$/, 'must be an integer between 1 and 1000')
      .default('100')
      .transform(Number)
      .describe('Checkpoints per page, 1 to 1000'),
  })
  .strict();

function window<T extends { created_after?: string; created_before?: string }>(query: T): T {
  if (query.created_after && query.created_before && query.created_after > query.created_before) {
    throw new ValidationError('Invalid query: created_after must not be later than created_before', [
      { field: 'created_after', message: 'must not be later than created_before' },
    ]);
  }
  return query;
}

/** The served checkpoint list: the key that verifies them and one page of them, oldest first. */
export interface CheckpointList {
  key_id: string;
  public_key: string;
  checkpoints: StoredCheckpoint[];
}

/**
 * The integrity routes (docs/contracts.md, "Integrity"): the signed checkpoints with the public key, and online
 * verification. Instance-wide, so administrators and auditors only. Registered before the audit event routes:
 * `audit_events/verify` must not be taken for an event id.
 */
@ApiTags('audit events')
@Controller('api/v4/audit_events')
export class IntegrityController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
    private readonly integrity: IntegrityRepository,
    private readonly verification: VerificationService,
  ) {}

  @Get('checkpoints')
  @ApiZodQuery(CheckpointsQuerySchema)
  async checkpoints(
    @Query() raw: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CheckpointList> {
    allowed(principal);
    const query = window(parseInput(CheckpointsQuerySchema, raw, 'query'));
    const key = this.config.signingKey;
    // One more than the page, to know whether a next page exists: its URL is in Link rel="next", as for the lists.
    const checkpoints = await this.integrity.checkpoints({
      afterSequence: query.after_sequence,
      limit: query.per_page + 1,
      createdAfter: query.created_after,
      createdBefore: query.created_before,
    });
    if (checkpoints.length > query.per_page) {
      checkpoints.length = query.per_page;
      linkNext(req, res, {
        after_sequence: String(checkpoints[checkpoints.length - 1].sequence),
        per_page: String(query.per_page),
      });
    }
    return { key_id: key.keyId, public_key: key.publicKeyPem, checkpoints };
  }

  /** The public key alone (PEM), as `npm run audit:verify -- --public-key` takes it. */
  @Get('public_key.pem')
  @Header('content-type', 'application/x-pem-file')
  publicKey(@CurrentPrincipal() principal: Principal): string {
    allowed(principal);
    return this.config.signingKey.publicKeyPem;
  }

  @Get('verify')
  @ApiZodQuery(VerifyQuerySchema)
  async verify(@Query() raw: unknown, @CurrentPrincipal() principal: Principal): Promise<VerificationResult> {
    allowed(principal);
    const query = window(parseInput(VerifyQuerySchema, raw, 'query'));
    return this.verification.verify({ createdAfter: query.created_after, createdBefore: query.created_before });
  }
}

function allowed(principal: Principal): void {
  if (!principal.admin && !principal.auditor) {
    throw new PermissionDeniedError('Only administrators and auditors may read checkpoints and verify the audit log');
  }
}
