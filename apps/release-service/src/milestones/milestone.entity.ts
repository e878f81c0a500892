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
