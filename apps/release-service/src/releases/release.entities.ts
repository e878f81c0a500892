import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A release as the service answers with it (from the read model, or from the event that created it). */
export interface Release {
  id: number;
  projectId: number;
  tagName: string;
  name: string;
  description: string | null;
  milestones: string[];
  version: number;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

/** An asset link of a release. */
export interface ReleaseLink {
  id: number;
  releaseId: number;
  name: string;
  url: string;
  createdAt: Date;
}

/** A collected evidence of a release. */
export interface ReleaseEvidence {
  id: number;
  releaseId: number;
  sha: string;
  collectedAt: Date;
}

/** Read model of releases, updated in the statement that appends their events. */
@Entity({ tableName: 'releases' })
export class ReleaseEntity implements Release {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'integer', fieldName: 'project_id' }) projectId!: number;
  @Property({ type: 'text', fieldName: 'tag_name' }) tagName!: string;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text', nullable: true }) description!: string | null;
  @Property({ type: 'json' }) milestones!: string[];
  @Property({ type: 'integer' }) version!: number;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt!: Date;
  @Property({ type: 'datetime', fieldName: 'updated_at' }) updatedAt!: Date;
  @Property({ type: 'datetime', fieldName: 'deleted_at', nullable: true }) deletedAt: Date | null = null;
}

/** Read model of a release's asset links; a removed link's row is deleted, its events stay. */
@Entity({ tableName: 'release_links' })
export class ReleaseLinkEntity implements ReleaseLink {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'integer', fieldName: 'release_id' }) releaseId!: number;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text' }) url!: string;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt!: Date;
}

/** Read model of collected release evidence. */
@Entity({ tableName: 'release_evidences' })
export class ReleaseEvidenceEntity implements ReleaseEvidence {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'integer', fieldName: 'release_id' }) releaseId!: number;
  @Property({ type: 'text' }) sha!: string;
  @Property({ type: 'datetime', fieldName: 'collected_at' }) collectedAt!: Date;
}
