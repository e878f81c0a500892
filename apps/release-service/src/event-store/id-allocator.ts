import { Injectable } from '@nestjs/common';
import { WriteDatabase } from './write-database';

export type IdSequence = 'group_ids' | 'project_ids' | 'milestone_ids' | 'release_ids' | 'link_ids' | 'evidence_ids';

/**
 * Sequence increments (migration Migration20261121000004): `release_ids` hands out blocks so the
 * hot create path needs no `nextval` round trip; ids stay unique across instances, with gaps.
 */
const BLOCK: Record<IdSequence, number> = {
  group_ids: 1,
  project_ids: 1,
  milestone_ids: 1,
  release_ids: 20,
  link_ids: 1,
  evidence_ids: 1,
};

/** Ids for new streams, taken before the command is decided (they go into its events). */
@Injectable()
export class IdAllocator {
  private readonly blocks = new Map<IdSequence, { next: number; end: number }>();
  private readonly refills = new Map<IdSequence, Promise<void>>();

  constructor(private readonly db: WriteDatabase) {}

  async next(sequence: IdSequence): Promise<number> {
    for (;;) {
      const block = this.blocks.get(sequence);
      if (block && block.next < block.end) return block.next++;
      await this.refill(sequence);
    }
  }

  /** One refill at a time per sequence; concurrent callers wait for it instead of each taking a block. */
  private refill(sequence: IdSequence): Promise<void> {
    let pending = this.refills.get(sequence);
    if (!pending) {
      pending = this.db.autocommit
        .query<{ id: string }>(`select nextval('${sequence}') as id`)
        .then(
          ([row]) => void this.blocks.set(sequence, { next: Number(row.id), end: Number(row.id) + BLOCK[sequence] }),
        )
        .finally(() => this.refills.delete(sequence));
      this.refills.set(sequence, pending);
    }
    return pending;
  }
}
