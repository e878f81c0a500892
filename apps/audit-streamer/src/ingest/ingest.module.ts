import { NamespacesModule } from '@audit/namespaces';
import { Module } from '@nestjs/common';
import { DispatchModule } from '../dispatch/dispatch.module';
import { IngestRepository } from './ingest.repository';
import { StreamingConsumer } from './streaming-consumer';

/**
 * Kafka → deliveries: the namespaces read model and one delivery per streamed audit event and
 * matching destination, handed to this process's worker (DispatchModule) as they are inserted.
 */
@Module({
  imports: [NamespacesModule, DispatchModule],
  controllers: [StreamingConsumer],
  providers: [IngestRepository],
})
export class IngestModule {}
