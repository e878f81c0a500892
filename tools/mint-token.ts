/**
 * Mints a development token: npm run token -- --user 1 --name alice [--admin] [--auditor]
 *   [--group example-group=owner ...] [--secret S] [--expires 12h]
 * Uses AUTH_JWT_SECRET, or the services' built-in development secret when it is unset.
 */
import { DEVELOPMENT_JWT_SECRET, ROLES, Role, signToken } from '@audit/platform';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    user: { type: 'string', default: '1' },
    name: { type: 'string', default: 'alice' },
    admin: { type: 'boolean', default: false },
    auditor: { type: 'boolean', default: false },
    group: { type: 'string', multiple: true, default: [] },
    secret: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});

const groups: Record<string, Role> = {};
for (const entry of values.group ?? []) {
  const [path, role] = entry.split('=');
  if (!path || !ROLES.includes(role as Role)) {
    process.stderr.write(`--group must be <full path>=<${ROLES.join('|')}>, got "${entry}"\n`);
    process.exit(2);
  }
  groups[path] = role as Role;
}
const secret = values.secret ?? process.env['AUTH_JWT_SECRET'] ?? DEVELOPMENT_JWT_SECRET;
const token = signToken(
  {
    sub: values.user ?? '1',
    name: values.name ?? 'alice',
    ...(values.admin ? { admin: true } : {}),
    ...(values.auditor ? { auditor: true } : {}),
    groups,
  },
  secret,
  (values.expires ?? '12h') as '12h',
);
process.stdout.write(`${token}\n`);
