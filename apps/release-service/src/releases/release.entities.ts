import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Read model of releases, updated in the transaction that appends their events. */
@Entity({ tableName: 'releases' })
export class ReleaseEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'integer', fieldName: 'project_id' }) projectId: number;
  @Property({ type: 'text', fieldName: 'tag_name' }) tagName: string;
  @Property({ type: 'text' }) name: string;
  @Property({ type: 'text', nullable: true }) description: string | null;
  @Property({ type: 'json' }) milestones: string[];
  @Property({ type: 'integer' }) version: number;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt: Date;
  @Property({ type: 'datetime', fieldName: 'updated_at' }) updatedAt: Date;
  @Property({ type: 'datetime', fieldName: 'deleted_at', nullable: true }) deletedAt: Date | null = null;

  constructor(init: {
    id: number;
    projectId: number;
    tagName: string;
    name: string;
    description: string | null;
    milestones: string[];
    version: number;
    createdAt: Date;
  }) {
    this.id = init.id;
    this.projectId = init.projectId;
    this.tagName = init.tagName;
    this.name = init.name;
    this.description = init.description;
    this.milestones = init.milestones;
    this.version = init.version;
    this.createdAt = init.createdAt;
    this.updatedAt = init.createdAt;
  }
}

/** Read model of a release's asset links; a removed link's row is deleted, its events stay. */
@Entity({ tableName: 'release_links' })
export class ReleaseLinkEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'integer', fieldName: 'release_id' }) releaseId: number;
  @Property({ type: 'text' }) name: string;
  @Property({ type: 'text' }) url: string;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt: Date;

  constructor(init: { id: number; releaseId: number; name: string; url: string; createdAt: Date }) {
    this.id = init.id;
    this.releaseId = init.releaseId;
    this.name = init.name;
    this.url = init.url;
    this.createdAt = init.createdAt;
  }
}

/** Read model of collected release evidence. */
@Entity({ tableName: 'release_evidences' })
export class ReleaseEvidenceEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'integer', fieldName: 'release_id' }) releaseId: number;
  @Property({ type: 'text' }) sha: string;
  @Property({ type: 'datetime', fieldName: 'collected_at' }) collectedAt: Date;

  constructor(init: { id: number; releaseId: number; sha: string; collectedAt: Date }) {
    this.id = init.id;
    this.releaseId = init.releaseId;
    this.sha = init.sha;
    this.collectedAt = init.collectedAt;
  }
}
