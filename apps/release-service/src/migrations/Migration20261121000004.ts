import { Migration } from '@mikro-orm/migrations';

/** Release ids are allocated in blocks of 20 (see IdAllocator): the create path skips a round trip. */
export class Migration20261121000004 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter sequence release_ids increment by 20;');
  }
}
