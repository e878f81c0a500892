import { AuthenticationError } from '../errors/domain-errors';
import { hasUnstorableCharacters } from '../http/request-hygiene';
import { SINGLE_LINE_TEXT } from '../http/validation';
import { isRole, Principal, Role, ROLES } from './principal';

/*
 * The claims of a platform token are input like any request field: they end up in audit events,
 * CSV cells, log lines and SQL parameters. Every claim is checked here, at the edge, so that a
 * token whose `name` holds a NUL cannot get as far as a write that fails half-way (an export served
 * without its audit event, a 500 from a write).
 */

/** What a token says about its bearer (the `exp` and `iat` of the JWT come on top). */
export interface TokenClaims {
  sub: string;
  name: string;
  admin?: boolean;
  auditor?: boolean;
  /** Full path of a group -> role on it (and on everything under it). */
  groups?: Readonly<Record<string, Role>>;
}

/** How long a token may live, and the clock to judge it by. */
export interface TokenLifetimePolicy {
  maxLifetimeS: number;
  nowS: number;
}

/** Far more groups than any user holds, few enough that a token stays a header. */
export const MAX_GROUP_CLAIMS = 1000;
/** Tolerated difference between the issuer's clock and ours. */
export const CLOCK_SKEW_S = 60;

const SUB = /^\d{1,15}$/;
// The path syntax of groups and projects (release-service), segment by segment.
const SEGMENT = '[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,254}';
const FULL_PATH = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);
/** Bidirectional overrides and isolates reorder how a name is displayed (U+202E "Trojan Source" spoofing). */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;

const refuse = (claim: string, message: string): never => {
  throw new AuthenticationError(`Invalid token claim ${claim}: ${message}`, [{ field: `token.${claim}`, message }]);
};

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255)
    return refuse('name', 'must be a string of 1 to 255 characters');
  if (hasUnstorableCharacters(name)) return refuse('name', 'must be valid Unicode without NUL characters');
  if (!SINGLE_LINE_TEXT.test(name) || BIDI_CONTROLS.test(name))
    return refuse('name', 'must be a single line without control or bidirectional formatting characters');
  return name;
}

/** The groups claim as a Map: Object.entries keeps an own `__proto__` key that JSON.parse created. */
function checkGroups(groups: unknown): Map<string, Role> {
  if (groups === undefined) return new Map();
  if (!isPlainObject(groups)) return refuse('groups', 'must be an object mapping full paths to roles');
  const entries = Object.entries(groups);
  if (entries.length > MAX_GROUP_CLAIMS) refuse('groups', `may name at most ${MAX_GROUP_CLAIMS} groups`);
  for (const [path, role] of entries) {
    if (path.length > 1024 || !FULL_PATH.test(path))
      refuse('groups', `${JSON.stringify(path.slice(0, 100))} is not a group's full path`);
    if (!isRole(role)) refuse('groups', `the role on ${path} must be one of ${ROLES.join(', ')}`);
  }
  return new Map(entries as Array<[string, Role]>);
}

function checkFlag(claim: 'admin' | 'auditor', value: unknown): boolean {
  if (value !== undefined && typeof value !== 'boolean') refuse(claim, 'must be true or false');
  return value === true;
}

/** The bearer's identity, or an AuthenticationError naming the first claim that is not acceptable. */
export function principalFromClaims(payload: unknown): Principal {
  if (!isPlainObject(payload)) return refuse('payload', 'must be a JSON object');
  if (typeof payload['sub'] !== 'string' || !SUB.test(payload['sub']))
    return refuse('sub', 'must be a user id (digits, as a string)');
  const name = checkName(payload['name']);
  const admin = checkFlag('admin', payload['admin']);
  const auditor = checkFlag('auditor', payload['auditor']);
  return new Principal(Number(payload['sub']), name, admin, auditor, checkGroups(payload['groups']));
}

/**
 * A token must expire, and not too late: a stolen token without `exp` was good forever. `exp` may be
 * at most the maximum lifetime ahead of now, and at most that long after `iat` when the token has one.
 */
export function checkLifetime(payload: Record<string, unknown>, { maxLifetimeS, nowS }: TokenLifetimePolicy): void {
  const { exp, iat } = payload;
  if (typeof exp !== 'number' || !Number.isInteger(exp)) refuse('exp', 'is required: a token must expire');
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat)))
    refuse('iat', 'must be a number of seconds');
  if (typeof iat === 'number' && iat > nowS + CLOCK_SKEW_S) refuse('iat', 'is in the future');
  if ((exp as number) - nowS > maxLifetimeS + CLOCK_SKEW_S)
    refuse('exp', `is more than ${maxLifetimeS} s ahead (AUTH_TOKEN_MAX_LIFETIME_S)`);
  if (typeof iat === 'number' && (exp as number) - iat > maxLifetimeS)
    refuse('exp', `is more than ${maxLifetimeS} s after iat (AUTH_TOKEN_MAX_LIFETIME_S)`);
}
