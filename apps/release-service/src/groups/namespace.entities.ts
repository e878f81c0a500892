import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** Read model of groups: resolves ids and paths, answers "who owns what". */
@Entity({ tableName: 'groups' })
export class GroupEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'text' }) path: string;
  @Property({ type: 'text' }) name: string;
  @Property({ type: 'text', fieldName: 'full_path' }) fullPath: string;
  @Property({ type: 'integer', fieldName: 'parent_id', nullable: true }) parentId: number | null;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt: Date;

  constructor(init: {
    id: number;
    path: string;
    name: string;
    fullPath: string;
    parentId: number | null;
    createdAt: Date;
  }) {
    this.id = init.id;
    this.path = init.path;
    this.name = init.name;
    this.fullPath = init.fullPath;
    this.parentId = init.parentId;
    this.createdAt = init.createdAt;
  }
}

/** Read model of projects. */
@Entity({ tableName: 'projects' })
export class ProjectEntity {
  @PrimaryKey({ type: 'integer', autoincrement: false }) id: number;
  @Property({ type: 'text' }) path: string;
  @Property({ type: 'text' }) name: string;
  @Property({ type: 'text', fieldName: 'full_path' }) fullPath: string;
  @Property({ type: 'integer', fieldName: 'namespace_id' }) namespaceId: number;
  @Property({ type: 'datetime', fieldName: 'created_at' }) createdAt: Date;

  constructor(init: {
    id: number;
    path: string;
    name: string;
    fullPath: string;
    namespaceId: number;
    createdAt: Date;
  }) {
    this.id = init.id;
    this.path = init.path;
    this.name = init.name;
    this.fullPath = init.fullPath;
    this.namespaceId = init.namespaceId;
    this.createdAt = init.createdAt;
  }
}
