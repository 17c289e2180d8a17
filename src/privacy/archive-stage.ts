import type { StageOutcome } from './erase';
import type { Subjects } from './regulation-store';

/**
 * The `archive` stage: erases the person's events from the R2 event archive. The archive lands
 * separately (src/archive/); until it is wired here the stage reports SKIPPED. The coordinator
 * replaces this body with the archive's own rewrite-without-the-person call.
 */
export async function eraseArchive(_env: Env, _subjects: Subjects): Promise<StageOutcome> {
  return { status: 'SKIPPED', total: 0, done: 0 };
}
