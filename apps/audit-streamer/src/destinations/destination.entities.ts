import {
  ArrayType,
  BigIntType,
  Collection,
  Entity,
  ManyToOne,
  OneToMany,
  OptionalProps,
  PrimaryKey,
  Property,
} from '@mikro-orm/core';

/*
 * The management tables of the streamer as MikroORM entities, for their plain CRUD (create, change,
 * delete through `em`). `config_version` is not mapped: a trigger bumps it on every change of a
 * destination or its headers (Migration20261121000030). The delivery paths (fan-out, claims, target
 * loading) read these tables with statements of their own.
 */

/** A streaming destination; secrets encrypted (SecretBox). `groupId` null: an instance-level destination. */
@Entity({ tableName: 'destinations' })
export class DestinationEntity {
  [OptionalProps]?:
    | 'active'
    | 'previousSigningSecret'
    | 'previousSigningSecretExpiresAt'
    | 'deactivatedAt'
    | 'deactivatedReason'
    | 'createdAt'
    | 'updatedAt';
  @PrimaryKey({ type: new BigIntType('number') }) id!: number;
  @Property({ type: new BigIntType('number'), fieldName: 'group_id', nullable: true }) groupId!: number | null;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text', fieldName: 'destination_url' }) url!: string;
  @Property({ type: 'text', fieldName: 'verification_token' }) verificationToken!: string;
  @Property({ type: 'text', fieldName: 'signing_secret' }) signingSecret!: string;
  @Property({ type: 'text', fieldName: 'previous_signing_secret', nullable: true })
  previousSigningSecret: string | null = null;
  @Property({ type: 'datetime', fieldName: 'previous_signing_secret_expires_at', nullable: true })
  previousSigningSecretExpiresAt: Date | null = null;
  @Property({ type: ArrayType, columnType: 'text[]', fieldName: 'event_type_filters' }) eventTypeFilters!: string[];
  @Property({ type: 'boolean', default: true }) active: boolean = true;
  @Property({ type: 'datetime', fieldName: 'deactivated_at', nullable: true }) deactivatedAt: Date | null = null;
  @Property({ type: 'text', fieldName: 'deactivated_reason', nullable: true }) deactivatedReason: string | null = null;
  @Property({ type: 'datetime', fieldName: 'created_at', defaultRaw: 'now()' }) createdAt!: Date;
  @Property({ type: 'datetime', fieldName: 'updated_at', defaultRaw: 'now()' }) updatedAt!: Date;
  @OneToMany(() => DestinationHeaderEntity, (header) => header.destination, { orderBy: { id: 'asc' } })
  headers = new Collection<DestinationHeaderEntity>(this);
}

/** A custom header of a destination; the value encrypted. Keys are unique per destination, case-insensitively. */
@Entity({ tableName: 'destination_headers' })
export class DestinationHeaderEntity {
  [OptionalProps]?: 'createdAt' | 'updatedAt';
  @PrimaryKey({ type: new BigIntType('number') }) id!: number;
  @ManyToOne(() => DestinationEntity, { fieldName: 'destination_id' }) destination!: DestinationEntity;
  @Property({ type: 'text' }) key!: string;
  @Property({ type: 'text' }) value!: string;
  @Property({ type: 'datetime', fieldName: 'created_at', defaultRaw: 'now()' }) createdAt!: Date;
  @Property({ type: 'datetime', fieldName: 'updated_at', defaultRaw: 'now()' }) updatedAt!: Date;
}

/** The entities of this service, registered with the ORM by AppModule. */
export const STREAMER_ENTITIES = [DestinationEntity, DestinationHeaderEntity];
