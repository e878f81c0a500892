export const ROLES = ['guest', 'reporter', 'developer', 'maintainer', 'owner'] as const;
export type Role = (typeof ROLES)[number];

export const roleRank = (role: Role): number => ROLES.indexOf(role);

const isRole = (value: unknown): value is Role =>
  typeof value === 'string' && (ROLES as readonly string[]).includes(value);

/** Ancestors of a full path, root first, the path itself last: a/b/c -> a, a/b, a/b/c. */
export const pathAndAncestors = (fullPath: string): string[] =>
  fullPath.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));

/**
 * The authenticated caller. A role on a group holds for its subgroups and projects.
 *
 * Roles live in a Map, never in a plain object: a group's path is chosen by users, and a plain
 * object keyed by `__proto__` (a valid path) silently loses that entry, so its owner lost the role.
 */
export class Principal {
  private readonly groups: ReadonlyMap<string, Role>;

  constructor(
    readonly userId: number,
    readonly username: string,
    readonly admin: boolean,
    readonly auditor: boolean,
    groups: ReadonlyMap<string, Role> | Readonly<Record<string, Role>>,
  ) {
    this.groups = groups instanceof Map ? groups : new Map(Object.entries(groups));
  }

  /** The highest role held on `fullPath` directly or through any ancestor group; null if none. */
  roleOn(fullPath: string): Role | null {
    let best: Role | null = null;
    for (const path of pathAndAncestors(fullPath)) {
      const role = this.groups.get(path);
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

  /** Whether the caller may know that `fullPath` exists at all: any role on it, or reading everything. */
  canSee(fullPath: string): boolean {
    return this.admin || this.auditor || this.roleOn(fullPath) !== null;
  }
}

export { isRole };
