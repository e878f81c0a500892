import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Read model of a project's milestones. */
@Entity({ tableName: 'milestones' })
export class MilestoneEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'integer', fieldName: 'project_id' }) projectId: number;
  @Property({ type: 'text' }) title: string;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt: Date;

  constructor(init: { id: number; projectId: number; title: string; createdAt: Date }) {
    this.id = init.id;
    this.projectId = init.projectId;
    this.title = init.title;
    this.createdAt = init.createdAt;
  }
}

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
