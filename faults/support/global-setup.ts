import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { resetRows } from './report';

/** A fresh results table per run; the services must have been built (scripts/test-faults.sh does it). */
export default function globalSetup(): void {
  resetRows(`${Date.now().toString(36)}-${process.pid}`);
  const main = join(__dirname, '..', '..', 'dist', 'apps', 'release-service', 'src', 'main.js');
  if (!existsSync(main))
    throw new Error(
      `${main} is missing: run the suite with \`npm run test:faults\` (it builds), or \`npm run build\` first`,
    );
}
