import { Module } from '@nestjs/common';
import { DestinationsModule } from '../destinations/destinations.module';
import { NamespacesModule } from '@audit/namespaces';
import { GraphqlController } from './graphql.controller';
import { StreamingGraphqlService } from './streaming-graphql.service';

/** The GraphQL API of streaming destinations (the documented operations), over the REST side's services. */
@Module({
  imports: [DestinationsModule, NamespacesModule],
  controllers: [GraphqlController],
  providers: [StreamingGraphqlService],
})
export class StreamingGraphqlModule {}
