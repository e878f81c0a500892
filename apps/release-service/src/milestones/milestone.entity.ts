import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A milestone as the service answers with it. */
export interface Milestone {
  id: number;
  projectId: number;
  title: string;
  createdAt: Date;
}

/** Read model of a project's milestones. */
@Entity({ tableName: 'milestones' })
export class MilestoneEntity implements Milestone {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'integer', fieldName: 'project_id' }) projectId!: number;
  @Property({ type: 'text' }) title!: string;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt!: Date;
}
