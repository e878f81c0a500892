import { z } from 'zod';

export const ROLES = ['guest', 'reporter', 'developer', 'maintainer', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export const roleRank = (role: Role): number => ROLES.indexOf(role);

/** The claims of a platform token (CONTRACTS.md, "Identity and permissions"). */
export const TokenClaimsSchema = z.object({
  sub: z.string().regex(/^\d{1,15}$/, 'must be a user id'),
  name: z.string().min(1).max(255),
  admin: z.boolean().optional(),
  auditor: z.boolean().optional(),
  groups: z.record(z.string().min(1).max(1024), z.enum(ROLES)).default({}),
});
export type TokenClaims = z.input<typeof TokenClaimsSchema>;

/** Ancestors of a full path, root first, the path itself last: a/b/c -> a, a/b, a/b/c. */
export const pathAndAncestors = (fullPath: string): string[] =>
  fullPath.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));

/** The authenticated caller. A role on a group holds for its subgroups and projects. */
export class Principal {
  constructor(
    readonly userId: number,
    readonly username: string,
    readonly admin: boolean,
    readonly auditor: boolean,
    private readonly groups: Readonly<Record<string, Role>>,
  ) {}

  static fromClaims(claims: z.output<typeof TokenClaimsSchema>): Principal {
    return new Principal(Number(claims.sub), claims.name, claims.admin === true, claims.auditor === true, claims.groups);
  }

  /** The highest role held on `fullPath` directly or through any ancestor group; null if none. */
  roleOn(fullPath: string): Role | null {
    let best: Role | null = null;
    for (const path of pathAndAncestors(fullPath)) {
      const role = this.groups[path];
      if (role && (best === null || roleRank(role) > roleRank(best))) best = role;
    }
    return best;
  }

  /** Admins hold every role everywhere. */
  hasRole(fullPath: string, minimum: Role): boolean {
    if (this.admin) return true;
    const role = this.roleOn(fullPath);
    return role !== null && roleRank(role) >= roleRank(minimum);
  }
}
