import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A group as the service answers with it. */
export interface Group {
  id: number;
  path: string;
  name: string;
  fullPath: string;
  parentId: number | null;
  createdAt: Date;
}

/** A project as the service answers with it. */
export interface Project {
  id: number;
  path: string;
  name: string;
  fullPath: string;
  namespaceId: number;
  createdAt: Date;
}

/** Read model of groups: resolves ids and paths, answers "who owns what". Written by the group commands' projection. */
@Entity({ tableName: 'groups' })
export class GroupEntity implements Group {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'text' }) path!: string;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text', fieldName: 'full_path' }) fullPath!: string;
  @Property({ type: 'integer', fieldName: 'parent_id', nullable: true }) parentId!: number | null;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt!: Date;
}

/** Read model of projects. */
@Entity({ tableName: 'projects' })
export class ProjectEntity implements Project {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id!: number;
  @Property({ type: 'text' }) path!: string;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text', fieldName: 'full_path' }) fullPath!: string;
  @Property({ type: 'integer', fieldName: 'namespace_id' }) namespaceId!: number;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt!: Date;
}
