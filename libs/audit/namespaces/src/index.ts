export * from './lib/namespaces.repository';
export * from './lib/namespaces.module';
