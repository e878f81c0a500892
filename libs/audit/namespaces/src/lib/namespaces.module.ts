import { Module } from '@nestjs/common';
import { NamespacesRepository } from './namespaces.repository';

@Module({ providers: [NamespacesRepository], exports: [NamespacesRepository] })
export class NamespacesModule {}
